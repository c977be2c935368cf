"""The GPU policies: who gets which GPU, releases, a hub restart, exclusive exhaustion, spread balance."""
import json
import os
import stat

import pytest

from hub.gpu_policy import (
    GPU_VARIABLES,
    STATE_FILENAME,
    GpuAllocator,
    GpuAssignment,
    GpuPolicyError,
    gpu_environment,
    machine_gpus,
    parse_gpu_list,
    server_key,
    write_atomic,
)


@pytest.fixture
def state(tmp_path):
    return tmp_path / "hub" / STATE_FILENAME


def test_none_gives_nobody_a_gpu_and_hides_the_cards(state):
    alloc = GpuAllocator("none", ("0", "1"), state)
    got = alloc.assign("alice")
    assert got.cpu_only and got.devices == () and got.notice is None
    assert got.visible_devices == "void"
    assert not state.exists()  # nothing to remember


def test_shared_gives_everyone_every_listed_gpu(state):
    alloc = GpuAllocator("shared", ("1", "0"), state)
    for user in ("alice", "bob", "carol"):
        got = alloc.assign(user)
        assert got.devices == ("0", "1") and not got.cpu_only
        assert got.visible_devices == "0,1"
    assert not state.exists()


def test_shared_without_ids_means_all_gpus_on_the_host():
    got = GpuAllocator("shared", ()).assign("alice")
    assert got.all_gpus and not got.cpu_only and got.visible_devices == "all"


def test_spread_balances_least_loaded_first_ties_to_lowest_id(state):
    alloc = GpuAllocator("spread", ("2", "0", "1"), state)
    got = [alloc.assign(f"s{i}").devices[0] for i in range(7)]
    assert got == ["0", "1", "2", "0", "1", "2", "0"]
    assert alloc.load() == {"0": 3, "1": 2, "2": 2}
    # a release makes that GPU the least loaded one: the next student goes there
    alloc.release("s1")  # held GPU 1
    assert alloc.load() == {"0": 3, "1": 1, "2": 2}
    assert alloc.assign("late").devices == ("1",)


def test_spread_numeric_order_not_text_order(state):
    alloc = GpuAllocator("spread", ("10", "9"), state)
    assert alloc.assign("a").devices == ("9",)
    assert alloc.assign("b").devices == ("10",)


def test_assign_is_idempotent_for_a_server_that_holds_a_gpu(state):
    alloc = GpuAllocator("spread", ("0", "1"), state)
    first = alloc.assign("alice")
    assert alloc.assign("alice") == first
    assert alloc.load() == {"0": 1, "1": 0}


def test_exclusive_one_server_per_gpu_then_cpu_only_with_a_notice(state):
    alloc = GpuAllocator("exclusive", ("0", "1"), state)
    assert alloc.assign("alice").devices == ("0",)
    assert alloc.assign("bob").devices == ("1",)
    third = alloc.assign("carol")
    assert third.cpu_only and third.devices == ()
    assert third.visible_devices == "void"
    assert "All 2 GPUs are in use" in third.notice and "CPU only" in third.notice
    assert "carol" not in alloc.assignments  # a CPU-only server holds nothing
    # when bob stops, carol's next start gets his GPU
    assert alloc.release("bob") is True
    assert alloc.assign("carol").devices == ("1",)
    assert alloc.assign("dave").cpu_only


def test_exclusive_single_gpu_notice_wording():
    alloc = GpuAllocator("exclusive", ("0",))
    alloc.assign("a")
    notice = alloc.assign("b").notice
    assert notice.startswith("The only GPU is in use by another student, so this server runs on CPU only.")
    assert "Stop My Server" in notice


def test_release_of_unknown_server_is_harmless(state):
    alloc = GpuAllocator("spread", ("0",), state)
    assert alloc.release("nobody") is False
    assert not state.exists()


def test_restart_keeps_assignments(state):
    before = GpuAllocator("exclusive", ("0", "1"), state)
    before.assign("alice")
    before.assign("bob")
    data = json.loads(state.read_text())
    assert data["assignments"] == {"alice": "0", "bob": "1"} and data["policy"] == "exclusive"
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600

    after = GpuAllocator("exclusive", ("0", "1"), state)  # the hub restarted
    assert after.assignments == {"alice": "0", "bob": "1"}
    assert after.assign("carol").cpu_only
    assert after.assign("alice").devices == ("0",)  # still hers


def test_reconcile_after_restart_drops_servers_that_stopped_meanwhile(state):
    before = GpuAllocator("exclusive", ("0", "1"), state)
    before.assign("alice")
    before.assign("bob")
    after = GpuAllocator("exclusive", ("0", "1"), state)
    assert after.reconcile({"bob", "someone-without-gpu"}) == ["alice"]
    assert after.assignments == {"bob": "1"}
    assert GpuAllocator("exclusive", ("0", "1"), state).assignments == {"bob": "1"}  # written through
    assert after.assign("carol").devices == ("0",)
    assert after.reconcile({"bob", "carol"}) == []


def test_named_servers_are_separate_keys(state):
    alloc = GpuAllocator("exclusive", ("0", "1"), state)
    assert server_key("alice") == "alice" and server_key("alice", "big") == "alice/big"
    alloc.assign(server_key("alice"))
    alloc.assign(server_key("alice", "big"))
    assert alloc.assignments == {"alice": "0", "alice/big": "1"}


def test_a_gpu_dropped_from_the_settings_is_not_handed_out_again(state):
    GpuAllocator("spread", ("0", "1"), state).assign("alice")  # alice on 0
    GpuAllocator("spread", ("0", "1"), state).assign("bob")    # bob on 1
    alloc = GpuAllocator("spread", ("0",), state)              # GPU 1 removed from COURSE_GPU_IDS
    assert alloc.assign("bob").devices == ("0",)
    assert alloc.load() == {"0": 2}


@pytest.mark.parametrize("policy, ids, message", [
    ("spread", (), "COURSE_GPU_POLICY=spread needs COURSE_GPU_IDS"),
    ("exclusive", (), "COURSE_GPU_POLICY=exclusive needs COURSE_GPU_IDS"),
    ("round-robin", ("0",), "use one of none, shared, spread, exclusive"),
    ("spread", ("0", "0"), "lists a GPU twice"),
])
def test_bad_settings_are_one_clear_line(policy, ids, message):
    with pytest.raises(GpuPolicyError) as err:
        GpuAllocator(policy, ids)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content", ["{not json", '{"assignments": ["0"]}', '{"assignments": {"a": 1}}', "[]"])
def test_unreadable_state_file_says_what_to_do(state, content):
    state.parent.mkdir(parents=True)
    state.write_text(content)
    with pytest.raises(GpuPolicyError, match="delete it and start the hub again"):
        GpuAllocator("spread", ("0",), state)


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "f.json"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_environment_for_one_gpu_with_a_cap():
    env = gpu_environment(GpuAssignment("spread", devices=("1",)), memory_limit_mb=4096)
    assert env == {
        "NVIDIA_VISIBLE_DEVICES": "1", "COURSE_GPU_POLICY": "spread", "COURSE_GPU_MEMORY_GROWTH": "1",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true", "COURSE_GPU_MEMORY_LIMIT_MB": "4096",
    }  # in a container the one GPU it was given is GPU 0: CUDA_VISIBLE_DEVICES=1 would hide it


def test_local_environment_names_exactly_the_assigned_ids_for_cuda():
    env = gpu_environment(GpuAssignment("spread", devices=("1",)), memory_limit_mb=4096, host_gpus=("0", "1"))
    assert env == {
        "NVIDIA_VISIBLE_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "1", "COURSE_GPU_POLICY": "spread",
        "COURSE_GPU_MEMORY_GROWTH": "1", "TF_FORCE_GPU_ALLOW_GROWTH": "true", "COURSE_GPU_MEMORY_LIMIT_MB": "4096",
    }
    shared = gpu_environment(GpuAssignment("shared", all_gpus=True), host_gpus=("1", "0", "10"))
    assert shared["CUDA_VISIBLE_DEVICES"] == "0,1,10" == shared["NVIDIA_VISIBLE_DEVICES"]
    none_here = gpu_environment(GpuAssignment("shared", all_gpus=True), memory_limit_mb=4096, host_gpus=())
    assert none_here == {"NVIDIA_VISIBLE_DEVICES": "void", "CUDA_VISIBLE_DEVICES": "", "COURSE_GPU_POLICY": "shared"}
    assert gpu_environment(GpuAssignment("none"), host_gpus=("0",)) == {
        "NVIDIA_VISIBLE_DEVICES": "void", "CUDA_VISIBLE_DEVICES": "", "COURSE_GPU_POLICY": "none"}


def test_every_variable_an_assignment_sets_is_listed_for_clearing():
    cases = [GpuAssignment("spread", devices=("1",)), GpuAssignment("shared", all_gpus=True),
             GpuAssignment("exclusive", notice="taken")]
    for host in (None, ("0", "1")):
        for assignment in cases:
            assert set(gpu_environment(assignment, 100, host_gpus=host)) <= set(GPU_VARIABLES)
    assert "COURSE_GPU_POLICY" in GPU_VARIABLES and "CUDA_VISIBLE_DEVICES" in GPU_VARIABLES


NVIDIA_SMI_L = """\
GPU 0: NVIDIA H200 (UUID: GPU-0b7e6f1a-0000-0000-0000-000000000000)
GPU 1: NVIDIA H200 (UUID: GPU-0b7e6f1a-0000-0000-0000-000000000001)
  MIG 1g.18gb     Device  0: (UUID: MIG-5c4d0a4e-0000-0000-0000-000000000000)
GPU 10: NVIDIA H200 (UUID: GPU-0b7e6f1a-0000-0000-0000-000000000010)
"""


def test_the_machines_gpus_are_what_nvidia_smi_lists(tmp_path, monkeypatch):
    assert parse_gpu_list(NVIDIA_SMI_L) == ("0", "1", "10")
    assert parse_gpu_list("No devices were found\n") == ()
    fake = tmp_path / "bin" / "nvidia-smi"  # a stand-in driver tool, as the live tests give the hub
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = -L ] || exit 2\ncat <<'EOF'\n{NVIDIA_SMI_L}EOF\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert machine_gpus() == ("0", "1", "10")
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the driver'\n"
                    "exit 9\n")
    assert machine_gpus() == ()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert machine_gpus() == ()  # no driver installed


def test_environment_for_cpu_only_hides_every_gpu_and_carries_the_notice():
    env = gpu_environment(GpuAssignment("exclusive", notice="All 2 GPUs are in use"), memory_limit_mb=4096)
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["COURSE_GPU_NOTICE"] == "All 2 GPUs are in use"
    assert "COURSE_GPU_MEMORY_GROWTH" not in env and "COURSE_GPU_MEMORY_LIMIT_MB" not in env


def test_environment_for_shared_all_gpus_without_cap():
    env = gpu_environment(GpuAssignment("shared", all_gpus=True))
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all" and env["COURSE_GPU_MEMORY_GROWTH"] == "1"
    assert "COURSE_GPU_MEMORY_LIMIT_MB" not in env and "CUDA_VISIBLE_DEVICES" not in env
    assert env["COURSE_GPU_POLICY"] == "shared"
