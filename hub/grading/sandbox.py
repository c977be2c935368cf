"""Local mode's sandbox: one notebook copy run by `singleuser/grade_notebook.py` with the limits this
machine allows, and nothing of the student's touched.

The command is a chain of small standard tools, each doing one thing before it execs the next:

    sh (join the run's cgroup)  ->  unshare --net --pid --mount --mount-proc --fork --kill-child
    ->  sh (loopback up; the student's home bind-mounted read-only)  ->  prlimit --cpu --core=0
    ->  setpriv --reuid=<student> --regid=<student> --clear-groups --no-new-privs --bounding-set=-all
    ->  python grade_notebook.py <copy> --result <file>

- **As root** every step applies: the copy runs as the student's own system user (it can read nothing
  the student could not), in a memory cgroup (`COURSE_GRADE_MEM_LIMIT`, see `hub.grading.cgroups`), with
  RLIMIT_CPU at twice the wall clock per process, in a network namespace whose only interface is
  loopback (the kernel's own sockets work; nothing else is reachable), in a PID namespace (ending its
  first process ends every process of the run, the kernel and anything it started), and in a mount
  namespace where the student's home is read-only (the notebook may read its files; it cannot delete or
  change one). HOME is the run's private folder.
- **As an ordinary user** there is no student account: the copy runs as the hub's own user. Where
  unprivileged user namespaces are allowed, the same namespaces are made through one (network: loopback
  only; PID; the home read-only, locked by a second user namespace that maps back to the hub's user, so
  the notebook cannot undo it); no cgroup is writable, so there is no memory cap. The wall clock and
  RLIMIT_CPU always apply.

`probe()` tries each means once and says in one line which limits apply. The wall clock is the hub's:
after `COURSE_GRADE_TIMEOUT` seconds it kills the run's process group, its cgroup and every process left.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course import settings as registry
from hub.grading import cgroups
from hub.system_users import running_as_root

RESULT_NAME = "grade-result.json"  # singleuser/grade_notebook.py's default, beside the copy
PROGRESS_NAME = "progress.json"
SETUP_FAILED = 125  # exit code of the chain's shell steps when a sandbox step fails
_MAX_RESULT_BYTES = 4 * 1024 ** 2

# The chain's two shell steps. Arguments, never interpolated: paths reach them as "$1" ...
JOIN_CGROUP = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo 0 > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"'
SET_UP_NAMESPACE = ('net=$1; n=$2; shift 2; if [ "$net" = 1 ]; then ip link set lo up || exit 125; fi; '
                    'while [ "$n" -gt 0 ]; do mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 125; '
                    'shift; n=$((n-1)); done; exec "$@"')


def student_side() -> Any:
    """The `singleuser` package (the student's side), which local grading runs from. Imported only here: the
    hub's image for Docker mode, which grades in containers of the course image, does not carry it."""
    import singleuser

    return singleuser


def grade_script() -> Path:
    """singleuser/grade_notebook.py, which runs a copy of a student's notebook and writes its result."""
    return student_side().FOLDER / "grade_notebook.py"


def format_bytes(value: int) -> str:
    """3221225472 -> '3 GiB', 419430400 -> '400 MiB'."""
    for unit, size in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if value >= size:
            amount = value / size
            return f"{amount:.0f} {unit}" if amount == int(amount) or amount >= 10 else f"{amount:.1f} {unit}"
    return f"{value} B"


@dataclass(frozen=True)
class Means:
    """What this machine lets the grader use (probed once per process)."""

    root: bool
    namespaces: bool = False  # network (loopback only) + PID namespaces
    read_only_home: bool = False  # a mount namespace with the home bind-mounted read-only
    user_namespace: bool = False  # not root: the namespaces come through an unprivileged user namespace
    cgroup: cgroups.Layout | None = None
    prlimit: bool = False
    missing: tuple[str, ...] = ()  # why a means is not there, one short phrase each

    def describe(self, timeout: int, memory_bytes: int) -> str:
        """One line: which limits apply."""
        parts = [f"wall clock {timeout} s"]
        parts.append(f"memory {format_bytes(memory_bytes)} ({self.cgroup.describe()})" if self.cgroup
                     else "no memory cap")
        parts.append(f"CPU time {2 * timeout} s per process" if self.prlimit else "no CPU time limit")
        parts.append("network: loopback only" if self.namespaces else "network: not isolated")
        parts.append("home read-only" if self.read_only_home else "home writable")
        who = "as the student's system user" if self.root else "as the hub's own user (not root: no student accounts)"
        return "limits: " + ", ".join(parts) + "; " + who

    @property
    def complete(self) -> bool:
        return self.root and self.namespaces and self.read_only_home and self.cgroup is not None and self.prlimit


def _run_quietly(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def namespace_prefix(means: Means, read_only: list[str]) -> list[str]:
    """unshare and the shell step that brings loopback up and mounts `read_only` read-only."""
    if not means.namespaces:
        return []
    flags = ["--net", "--pid", "--fork", "--kill-child"]
    if means.read_only_home:
        flags += ["--mount", "--mount-proc", "--propagation", "private"]
    if means.user_namespace:
        flags.insert(0, "--map-root-user")
    mounts = read_only if means.read_only_home else []
    return ["unshare", *flags, "--", "sh", "-c", SET_UP_NAMESPACE, "course-grade-sandbox", "1",
            str(len(mounts)), *mounts]


def probe(probe_dir: Path, layout: cgroups.Layout | None = None, *, root: bool | None = None) -> Means:
    """Try each means once: namespaces (with a read-only bind mount of `probe_dir`), a cgroup, prlimit."""
    root = running_as_root() if root is None else root
    missing: list[str] = []
    has_prlimit = shutil.which("prlimit") is not None
    if not has_prlimit:
        missing.append("no prlimit (util-linux)")
    namespaces = read_only = user_ns = False
    if shutil.which("unshare") and shutil.which("ip"):
        for with_mount in (True, False):
            candidate = Means(root=root, namespaces=True, read_only_home=with_mount, user_namespace=not root)
            tail = ["unshare", "--user", f"--map-user={os.geteuid()}", f"--map-group={os.getegid()}", "--",
                    "true"] if not root else ["true"]
            if _run_quietly([*namespace_prefix(candidate, [str(probe_dir)]), *tail]):
                namespaces, read_only, user_ns = True, with_mount, not root
                break
        if not namespaces:
            missing.append("no network/PID namespaces (unshare failed" + ("" if root else
                           ": unprivileged user namespaces are off") + ")")
        elif not read_only:
            missing.append("no mount namespace for a read-only home")
    else:
        missing.append("no unshare or ip command")
    layout_ok, why = (None, "not root: cgroups are not writable") if not root else cgroups.probe(
        layout if layout is not None else cgroups.this_machine())
    if why:
        missing.append(why)
    return Means(root=root, namespaces=namespaces, read_only_home=read_only, user_namespace=user_ns,
                 cgroup=layout_ok, prlimit=has_prlimit, missing=tuple(missing))


@functools.cache
def machine_means(probe_dir: str) -> Means:
    """`probe()` once per process and probe folder."""
    return probe(Path(probe_dir))


@dataclass(frozen=True)
class Account:
    """Who the copy runs as: a student's system user (root mode), or None for the hub's own user."""

    uid: int
    gid: int
    name: str


def sandbox_command(means: Means, *, python: str, notebook: Path, result: Path, timeout: int,
                    account: Account | None, read_only: list[str], cgroup_procs: list[str]) -> list[str]:
    """The chain (see the module's docstring) for one run."""
    cmd: list[str] = []
    if cgroup_procs:
        cmd += ["sh", "-c", JOIN_CGROUP, "course-grade-cgroup", str(len(cgroup_procs)), *cgroup_procs]
    cmd += namespace_prefix(means, read_only)
    if means.user_namespace:  # back to the hub's own uid, with no privilege left: the mounts are locked
        cmd += ["unshare", "--user", f"--map-user={os.geteuid()}", f"--map-group={os.getegid()}", "--"]
    if means.prlimit:
        cmd += ["prlimit", f"--cpu={2 * timeout}:{2 * timeout + 5}", "--core=0", "--"]
    if account is not None:
        cmd += ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups",
                "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
    cmd += [python, str(grade_script()), str(notebook), "--result", str(result)]
    return cmd


def sandbox_environment(*, work: Path, data_dir: Path, full: bool, account: Account | None,
                        python: str) -> dict[str, str]:
    """The run's whole environment: nothing of the hub's (no tokens, no COURSE_GRADEBOOK_URL)."""
    bindir = str(Path(python).parent)
    return {
        "PATH": os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]),
        "HOME": str(work),
        "USER": account.name if account else os.environ.get("USER", ""),
        "LOGNAME": account.name if account else os.environ.get("USER", ""),
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "PYTHONSTARTUP": str(student_side().KERNEL_STARTUP),
        "MPLBACKEND": "agg",
        "JUPYTER_PLATFORM_DIRS": "1",
        registry.GRADING.name: "true",
        registry.PROGRESS_FILE.name: str(work / PROGRESS_NAME),
        registry.FAST.name: "0" if full else "1",
        registry.DATA_DIR.name: str(data_dir),
        registry.OFFLINE.name: "1",
        registry.CUDA_VISIBLE_DEVICES.name: "",  # grading runs on CPU: it never takes a student's GPU memory
    }


@dataclass
class SandboxRun:
    """What one run left: how it ended, and the JSON files it wrote (read without following links)."""

    exit_code: int | None = None
    timed_out: bool = False
    oom_kills: int = 0
    peak_bytes: int | None = None
    seconds: float = 0.0
    result: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None
    output_tail: str = ""
    limits: str = ""
    setup_failed: bool = False
    complete: bool = False  # every limit of the module's docstring applied to this run


def read_json_safely(folder: Path, name: str) -> dict[str, Any] | None:
    """A JSON object the run wrote, or None: never through a link, never a huge or special file."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not (info.st_mode & 0o170000 == 0o100000) or info.st_size > _MAX_RESULT_BYTES:
            return None
        text = os.read(fd, _MAX_RESULT_BYTES + 1)
    finally:
        os.close(fd)
    try:
        data = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _tail(handle, limit: int = 4000) -> str:
    handle.flush()
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - limit))
    return handle.read().decode("utf-8", "replace")


def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _exited(pid: int) -> bool:
    """True once the child `pid` has ended, without reaping it: while it is a zombie its id (and so its
    process group's) cannot be given to another process, so killing the group stays safe."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
    except ChildProcessError:
        return True


def _kill_everything(proc: subprocess.Popen, cgroup: cgroups.RunCgroup | None, known: list[Any]) -> None:
    """SIGKILL every process the run started (the PID namespace's first process, so the kernel goes with
    it), let the chain's first process reap it and end (no orphan left for init), then its process group
    and its cgroup. The caller reaps the first process afterwards."""
    import psutil

    for child in [*reversed(_descendants(proc.pid)), *known]:
        with contextlib.suppress(psutil.Error):
            child.kill()
    deadline = time.monotonic() + 10
    while not _exited(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill()


def work_root(state_dir: Path) -> Path:
    """Where runs get their private folders: `<state>/grading`, which students can pass through, not list."""
    root = state_dir / "grading"
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o711)
    return root


def run_local(*, notebook_name: str, data: bytes, label: str, home: Path, account: Account | None,
              state_dir: Path, data_dir: Path, timeout: int, memory_bytes: int, full: bool,
              means: Means | None = None, python: str | None = None) -> SandboxRun:
    """Run one copy (`data`, named `notebook_name`) in the sandbox; everything it made is removed after."""
    python = python or sys.executable
    root = work_root(state_dir)
    means = means or machine_means(str(home.parent if home.parent.is_dir() else root))
    run = SandboxRun(limits=means.describe(timeout, memory_bytes), complete=means.complete)
    work = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=root))
    cgroup = None
    try:
        copy = work / notebook_name
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if account is not None:
            os.chown(copy, account.uid, account.gid)
            os.chown(work, account.uid, account.gid)
        os.chmod(work, 0o700)
        if means.cgroup is not None:
            try:
                cgroup = cgroups.RunCgroup.create(means.cgroup, label, memory_bytes)
            except cgroups.CgroupError as exc:
                run.limits += f"; no memory cap this time ({exc})"
                run.complete = False
        read_only = [str(home)] if home.is_dir() else []
        cmd = sandbox_command(means, python=python, notebook=copy, result=work / RESULT_NAME, timeout=timeout,
                              account=account, read_only=read_only,
                              cgroup_procs=cgroup.procs_files if cgroup else [])
        env = sandbox_environment(work=work, data_dir=data_dir, full=full, account=account, python=python)
        started = time.monotonic()
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            known: list[Any] = []
            try:
                deadline = started + timeout
                while not _exited(proc.pid):
                    if time.monotonic() >= deadline:
                        run.timed_out = True
                        break
                    if not means.namespaces:  # remember the kernel, in case it leaves its session
                        known = list({p.pid: p for p in known + _descendants(proc.pid)}.values())
                    time.sleep(0.25 if time.monotonic() - started < 10 else 1.0)
            finally:
                _kill_everything(proc, cgroup, known)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    run.exit_code = proc.wait(timeout=30)
                run.seconds = round(time.monotonic() - started, 1)
                run.output_tail = _tail(log)
        if cgroup is not None:
            run.oom_kills = cgroup.oom_kills()
            run.peak_bytes = cgroup.peak_bytes()
        run.setup_failed = run.exit_code == SETUP_FAILED
        run.result = read_json_safely(work, RESULT_NAME)
        run.progress = read_json_safely(work, PROGRESS_NAME)
        return run
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(work, ignore_errors=True)
