"""The kernel start-up file (singleuser/kernel_startup.py): a quiet native stderr, and the kernel side of memory limits.

The filter and the cgroup reading are tested on their own (pipes, a fake cgroup tree under tmp_path), then in
real kernels started the way the hub starts them: the hub's own environment for a student's server, with
PYTHONSTARTUP pointing at the start-up file, and ipykernel capturing file descriptors 1 and 2 as it does under
the hub (it does not under pytest, so PYTEST_CURRENT_TEST is left out of the kernel's environment). The notice
is also followed through a real Jupyter Server with the student's configuration (singleuser/kernel_restarts.py):
a kernel killed in the middle of a cell, restarted by its server, tells the student on its first cell.
"""
from __future__ import annotations

import json
import os
import re
import runpy
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import singleuser

ROOT = Path(__file__).resolve().parents[1]
STARTUP = runpy.run_path(str(singleuser.KERNEL_STARTUP), run_name="kernel_startup")  # its functions, not run
Filter = STARTUP["_CourseStderrFilter"]
GIB = 2 ** 30

# What the first `import tensorflow` and the first device query (TensorFlow 2.21, a CPU-only server) write to
# file descriptor 2, exactly as recorded in a kernel here.
RECORDED = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796165203.922449    7037 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
    b"will not be used.\n"
    b"I0000 00:00:1796165204.020304    7037 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    b"available CPU instructions in performance-critical operations.\n"
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    b"compiler flags.\n"
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796165209.367786    7037 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
    b"will not be used.\n"
    b"E0000 00:00:1796165211.668838    7037 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    b"Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
# Real errors written the same way: they must all go through, byte for byte.
REAL = (
    b"W0000 00:00:1796165305.991245    7268 op_kernel.cc:1858] OP_REQUIRES failed at whole_file_read_ops.cc:117 : "
    b"NOT_FOUND: /nonexistent; No such file or directory\n"
    b"E0000 00:00:1796165306.1 42 some_kernel.cc:7] real failure\n"
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    b"compiler flags.\n"  # dropped only right after the cpu_feature_guard line it belongs to
    b"F0000 00:00:1.0 1 check.cc:1] Check failed: x == y\n"
)
HARMLESS_WORDS = ("absl::InitializeLog", "cudart_stub", "cpu_feature_guard", "To enable the following instructions",
                  "cuInit")


def rules(gpu=False):
    return STARTUP["_course_harmless_rules"](gpu_expected=lambda: gpu)


def run_filter(chunks, gpu=False):
    f = Filter(rules(gpu))
    return b"".join(f.feed(chunk) for chunk in chunks) + f.release(), f


# --- the filter on its own ---------------------------------------------------------------------------------


def mixed(tail=b""):
    """The recorded lines with the real errors among them (after the cpu_feature_guard pair)."""
    lines = RECORDED.splitlines(keepends=True)
    return b"".join(lines[:4]) + REAL + b"".join(lines[4:]) + tail


def test_the_recorded_start_up_lines_are_dropped_and_real_errors_pass_unchanged():
    stream = mixed()
    out, f = run_filter([stream[:200], stream[200:]])
    assert out == REAL
    assert f.dropped == {"absl-before-init": 2, "cudart-stub-no-driver": 2, "cpu-feature-guard": 1,
                         "cuinit-no-gpu": 1}
    assert run_filter([REAL])[0] == REAL


def test_the_onednn_line_of_an_avx512_cpu_is_dropped_too():
    line = (b"I0000 00:00:1796686566.772527   15189 port.cc:153] oneDNN custom operations are on. You may see "
            b"slightly different numerical results due to floating-point round-off errors from different computation "
            b"orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n")
    out, f = run_filter([line + REAL])
    assert out == REAL and f.dropped == {"onednn-on": 1}


def test_every_split_of_the_stream_gives_the_same_output():
    stream = mixed(b"no newline at the end")
    expected = REAL + b"no newline at the end"
    for cut in range(0, len(stream), 7):
        assert run_filter([stream[:cut], stream[cut:]])[0] == expected, cut
    assert run_filter([bytes([b]) for b in stream])[0] == expected


def test_the_cuda_lines_are_real_errors_where_a_gpu_should_work():
    out, _ = run_filter([RECORDED], gpu=True)
    assert b"cudart_stub" in out and b"cuInit" in out
    assert b"cpu_feature_guard" not in out and b"absl::InitializeLog" not in out


def test_text_that_is_not_a_log_line_is_passed_at_once():
    f = Filter(rules())
    assert f.feed(b"Epoch 1/3 ") == b"Epoch 1/3 "  # an unfinished line is not held back
    assert f.feed(b"E0000 00:00:1.0 1 cuda_platform.cc:52] failed call to cuInit: x\n") == \
        b"E0000 00:00:1.0 1 cuda_platform.cc:52] failed call to cuInit: x\n"  # the rest of that line
    assert f.feed(b"E0000 00:00:1.0") == b""  # may be a harmless line: held until its end ...
    assert f.feed(b" 1 cuda_platform.cc:52] failed call to cuInit: x\n") == b""
    assert f.feed(b"E0000 00:00:1.0 1 real") == b""
    assert f.release() == b"E0000 00:00:1.0 1 real"  # ... or until the thread gives up waiting
    assert f.feed(b" failure\n") == b" failure\n"


def test_on_a_pipe_other_bytes_arrive_promptly_and_in_order(tmp_path):
    target_read, target_write = os.pipe()
    watched = os.dup(target_write)  # stands in for fd 2
    log = tmp_path / "server.log"
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT)
    try:
        f = Filter(rules(), fd=watched, log_fd=log_fd).install()
        os.write(watched, RECORDED[:120])
        os.write(watched, RECORDED[120:] + b"progress 10%")
        start = time.monotonic()
        assert os.read(target_read, 100) == b"progress 10%"  # an unfinished line, passed within the read
        assert time.monotonic() - start < 1.0
        os.write(watched, b"E0000 00:00:1.0 1 a.cc:1] held, then given up")
        start = time.monotonic()
        assert os.read(target_read, 100) == b"E0000 00:00:1.0 1 a.cc:1] held, then given up"
        assert time.monotonic() - start < 1.0
        for line in REAL.splitlines(keepends=True):
            os.write(watched, line)
        f.uninstall()  # at exit: fd put back, the pipe drained
        assert not f.thread.is_alive()
        os.write(watched, b"after\n")
        os.close(watched)
        os.close(target_write)
        got = b""
        while chunk := os.read(target_read, 65536):
            got += chunk
        assert got == REAL + b"after\n"
        assert log.read_bytes() == RECORDED  # the server's log keeps what the notebook does not show
    finally:
        os.close(target_read)
        os.close(log_fd)


def test_a_filter_that_fails_while_running_passes_everything_through():
    class Broken:
        def fullmatch(self, line):
            raise RuntimeError("bug")

    target_read, target_write = os.pipe()
    watched = os.dup(target_write)
    f = Filter([("broken", Broken(), None, None)], fd=watched).install()
    os.write(watched, b"first line\nsecond line\n")
    f.thread.join(5)
    assert not f.thread.is_alive()
    os.write(watched, b"third line\n")  # the fd was put back: straight through
    os.close(watched)
    os.close(target_write)
    assert os.read(target_read, 1000) == b"first line\nsecond line\nthird line\n"
    os.close(target_read)


def test_a_filter_that_cannot_install_leaves_the_descriptor_alone(monkeypatch):
    target_read, target_write = os.pipe()
    before = os.fstat(target_write)
    monkeypatch.setattr(os, "pipe", lambda: (_ for _ in ()).throw(OSError(24, "Too many open files")))
    assert STARTUP["_course_quiet_stderr"](fd=target_write) is None
    assert os.path.samestat(os.fstat(target_write), before)
    os.close(target_read)
    os.close(target_write)


# --- memory limits: a fake cgroup tree ----------------------------------------------------------------------


def cgroup_v1(tmp_path, limit, kills, path="/course/ana", at=None):
    folder = tmp_path / "cg" / "memory" / (at if at is not None else path).strip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "memory.limit_in_bytes").write_text(f"{limit}\n")
    (folder / "memory.oom_control").write_text(f"oom_kill_disable 0\nunder_oom 0\noom_kill {kills}\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text(f"9:name=systemd:/\n4:memory:{path}\n1:cpu:/\n0::/\n")
    return tmp_path / "cg", proc, folder


def cgroup_v2(tmp_path, limit, kills, path="/course.slice/ana"):
    folder = tmp_path / "cg" / path.strip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "memory.max").write_text(f"{limit}\n")
    (folder / "memory.events").write_text(f"low 0\nhigh 0\nmax 4\noom 1\noom_kill {kills}\noom_group_kill 0\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text(f"0::{path}\n")
    return tmp_path / "cg", proc, folder


def notice(root, proc, tmp_path, kernel="k1", name="COURSE_MEM_LIMIT"):
    """What kernel `kernel` (its id: the same when its server restarts it) is told as it starts."""
    return STARTUP["_course_oom_notice"](root, proc, tmp_path / "home" / ".course" / "memory.json", limit_name=name,
                                         kernel=kernel)


def recorded(tmp_path):
    return json.loads((tmp_path / "home" / ".course" / "memory.json").read_text())


@pytest.mark.parametrize("tree", [cgroup_v1, cgroup_v2])
def test_the_notice_comes_once_after_the_count_grew(tmp_path, tree):
    root, proc, folder = tree(tmp_path, 4 * GIB, 0)
    before = time.time()
    assert notice(root, proc, tmp_path) is None  # the first kernel only records
    state = recorded(tmp_path)
    assert before <= state["kernels"]["k1"].pop("started") <= time.time()
    assert state == {"cgroup": str(folder), "oom_kills": 0, "limit_bytes": 4 * GIB, "kernels": {"k1": {"oom_kills": 0}}}
    assert notice(root, proc, tmp_path) is None  # restarted, nothing happened since
    tree(tmp_path, 4 * GIB, 1)
    message = notice(root, proc, tmp_path)
    assert message.startswith("Your previous kernel was stopped because it used more than 4.0 GiB, this server's "
                              "memory limit (COURSE_MEM_LIMIT). Use less data or a smaller batch, and shut down "
                              "kernels you no longer need.")
    assert "\n" not in message
    assert notice(root, proc, tmp_path) is None  # told once
    assert recorded(tmp_path)["oom_kills"] == 1 and recorded(tmp_path)["kernels"]["k1"]["oom_kills"] == 1


@pytest.mark.parametrize("tree", [cgroup_v1, cgroup_v2])
def test_a_kernel_started_between_the_kill_and_the_restart_takes_nothing_away(tmp_path, tree):
    """Ana runs two notebooks; the first one's kernel is killed. Before its server restarts it, a third notebook's
    kernel starts (or the second's start-up, slow under load, runs only now): the restarted kernel is told all the
    same, and only it."""
    root, proc, _ = tree(tmp_path, GIB, 0)
    assert notice(root, proc, tmp_path, kernel="first") is None
    assert notice(root, proc, tmp_path, kernel="second") is None
    tree(tmp_path, GIB, 1)  # the first kernel is killed
    assert notice(root, proc, tmp_path, kernel="third") is None  # a new kernel: its predecessor was never killed
    assert notice(root, proc, tmp_path, kernel="late") is None
    assert "Your previous kernel was stopped" in notice(root, proc, tmp_path, kernel="first")  # restarted
    assert notice(root, proc, tmp_path, kernel="first") is None
    # The student restarts the second notebook's kernel: it was not stopped for memory, and the kill was told.
    assert notice(root, proc, tmp_path, kernel="second") is None
    tree(tmp_path, GIB, 2)  # now the second one is killed: its restart is told, whoever starts in between
    assert notice(root, proc, tmp_path, kernel="fourth") is None
    assert "Your previous kernel was stopped" in notice(root, proc, tmp_path, kernel="second")
    assert notice(root, proc, tmp_path, kernel="third") is None


def test_the_records_of_old_kernels_are_pruned(tmp_path):
    root, proc, _ = cgroup_v2(tmp_path, GIB, 0)
    keep = STARTUP["_COURSE_KEEP_KERNELS"]
    state = tmp_path / "home" / ".course" / "memory.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"cgroup": str(root / "course.slice" / "ana"), "oom_kills": 0, "limit_bytes": GIB,
                                 "kernels": {f"old-{i}": {"oom_kills": 0, "started": 1000.0 + i}
                                             for i in range(keep + 20)}}))
    assert notice(root, proc, tmp_path, kernel="new") is None
    kernels = recorded(tmp_path)["kernels"]
    assert len(kernels) == keep and "new" in kernels and "old-0" not in kernels and f"old-{keep + 19}" in kernels
    assert not [p.name for p in state.parent.iterdir() if p.name.startswith(".memory.json.") and
                not p.name.endswith(".lock")]  # no partial file left behind


def test_kernels_starting_at_once_each_keep_their_record(tmp_path):
    """JupyterLab reopening a workspace starts several kernels at once: none may lose another's record."""
    import subprocess

    root, proc, _ = cgroup_v1(tmp_path, GIB, 3)
    code = (f"import runpy, sys\nf = runpy.run_path({str(singleuser.KERNEL_STARTUP)!r}, run_name='s')"
            "['_course_oom_notice']\n"
            f"print(f({str(root)!r}, {str(proc)!r}, {str(tmp_path / 'home' / '.course' / 'memory.json')!r}, "
            "kernel=sys.argv[1]))")
    starts = [subprocess.Popen([sys.executable, "-c", code, f"k{i}"], stdout=subprocess.PIPE, text=True)
              for i in range(12)]
    assert [p.communicate(timeout=60)[0] for p in starts] == ["None\n"] * 12
    assert sorted(recorded(tmp_path)["kernels"]) == sorted(f"k{i}" for i in range(12))


def test_the_record_waits_for_the_lock_and_gives_up_on_it(tmp_path):
    import fcntl

    root, proc, _ = cgroup_v2(tmp_path, GIB, 0)
    notice(root, proc, tmp_path)
    cgroup_v2(tmp_path, GIB, 1)
    lock = os.open(tmp_path / "home" / ".course" / ".memory.json.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    told = []
    start = threading.Thread(target=lambda: told.append(notice(root, proc, tmp_path)))
    start.start()
    time.sleep(0.3)
    assert start.is_alive() and not told  # another kernel is writing: this one waits
    os.close(lock)
    start.join(10)
    assert "Your previous kernel was stopped" in told[0]
    lock = os.open(tmp_path / "home" / ".course" / ".memory.json.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # held for ever (a stuck process): the kernel starts all the same
    try:
        started = time.monotonic()
        assert notice(root, proc, tmp_path, kernel="k2") is None
        assert time.monotonic() - started < STARTUP["_COURSE_LOCK_SECONDS"] + 1
        assert "k2" in recorded(tmp_path)["kernels"]
    finally:
        os.close(lock)


@pytest.mark.parametrize(("argv", "expected"), [
    (["ipykernel_launcher.py", "-f", "/run/jupyter/kernel-0a1b-2c3d.json"], "0a1b-2c3d"),
    (["ipykernel_launcher.py", "--f=/tmp/kernel-z.json"], "z"),
    (["ipykernel_launcher.py", "-f", "/tmp/tmpabc123.json"], "tmpabc123"),
    (["python"], None),
])
def test_a_kernel_is_known_by_its_connection_file(argv, expected):
    assert STARTUP["_course_kernel_id"](argv) == expected


def test_without_a_kernel_id_any_kernel_start_compares(tmp_path):
    root, proc, _ = cgroup_v2(tmp_path, GIB, 0)
    assert notice(root, proc, tmp_path, kernel=None) is None
    cgroup_v2(tmp_path, GIB, 1)
    assert "Your previous kernel was stopped" in notice(root, proc, tmp_path, kernel=None)
    assert notice(root, proc, tmp_path, kernel=None) is None


def test_no_limit_or_no_cgroup_means_nothing_at_all(tmp_path):
    root, proc, _ = cgroup_v1(tmp_path, 9223372036854771712, 3)  # v1's "no limit"
    assert STARTUP["_course_memory_cgroup"](root, proc) is None
    assert notice(root, proc, tmp_path) is None
    (tmp_path / "cg2").mkdir()
    root2, proc2, folder2 = cgroup_v2(tmp_path / "cg2", 1, 1)
    (folder2 / "memory.max").write_text("max\n")
    assert notice(root2, proc2, tmp_path) is None
    assert notice(tmp_path / "nowhere", tmp_path / "no-proc-file", tmp_path) is None
    assert not (tmp_path / "home").exists()  # nothing recorded either


def test_the_limit_of_a_parent_cgroup_counts(tmp_path):
    root, _, parent = cgroup_v2(tmp_path, 2 * GIB, 5, path="/course.slice/ana")
    (parent / "kernel").mkdir()
    (parent / "kernel" / "memory.max").write_text("max\n")
    proc = tmp_path / "proc-kernel"
    proc.write_text("0::/course.slice/ana/kernel\n")
    assert STARTUP["_course_memory_cgroup"](root, proc) == (parent, 2 * GIB, 5)


def test_inside_a_container_the_mount_is_the_cgroup(tmp_path):
    root, proc, folder = cgroup_v1(tmp_path, 512 * 2 ** 20, 2, path="/docker/0123abcd", at="/")
    assert STARTUP["_course_memory_cgroup"](root, proc) == (folder, 512 * 2 ** 20, 2)
    notice(root, proc, tmp_path)
    cgroup_v1(tmp_path, 512 * 2 ** 20, 3, path="/docker/0123abcd", at="/")
    assert "more than 512 MiB, this server's memory limit (COURSE_MEM_LIMIT)" in notice(root, proc, tmp_path)


def test_a_new_server_or_an_unreadable_record_starts_afresh(tmp_path):
    root, proc, _ = cgroup_v2(tmp_path, GIB, 4)
    notice(root, proc, tmp_path)
    root, proc, _ = cgroup_v2(tmp_path, GIB, 5, path="/course.slice/ana-restarted")
    assert notice(root, proc, tmp_path) is None  # another cgroup: its count is not compared
    cgroup_v2(tmp_path, GIB, 0, path="/course.slice/ana-restarted")
    assert notice(root, proc, tmp_path) is None  # a count that went down
    (tmp_path / "home" / ".course" / "memory.json").write_text("{not json")
    cgroup_v2(tmp_path, GIB, 9, path="/course.slice/ana-restarted")
    assert notice(root, proc, tmp_path) is None
    assert json.loads((tmp_path / "home" / ".course" / "memory.json").read_text())["oom_kills"] == 9


def test_a_kernel_without_an_oom_counter_is_left_alone(tmp_path):
    root, proc, folder = cgroup_v1(tmp_path, GIB, 0)
    (folder / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")  # kernels before 4.13
    assert STARTUP["_course_memory_cgroup"](root, proc) is None


@pytest.mark.parametrize(("before", "after", "ok"), [("-500", "500", True), ("0", "500", True), ("800", "800", True),
                                                     ("junk", "junk", False)])
def test_the_kernel_raises_its_own_oom_score(tmp_path, before, after, ok):
    score = tmp_path / "oom_score_adj"
    score.write_text(before + "\n")
    assert STARTUP["_course_raise_oom_score"](score) is ok
    assert score.read_text().strip() == after
    assert STARTUP["_course_raise_oom_score"](tmp_path / "missing") is False


def test_the_notice_is_shown_on_the_first_cell_only(monkeypatch):
    from IPython.core.events import EventManager, available_events

    calls = []
    monkeypatch.setattr(sys, "stderr", SimpleNamespace(write=lambda text: calls.append(("write", text)),
                                                       flush=lambda: calls.append(("flush",))))
    shell = SimpleNamespace()
    shell.events = EventManager(shell, available_events)
    STARTUP["_course_show_once"](shell, "Your previous kernel was stopped ...")
    for _ in range(3):
        shell.events.trigger("pre_run_cell", None)
    # One write, the line with its end: in a kernel, two writes may reach the notebook as two outputs.
    assert calls == [("write", "Your previous kernel was stopped ...\n"), ("flush",)]


# --- real kernels, started the way the hub starts them -------------------------------------------------------


def hub_environment(tmp_path: Path) -> dict[str, str]:
    """A student's server's environment from the hub's own local-mode configuration, plus what a kernel inherits."""
    from traitlets.config import Config

    from hub.common import configure_common
    from hub.local_spawner import configure_local
    from hub.settings import load_settings

    settings = load_settings({"COURSE_HUB_STATE_DIR": str(tmp_path / "state"), "COURSE_DATA_DIR": str(tmp_path)})
    c = Config()
    configure_common(c, settings)
    configure_local(c, settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TF_CPP", "COURSE_"))}
    env.update({k: v for k, v in c.Spawner.environment.items() if isinstance(v, str)})
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir(exist_ok=True)
    env.pop("MPLBACKEND", None)
    assert env["PYTHONSTARTUP"] == str(singleuser.KERNEL_STARTUP)
    return env


class Kernel:
    def __init__(self, env: dict[str, str], log: Path):
        from jupyter_client.manager import start_new_kernel

        self.log = log.open("wb")
        self.km, self.kc = start_new_kernel(kernel_name="python3", startup_timeout=120, env=env, cwd=str(ROOT),
                                            stderr=self.log)

    def run(self, code: str, until: str | None = None) -> tuple[list[dict], str, str]:
        """(messages, stdout text, stderr text) of one cell, its reply ok.

        `until`: a line the cell writes to fd 2 after everything else it writes there; its stderr is read on, past
        the cell's end if need be, until that line has come. (fd 2's bytes reach the notebook through a pipe and a
        thread, the filter's and then ipykernel's, in the order written: all of them have come when it has.)
        """
        import queue

        messages: list[dict] = []
        reply = self.kc.execute_interactive(code, output_hook=messages.append, timeout=240, allow_stdin=False)
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", errors

        def stream(name):
            return "".join(m["content"]["text"] for m in messages
                           if m["msg_type"] == "stream" and m["content"]["name"] == name)

        deadline = time.monotonic() + 60
        while until is not None and until not in stream("stderr"):
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{until!r} never came; stderr: {stream('stderr')!r}")
            if msg["parent_header"].get("msg_id") == reply["parent_header"]["msg_id"]:
                messages.append(msg)
        return messages, stream("stdout"), stream("stderr")

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self.log.close()


@pytest.fixture(scope="module")
def hub_kernel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kernel")
    kernel = Kernel(hub_environment(tmp), tmp / "kernel.log")
    try:
        yield kernel
    finally:
        kernel.stop()


def test_importing_tensorflow_shows_none_of_the_harmless_lines(hub_kernel):
    """A chapter's first cells on this CPU-only machine: nothing of TensorFlow's start-up in red, and the device
    line says in words why the kernel runs on the CPU."""
    end = "E0000 00:00:1.0 1 course_test.cc:3] end of the cell\n"
    _, out, err = hub_kernel.run("import tensorflow as tf\ntf.constant(1)")
    # Every byte TensorFlow wrote to fd 2 has come once the marker written after it has (fd 2 keeps its order).
    _, line, later = hub_kernel.run("from course.gpu import device_line\nprint(device_line())\n"
                                    f"import os\nos.write(2, {end.encode()!r})", until=end)
    assert (out, line) == ("", "CPU only: this machine has no GPU\n")
    later = later.replace(end, "")
    assert not [w for w in HARMLESS_WORDS if w in err + later], err + later
    assert not re.search(r"cuda|cpu_feature_guard|oneDNN", err + later, re.IGNORECASE), err + later
    # TensorFlow did write them: the server's log (the kernel's own stderr) has them
    log = Path(hub_kernel.log.name).read_text()
    for word in HARMLESS_WORDS:
        assert word in log, word
    assert "failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)" in log


def interleaved(text: str, *streams: list[str]) -> bool:
    """Whether `text` is the pieces of `streams` and nothing else, each stream's pieces whole and in their order,
    the streams' pieces merged in any order (the pieces must be told apart by their first characters)."""
    at, next_piece = 0, [0] * len(streams)
    while at < len(text):
        for i, pieces in enumerate(streams):
            if next_piece[i] < len(pieces) and text.startswith(pieces[next_piece[i]], at):
                at += len(pieces[next_piece[i]])
                next_piece[i] += 1
                break
        else:
            return False
    return next_piece == [len(pieces) for pieces in streams]


def test_real_errors_and_python_stderr_still_show(hub_kernel):
    """Real lines written to fd 2 among harmless ones, then Python's `print(..., file=sys.stderr)`: the notebook
    shows every real line, whole and in the order written, the Python text, and nothing else.

    Which of the two comes first is not kept, with the filter or without it: ipykernel sends what Python writes to
    sys.stderr to the notebook itself, and fd 2's bytes through a pipe read by a thread of its own (the filter's
    thread comes before it), so Python's text may come before fd 2's lines written earlier, among them, or its end
    (print writes it apart) after them. This very cell in a kernel with no filter (PYTHONSTARTUP unset) showed
    each of these orders, the Python text among fd 2's lines in about a third of its runs. So the cell runs
    several times, and each run may take any of them.
    """
    harmless = RECORDED.splitlines(keepends=True)
    harmless = [harmless[0], harmless[2] + harmless[3]]  # dropped on any server (the CUDA ones only without a GPU)
    lines = [b"E0000 real failure\n",
             b"E0000 00:00:1.0 1 course_test.cc:1] real failure\n",
             # unknown lines from the very files whose start-up lines are dropped
             b"E0000 00:00:1796165211.668838    7037 cuda_platform.cc:99] failed to load the CUDA driver: broken\n",
             b"W0000 00:00:1796165204.020304    7037 cpu_feature_guard.cc:1] something TensorFlow never said\n"]
    end = b"E0000 00:00:1.0 1 course_test.cc:2] end of the cell\n"
    written = [harmless[0], *lines[:2], harmless[1], *lines[2:], harmless[0]]
    # What reaches ipykernel's pipe stays under the 1000 bytes its thread reads at a time: a longer output may be
    # read in pieces cut inside a line, and then Python's text may come inside that line (with no filter as well).
    code = ("import os, sys\n" + "".join(f"os.write(2, {chunk!r})\n" for chunk in written)
            + f"print('a Python warning', file=sys.stderr)\nos.write(2, {end!r})\n")
    for _ in range(10):
        _, out, err = hub_kernel.run(code, until=end.decode())
        assert out == ""
        assert interleaved(err, [line.decode() for line in [*lines, end]], ["a Python warning", "\n"]), err
    _, out, err = hub_kernel.run("import os, tensorflow as tf\n"
                                 "try:\n    tf.io.read_file('/nonexistent/course-test')\n"
                                 "except tf.errors.NotFoundError:\n    print('raised')\n"
                                 f"os.write(2, {end!r})", until=end.decode())
    assert out == "raised\n"
    assert re.search(r"op_kernel\.cc:\d+\] OP_REQUIRES failed at .*NOT_FOUND: /nonexistent/course-test", err), err


def test_the_kernel_is_the_oom_victim(hub_kernel):
    _, out, _ = hub_kernel.run("print(open('/proc/self/oom_score_adj').read().strip())\n"
                               "import threading\nprint([t.name for t in threading.enumerate() if 'course' in t.name])")
    assert out.splitlines() == [str(STARTUP["_COURSE_OOM_SCORE"]), "['course-stderr-filter']"]


# What a fresh kernel's namespace holds: every name with the repr of the module-level dunders (__doc__ included),
# %who's answer and the builtins' names.
NAMESPACE = ("import builtins as _b, json as _j\n"
             "print(_j.dumps({'names': {n: repr(v) if n.startswith('__') else type(v).__name__ "
             "for n, v in globals().items() if n not in ('_b', '_j')}, 'builtins': sorted(vars(_b))}))\n"
             "del _b, _j\n"
             "%who")


def test_a_fresh_kernel_has_nothing_of_the_start_up_in_its_namespace(tmp_path):
    env = hub_environment(tmp_path)
    seen = {}
    for name, startup in (("plain", None), ("course", env["PYTHONSTARTUP"])):
        kernel = Kernel({k: v for k, v in env.items() if k != "PYTHONSTARTUP"} | ({"PYTHONSTARTUP": startup}
                                                                                  if startup else {}),
                        tmp_path / f"{name}.log")
        try:
            _, out, err = kernel.run(NAMESPACE)
        finally:
            kernel.stop()
        first, who = out.split("\n", 1)
        seen[name] = (json.loads(first), who)
    assert seen["course"] == seen["plain"]
    names, who = seen["course"]
    assert who == "Interactive namespace is empty.\n"
    assert names["names"]["__doc__"] == repr("Automatically created module for IPython interactive environment")
    assert not [n for n in names["names"] if "course" in n.lower()]


def test_a_kernel_whose_filter_fails_to_install_still_works(tmp_path):
    startup = tmp_path / "failing_startup.py"
    startup.write_text(
        "import os as _os, runpy as _runpy\n"
        "_pipe = _os.pipe\n"
        "def _no_pipe():\n    raise OSError(24, 'Too many open files')\n"
        "_os.pipe = _no_pipe\n"
        f"try:\n    _runpy.run_path({str(singleuser.KERNEL_STARTUP)!r}, run_name='__main__')\n"
        "finally:\n    _os.pipe = _pipe\n"
        "del _os, _runpy, _pipe, _no_pipe\n")
    env = {**hub_environment(tmp_path), "PYTHONSTARTUP": str(startup)}
    kernel = Kernel(env, tmp_path / "kernel.log")
    try:
        _, out, err = kernel.run("import os, sys, threading, time\n"
                                 "os.write(2, b'written to fd 2\\n'); print('to sys.stderr', file=sys.stderr)\n"
                                 "print(6 * 7, [t.name for t in threading.enumerate() if 'course' in t.name])\n"
                                 "print(open('/proc/self/oom_score_adj').read().strip())\n"
                                 "time.sleep(0.3)")
        assert out.splitlines() == ["42 []", str(STARTUP["_COURSE_OOM_SCORE"])]  # the rest of start-up still ran
        assert "written to fd 2\n" in err and "to sys.stderr" in err
    finally:
        kernel.stop()


NOTICE_3GIB = ("Your previous kernel was stopped because it used more than 3.0 GiB, this server's memory limit "
               "(COURSE_MEM_LIMIT). Use less data or a smaller batch, and shut down kernels you no longer need. "
               "(메모리 한도를 넘어 이전 커널이 종료되었습니다.)\n")


def fake_tree_startup(tmp_path: Path, root: Path, proc: Path) -> Path:
    """The real start-up file, reading the fake cgroup tree instead of /sys/fs/cgroup."""
    startup = tmp_path / "fake_tree_startup.py"
    startup.write_text(
        "import runpy as _runpy\n"
        f"_runpy.run_path({str(singleuser.KERNEL_STARTUP)!r}, run_name='kernel_startup')['_course_start']"
        f"(cgroup_root={str(root)!r}, proc_cgroup={str(proc)!r})\n"
        "del _runpy\n")
    return startup


class Server:
    """A student's Jupyter Server as the hub starts it (its configuration from singleuser/), on loopback, with a
    client that talks to kernels the way a browser does (REST and one websocket per cell)."""

    def __init__(self, env: dict[str, str], folder: Path):
        import secrets
        import socket
        import subprocess

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base, self.token = f"http://127.0.0.1:{port}/", secrets.token_hex(16)
        self.log = (folder / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={folder}"], env=env, cwd=folder, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, "the server stopped"
            try:
                if self.api("GET", "status").status_code == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

    def api(self, method: str, path: str, **kw):
        import requests

        return requests.request(method, self.base + "api/" + path, timeout=30,
                                headers={"Authorization": f"token {self.token}"}, **kw)

    def state(self, kernel: str) -> str:
        return self.api("GET", f"kernels/{kernel}").json()["execution_state"]

    def connect(self, kernel: str):
        import websocket

        return websocket.create_connection(self.base.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels",
                                           header=[f"Authorization: token {self.token}"], timeout=120)

    @staticmethod
    def send(conn, code: str) -> str:
        import uuid

        msg_id = uuid.uuid4().hex
        conn.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "ana", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        return msg_id

    def run(self, kernel: str, code: str) -> SimpleNamespace:
        """One cell on a new connection: its iopub messages in order ("status:busy", "stream:stderr", ...) and
        the text of its streams."""
        conn = self.connect(kernel)
        try:
            msg_id = self.send(conn, code)
            cell = SimpleNamespace(iopub=[], stdout="", stderr="")
            idle = replied = False
            while not (idle and replied):
                msg = json.loads(conn.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "execute_reply":
                    replied = True
                    continue
                cell.iopub.append(f"{kind}:{content.get('name') or content.get('execution_state') or ''}")
                if kind == "stream":
                    setattr(cell, content["name"], getattr(cell, content["name"]) + content["text"])
                idle = idle or (kind == "status" and content["execution_state"] == "idle")
            return cell
        finally:
            conn.close()

    def kill_while_busy(self, kernel: str, pid: int, before=lambda: None) -> str:
        """Kill the kernel's process in the middle of a cell (after `before`); the state the server reports the
        moment it says "restarting"."""
        import signal

        conn = self.connect(kernel)
        try:
            self.send(conn, "import time\ntime.sleep(600)")
            deadline = time.monotonic() + 60
            while self.state(kernel) != "busy":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            before()
            os.kill(pid, signal.SIGKILL)
            while True:
                msg = json.loads(conn.recv())
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] in ("restarting", "dead"):
                    assert msg["content"]["execution_state"] == "restarting"
                    return self.state(kernel)
        finally:
            conn.close()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait(30)
        self.log.close()


def test_a_kernel_its_server_restarts_tells_the_student_on_its_first_cell_even_at_once(tmp_path):
    """Past the memory limit, a kernel is killed in the middle of a cell and its server starts a new one (the same
    kernel id). The student's next cell, sent the moment the server says "restarting", shows why, whole: the
    server reports the kernel as starting (not the dead one's "busy"), so the new connection waits for the new
    kernel and checks its output channel before the cell goes out."""
    root, proc, _ = cgroup_v1(tmp_path, 3 * GIB, 0)
    env = {**hub_environment(tmp_path), "PYTHONSTARTUP": str(fake_tree_startup(tmp_path, root, proc))}
    state = tmp_path / "home" / ".course" / "memory.json"
    server = Server(env, tmp_path)
    try:
        kernel = server.api("POST", "kernels", json={"name": "python3"}).json()["id"]
        first = server.run(kernel, "import os\nprint(os.getpid())")
        assert first.stderr == ""  # a new kernel: nothing to tell
        assert json.loads(state.read_text())["kernels"][kernel]["oom_kills"] == 0  # known by its server's id

        reported = server.kill_while_busy(kernel, int(first.stdout), before=lambda: cgroup_v1(tmp_path, 3 * GIB, 1))
        assert reported in ("starting", "idle")  # never the dead kernel's "busy"
        back = server.run(kernel, "import os\nprint(os.getpid())")  # at once, as a student may
        assert back.iopub == ["status:busy", "execute_input:", "stream:stderr", "stream:stdout", "status:idle"]
        assert back.stderr == NOTICE_3GIB and int(back.stdout) != int(first.stdout)
        assert server.run(kernel, "print(2)").stderr == ""  # once
        assert json.loads(state.read_text())["kernels"][kernel]["oom_kills"] == 1

        # Killed again, not for memory (the count stays), and nobody connected: the server finds out on its own
        # that the new kernel is up (so the idle-kernel culler sees it idle, not busy).
        server.kill_while_busy(kernel, int(back.stdout))
        seen, deadline = [], time.monotonic() + 60
        while not seen or seen[-1] != "idle":
            assert time.monotonic() < deadline, seen
            now = server.state(kernel)
            if not seen or seen[-1] != now:
                seen.append(now)
            time.sleep(0.1)
        assert set(seen) <= {"starting", "idle"}, seen
        assert server.run(kernel, "print(3)").stderr == ""  # nothing to tell this time
    finally:
        server.stop()


def test_outside_a_kernel_nothing_is_interposed():
    """A terminal's `python` with PYTHONSTARTUP set (the server's own processes): no filter, no OOM score change."""
    import subprocess

    code = ("import os, threading; before = os.fstat(2)\n"
            f"exec(open({str(singleuser.KERNEL_STARTUP)!r}).read(), {{'__name__': '__main__'}})\n"
            "print(os.path.samestat(before, os.fstat(2)), [t.name for t in threading.enumerate()][1:],"
            " open('/proc/self/oom_score_adj').read().strip())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    own = Path("/proc/self/oom_score_adj").read_text().strip()
    assert done.stdout.split() == ["True", "[]", own]


def test_threads_are_daemons_so_a_kernel_can_always_exit():
    target_read, target_write = os.pipe()
    f = Filter(rules(), fd=target_write).install()
    assert f.thread.daemon and f.thread.name == "course-stderr-filter"
    assert f.thread in threading.enumerate()
    f.uninstall()
    os.close(target_read)
    os.close(target_write)
