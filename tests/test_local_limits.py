"""Local mode's per-student CPU and memory limits (`hub.limits`): finding the means, the start-up line, a
server's cgroup on fake v1 and v2 hierarchies (plain folders), the systemd-run command, the preexec, and
the spawner's steps around a server's life. The real kernel's cgroups are exercised by
tests/hub/test_limits_live.py.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hub import limits, local_spawner
from hub.grading import cgroups
from hub.grading.cgroups import Layout
from tests.test_local_gpu import LocalHub, load_hub  # noqa: F401 - the fixture is used below

GiB = 1024 ** 3


@pytest.fixture(autouse=True)
def fake_removal(monkeypatch):
    """A fake hierarchy is plain folders: removing a group means removing its files too."""
    def remove(self, wait: float = 0.0) -> None:
        for folder in self.dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self.dirs = []

    monkeypatch.setattr(cgroups.RunCgroup, "remove", remove)


def v1_layout(tmp_path: Path, cpu: bool = True) -> Layout:
    memory, cpu_dir = tmp_path / "memory" / "hub", tmp_path / "cpu"
    memory.mkdir(parents=True)
    cpu_dir.mkdir()
    return Layout(1, memory, None, cpu_dir if cpu else None)


def v2_layout(tmp_path: Path, controllers: str = "cpuset cpu io memory pids") -> Layout:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cgroup.controllers").write_text(controllers + "\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    return Layout(2, tmp_path)


# -- the means and the start-up line ------------------------------------------------------------------------


def test_nothing_asked_is_said_in_one_line_with_the_means_setting_them_would_use(tmp_path):
    means = limits.detect(None, None, root=True, layout=None, systemd=False)
    assert means.kind == "none" and not means.applies
    assert means.describe() == ("none set (COURSE_MEM_LIMIT, COURSE_CPU_LIMIT are empty; no means to apply them "
                                "here: no memory cgroup on this machine): one student's kernel may use all of this "
                                "machine's memory and CPUs")
    layout = v1_layout(tmp_path)
    assert "are empty; cgroup v1 would apply them):" in limits.detect(None, None, root=True, layout=layout,
                                                                       systemd=False).describe()
    assert not (layout.memory / limits.PARENT).exists()  # nothing asked: nothing probed
    assert "are empty; systemd scopes would apply them):" in limits.detect(None, None, root=True, layout=layout,
                                                                            systemd=True).describe()
    ordinary = limits.detect(None, None, root=False, layout=layout, systemd=True).describe()
    assert "are empty; no means to apply them here: the hub is not running as root" in ordinary
    assert "\n" not in ordinary


def test_an_ordinary_user_has_no_means_and_the_line_says_which_limits_are_not_applied():
    means = limits.detect(4 * GiB, 2.0, root=False, layout=None, systemd=True)
    assert means.kind == "none" and not means.memory and not means.cpu
    assert means.describe() == ("NOT applied (memory 4 GiB, CPU 2 cores per student): the hub is not running as "
                                "root, and only root can make cgroups")


def test_root_without_a_memory_cgroup_says_so():
    line = limits.detect(GiB, None, root=True, layout=None, systemd=False).describe()
    assert line == "NOT applied (memory 1 GiB per student): no memory cgroup on this machine"


def test_cgroup_v1_as_root_applies_both_and_probes_leave_nothing(tmp_path):
    layout = v1_layout(tmp_path)
    means = limits.detect(GiB, 1.5, root=True, layout=layout, systemd=False)
    assert (means.kind, means.memory, means.cpu, means.layout) == ("cgroup", True, True, layout)
    assert not (layout.memory / limits.PARENT).exists() and not (layout.cpu / limits.PARENT).exists()
    line = means.describe()
    assert line.startswith("each student's server: memory 1 GiB; CPU 1.5 cores (cgroup v1: course-servers/<name>)"
                           "; a kernel past the memory limit is ended alone")
    assert "\n" not in line


def test_a_missing_controller_is_named_and_the_other_limit_still_applies(tmp_path):
    means = limits.detect(2 * GiB, 1.0, root=True, layout=v1_layout(tmp_path, cpu=False), systemd=False)
    assert means.memory and not means.cpu
    assert means.describe().endswith("; CPU NOT limited: no cpu controller (cgroup v1)")
    v2 = limits.detect(2 * GiB, 1.0, root=True, layout=v2_layout(tmp_path / "v2", "memory pids"), systemd=False)
    assert v2.memory and not v2.cpu and "CPU 1 core" not in v2.describe().split(";")[0]


def test_systemd_is_preferred_where_it_runs_and_a_failing_scope_falls_back_to_cgroups(tmp_path):
    calls = []

    def ok(memory, cpu):
        calls.append((memory, cpu))

    means = limits.detect(GiB, 2.0, root=True, layout=None, systemd=True, probe_systemd=ok)
    assert means.kind == "systemd" and means.memory and means.cpu and calls == [(GiB, 2.0)]
    assert "(systemd scopes course-server-<name>.scope in course.slice)" in means.describe()

    fallback = limits.detect(GiB, None, root=True, layout=v1_layout(tmp_path), systemd=True,
                             probe_systemd=lambda memory, cpu: "Access denied")
    assert fallback.kind == "cgroup" and fallback.missing == ("systemd-run --scope failed (Access denied)",)


def test_without_cap_sys_resource_the_line_says_servers_keep_their_score(tmp_path):
    means = limits.Means("cgroup", GiB, None, memory=True, layout=v1_layout(tmp_path), oom_score_adj=False)
    assert means.describe().endswith("ended alone (servers' oom_score_adj stays 0: no CAP_SYS_RESOURCE)")
    assert "oom_score_adj" not in limits.Means("cgroup", GiB, None, memory=True, layout=means.layout,
                                               oom_score_adj=True).describe()


# -- a server's group -----------------------------------------------------------------------------------------


def test_a_v1_group_has_the_memory_and_cpu_limits_and_is_readable(tmp_path):
    layout = v1_layout(tmp_path)
    group = limits.ServerGroup.create(layout, "alice", memory_bytes=GiB, cpu_cores=1.5)
    memory, cpu = group.dirs
    assert memory == layout.memory / "course-servers" / "alice" and cpu == layout.cpu / "course-servers" / "alice"
    assert (memory / "memory.limit_in_bytes").read_text() == str(GiB)
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000" and (cpu / "cpu.cfs_quota_us").read_text() == "150000"
    assert all(os.stat(d).st_mode & 0o777 == 0o755 for d in group.dirs)
    assert group.procs_files == [str(memory / "cgroup.procs"), str(cpu / "cgroup.procs")]
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    assert group.oom_kills() == 3
    group.remove()
    assert not (layout.memory / "course-servers").exists() and not (layout.cpu / "course-servers").exists()


def test_v1_swap_is_capped_where_it_is_accounted_else_swappiness_is_zero(tmp_path):
    accounted = tmp_path / "a"
    accounted.mkdir()
    (accounted / "memory.memsw.limit_in_bytes").write_text(str(8 * GiB))
    limits._limit_memory_v1(accounted, GiB)
    assert (accounted / "memory.memsw.limit_in_bytes").read_text() == str(GiB)
    assert (accounted / "memory.limit_in_bytes").read_text() == str(GiB)
    plain = tmp_path / "b"
    plain.mkdir()
    (plain / "memory.swappiness").write_text("60")
    limits._limit_memory_v1(plain, GiB)
    assert (plain / "memory.swappiness").read_text() == "0"


def test_a_v2_group_enables_its_controllers_and_sets_max(tmp_path):
    layout = v2_layout(tmp_path)
    group = limits.ServerGroup.create(layout, "bob", memory_bytes=2 * GiB, cpu_cores=0.5)
    [leaf] = group.dirs
    assert leaf == tmp_path / "course-servers" / "bob"
    assert (leaf / "memory.max").read_text() == str(2 * GiB) and (leaf / "cpu.max").read_text() == "50000 100000"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"  # the last controller written
    assert (tmp_path / "course-servers" / "cgroup.subtree_control").read_text() == "+cpu"
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1


def test_a_group_that_cannot_be_made_is_one_line_and_leaves_nothing(tmp_path):
    blocked = tmp_path / "memory"
    blocked.write_text("")  # a file where the hierarchy should be
    with pytest.raises(cgroups.CgroupError) as err:
        limits.ServerGroup.create(Layout(1, blocked), "alice", memory_bytes=GiB, cpu_cores=None)
    assert str(err.value).startswith("cannot prepare a cgroup v1 for a server") and "\n" not in str(err.value)
    means = limits.detect(GiB, None, root=True, layout=Layout(1, blocked), systemd=False)
    assert means.kind == "none" and "cannot prepare a cgroup v1" in means.describe()


def test_stale_groups_are_removed_at_start_unless_a_process_is_in_them(tmp_path):
    layout = v1_layout(tmp_path)
    for name in ("gone", "running"):
        limits.ServerGroup.create(layout, name, memory_bytes=GiB, cpu_cores=1.0)
    (layout.memory / "course-servers" / "running" / "cgroup.procs").write_text("4242\n")  # rmdir fails: busy

    def rmdir(folder: Path) -> None:  # the kernel's rule: a cgroup with processes cannot be removed
        procs = folder / "cgroup.procs"
        if procs.exists() and procs.read_text().strip():
            raise OSError(16, "Device or resource busy")
        if any(p.is_dir() for p in folder.iterdir()):
            raise OSError(39, "Directory not empty")
        shutil.rmtree(folder)

    removed = limits.remove_stale(layout, rmdir)
    assert layout.memory / "course-servers" / "gone" in removed
    assert (layout.memory / "course-servers" / "running").exists()
    assert not (layout.cpu / "course-servers").exists()  # both cpu groups were empty


@pytest.mark.parametrize("key, name", [("alice", "alice"), ("alice/big", "alice:big"), ("kim.minsu", "kim.minsu"),
                                       ("a/b c", "a:b_c")])
def test_group_and_unit_names(key, name):
    assert limits.group_name(key) == name
    assert limits.unit_name(key) == f"course-server-{name}.scope"


def test_cpu_quota():
    assert limits.cpu_quota_us(2) == 200000 and limits.cpu_quota_us(0.25) == 25000
    assert limits.cpu_quota_us(0.001) == 1000  # the kernel's minimum


# -- systemd ------------------------------------------------------------------------------------------------------


def test_the_systemd_scope_command_limits_then_drops_to_the_student():
    means = limits.Means("systemd", 4 * GiB, 2.0, memory=True, cpu=True)
    cmd = limits.scope_command(means, "alice", 1234, 1234, ["/venv/bin/python", "server_command.py"])
    assert cmd == ["systemd-run", "--scope", "--quiet", "--collect", "--unit=course-server-alice.scope",
                   "--slice=course.slice", "-p", "OOMPolicy=continue", "-p", f"MemoryMax={4 * GiB}",
                   "-p", "MemorySwapMax=0", "-p", "CPUQuota=200%", "--",
                   "setpriv", "--reuid=1234", "--regid=1234", "--init-groups", "--",
                   "/venv/bin/python", "server_command.py"]
    memory_only = limits.scope_command(limits.Means("systemd", GiB, None, memory=True), "bob", 1, 1, ["x"])
    assert "CPUQuota=100%" not in " ".join(memory_only) and f"MemoryMax={GiB}" in memory_only


def test_systemd_run_is_real_and_knows_every_option_used():
    """systemd is installed here but not PID 1: check the options against the installed systemd-run."""
    if shutil.which("systemd-run") is None:
        pytest.skip("systemd-run is not installed")
    help_text = subprocess.run(["systemd-run", "--help"], capture_output=True, text=True).stdout
    for option in ("--scope", "--quiet", "--collect", "--unit", "--slice", "--property"):
        assert option in help_text, option
    assert shutil.which("setpriv") and "--init-groups" in subprocess.run(
        ["setpriv", "--help"], capture_output=True, text=True).stdout


# -- the preexec ----------------------------------------------------------------------------------------------


def test_the_preexec_writes_the_new_process_into_its_groups(tmp_path):
    procs = [tmp_path / "memory.procs", tmp_path / "cpu.procs"]
    for path in procs:
        path.write_text("")
    steps = limits.preexec_steps([str(p) for p in procs], None)
    subprocess.run(["true"], preexec_fn=steps, check=True)
    assert [p.read_text() for p in procs] == ["0", "0"]
    with pytest.raises(subprocess.SubprocessError):  # a group it cannot join stops the start (no silent escape)
        subprocess.run(["true"], preexec_fn=limits.preexec_steps([str(tmp_path / "none" / "cgroup.procs")], None))


def test_the_preexec_lowers_the_servers_oom_score_where_allowed():
    steps = limits.preexec_steps([], limits.SERVER_OOM_SCORE_ADJ)
    done = subprocess.run(["cat", "/proc/self/oom_score_adj"], preexec_fn=steps, capture_output=True, text=True)
    expected = str(limits.SERVER_OOM_SCORE_ADJ) if limits.can_lower_oom_score_adj() else open(
        "/proc/self/oom_score_adj").read().strip()
    assert done.returncode == 0 and done.stdout.strip() == expected  # never an error where it is not allowed


# -- the spawner ----------------------------------------------------------------------------------------------


@pytest.fixture
def limited_hub(load_hub, tmp_path, monkeypatch):  # noqa: F811 - load_hub is the imported fixture
    """A local-mode hub whose means are a fake v1 hierarchy; servers run as the hub's user (no setuid)."""
    layout = v1_layout(tmp_path / "cg")
    means = limits.Means("cgroup", GiB, 1.0, memory=True, cpu=True, layout=layout)

    def load(**env) -> LocalHub:
        monkeypatch.setattr(limits, "detect", lambda memory, cpu, **kw: means)
        hub = load_hub(COURSE_MEM_LIMIT="1G", COURSE_CPU_LIMIT="1", **env)
        hub.config.CourseLocalSpawner.as_system_users = True  # root's path, without a real student account
        hub.layout = layout
        return hub

    return load


def test_a_server_gets_its_group_before_it_starts_and_loses_it_when_it_stops(limited_hub):
    hub = limited_hub()
    spawner = hub.start("alice")
    memory = hub.layout.memory / "course-servers" / "alice"
    assert spawner.limit_dirs == [str(memory), str(hub.layout.cpu / "course-servers" / "alice")]
    assert (memory / "memory.limit_in_bytes").read_text() == str(GiB)
    assert spawner.get_state()["limit_dirs"] == spawner.limit_dirs  # kept across a hub restart
    spawner.clear_state()  # what poll() does when it finds the process gone ...
    assert spawner.limit_dirs  # ... must not forget the group before the post-stop step removes it
    hub.stop("alice")
    assert spawner.limit_dirs == [] and "limit_dirs" not in spawner.get_state()
    assert not (hub.layout.memory / "course-servers").exists()


def test_a_restarted_hub_removes_the_group_of_a_server_it_did_not_start(limited_hub):
    hub = limited_hub()
    dirs = hub.start("alice").limit_dirs
    restarted = limited_hub()
    spawner = restarted.spawner("alice")
    spawner.load_state({"pid": 0, "limit_dirs": dirs})
    restarted.stop("alice")
    assert not any(Path(d).exists() for d in dirs)


def test_the_preexec_joins_the_group_then_drops_privileges(limited_hub, monkeypatch):
    hub = limited_hub()
    spawner = hub.start("alice")
    dropped = []
    monkeypatch.setattr(local_spawner, "set_user_setuid", lambda name: lambda: dropped.append(name))
    for path in spawner.limit_dirs:
        (Path(path) / "cgroup.procs").write_text("")
    preexec = spawner.make_preexec_fn("alice")
    preexec()  # in this process: the stand-in setuid records, the groups get "0" (this test process: fake files)
    assert dropped == ["course-alice"]
    assert [(Path(p) / "cgroup.procs").read_text() for p in spawner.limit_dirs] == ["0", "0"]


def test_a_group_that_cannot_be_made_starts_the_server_without_limits_and_says_so(limited_hub):
    hub = limited_hub()
    shutil.rmtree(hub.layout.memory)
    hub.layout.memory.write_text("")  # the hierarchy went away
    spawner = hub.start("alice")
    assert spawner.limit_dirs == [] and "runs without its CPU and memory limits" in spawner.limits_notice

    async def messages():
        return [event["message"] async for event in spawner.progress()]

    assert "runs without its CPU and memory limits" in asyncio.run(messages())[0]


def test_under_systemd_the_command_goes_through_a_scope_each_start_once(limited_hub, monkeypatch):
    hub = limited_hub()
    hub.resources.means = limits.Means("systemd", GiB, 1.0, memory=True, cpu=True)
    stopped = []
    monkeypatch.setattr(limits, "stop_scope", stopped.append)
    monkeypatch.setattr(local_spawner.pwd, "getpwnam", lambda name: type("pw", (), {"pw_uid": 5, "pw_gid": 6}))
    dropped = []
    monkeypatch.setattr(local_spawner, "set_user_setuid", lambda name: lambda: dropped.append(name))
    plain = list(hub.spawner("alice").cmd)
    for _ in range(2):
        spawner = hub.start("alice")
        assert spawner.cmd[:2] == ["systemd-run", "--scope"] and spawner.cmd.count("systemd-run") == 1
        assert spawner.cmd[spawner.cmd.index("setpriv"):][:4] == ["setpriv", "--reuid=5", "--regid=6", "--init-groups"]
        assert spawner.cmd[-len(plain):] == plain and spawner.limit_dirs == []
        hub.stop("alice")
    assert stopped == ["alice"] * 4  # a lost scope before each start, the scope after each stop
    assert spawner._in_scope and dropped == []  # setpriv drops privileges after systemd-run, not the preexec
