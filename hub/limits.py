"""Local mode: each student's server in its own CPU and memory limits, and its kernels ended first.

`COURSE_MEM_LIMIT` and `COURSE_CPU_LIMIT` mean in local mode what they mean for Docker's containers: one
student's server, with every kernel and terminal it starts, may use that much memory (no swap) and that
many cores. A kernel that allocates past the limit is the process the kernel's OOM killer ends; the
student's server, their files and every other student carry on. The means are the machine's own:

- **systemd as PID 1** (as The Littlest JupyterHub does): the server's command runs through
  `systemd-run --scope` (unit `course-server-<name>.scope` in `course.slice`) with `MemoryMax=`,
  `MemorySwapMax=0`, `CPUQuota=` and `OOMPolicy=continue` (an OOM kill in the scope leaves the rest of it
  running), then `setpriv` drops to the student's account.
- **cgroups directly, as root**, otherwise. v1: `course-servers/<name>` below the hub's own memory and cpu
  cgroups (as the grader's runs, `hub.grading.cgroups`), with `memory.limit_in_bytes`,
  `memory.memsw.limit_in_bytes` (no swap, where swap is accounted; else `memory.swappiness` 0),
  `cpu.cfs_quota_us` / `cpu.cfs_period_us`. v2: `course-servers/<name>` at the root of the unified
  hierarchy with `memory.max`, `memory.swap.max` 0 and `cpu.max`. The spawner's preexec writes the new
  process into the group before it drops to the student, so every kernel it starts is inside.
- **an ordinary user**, or no writable controller: no limits; the start-up message says so in one line.

Which process dies: as root the server process gets `oom_score_adj` SERVER_OOM_SCORE_ADJ (children inherit
it), and each kernel raises its own to KERNEL_OOM_SCORE_ADJ (a process may always raise its own), so
inside the group (and on the whole machine) a kernel is chosen before its server. The groups stay
readable by the student, so a kernel can read its own OOM count (`memory.oom_control`'s `oom_kill` in v1,
`memory.events` in v2) and the limit, and say why it was restarted. Groups are removed when a server
stops (with whatever it left running) and, when empty, at the hub's start.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub.grading import cgroups
from hub.grading.cgroups import CgroupError, Layout, RunCgroup
from hub.grading.sandbox import format_bytes
from hub.system_users import running_as_root

PARENT = "course-servers"  # the folder of the students' servers' groups, beside the grader's course-grading
SERVER_OOM_SCORE_ADJ = -500  # a student's server (set as root before it drops privileges; kernels inherit it)
KERNEL_OOM_SCORE_ADJ = 500  # what each kernel raises its own to, so it is chosen before its server
CPU_PERIOD_US = 100_000
SLICE = "course.slice"
UNIT_PREFIX = "course-server-"
PROBE_NAME = "_probe"  # never a server's: hub names start with a letter
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")
_parents = threading.Lock()  # servers start and stop in threads: PARENT is made and removed under this lock


def group_name(key: str) -> str:
    """A server's group (and unit) name from its key: `alice`, `alice:big` for a named server."""
    return _UNSAFE.sub("_", key.replace("/", ":"))


def cpu_quota_us(cores: float, period_us: int = CPU_PERIOD_US) -> int:
    """CFS quota for `cores` cores per period (the kernel's minimum is 1 ms)."""
    return max(1000, round(cores * period_us))


def _cores(cores: float) -> str:
    shown = f"{cores:g}"
    return f"{shown} core" if shown == "1" else f"{shown} cores"


@dataclass(frozen=True)
class Means:
    """How this hub limits each student's server (found once at start by `detect`)."""

    kind: str  # "systemd", "cgroup" or "none"
    memory_bytes: int | None = None  # what COURSE_MEM_LIMIT asks for
    cpu_cores: float | None = None  # what COURSE_CPU_LIMIT asks for
    memory: bool = False  # the memory limit is applied
    cpu: bool = False  # the CPU limit is applied
    layout: Layout | None = None  # kind "cgroup"
    no_swap: bool = False  # swap is capped at 0 for the group (v1: accounted swap; v2: memory.swap.max)
    oom_score_adj: bool = False  # the server's oom_score_adj can be lowered (root with CAP_SYS_RESOURCE)
    missing: tuple[str, ...] = field(default_factory=tuple)  # why a wanted limit is not applied
    available: str = ""  # nothing asked: the means this machine would use, or why it has none

    @property
    def wanted(self) -> bool:
        return self.memory_bytes is not None or self.cpu_cores is not None

    @property
    def applies(self) -> bool:
        return self.memory or self.cpu

    def where(self) -> str:
        if self.kind == "systemd":
            return f"systemd scopes {UNIT_PREFIX}<name>.scope in {SLICE}"
        if self.kind == "cgroup" and self.layout is not None:
            return f"cgroup v{self.layout.version}: {PARENT}/<name>"
        return "none"

    def describe(self) -> str:
        """One line for the start-up message: which limits apply and which do not, and why."""
        asked = []
        if self.memory_bytes is not None:
            asked.append(f"memory {format_bytes(self.memory_bytes)}")
        if self.cpu_cores is not None:
            asked.append(f"CPU {_cores(self.cpu_cores)}")
        if not asked:
            means = self.available or "no means known"
            return (f"none set (COURSE_MEM_LIMIT, COURSE_CPU_LIMIT are empty; {means}): "
                    "one student's kernel may use all of this machine's memory and CPUs")
        why = "; ".join(self.missing) or "no means on this machine"
        if not self.applies:
            return f"NOT applied ({', '.join(asked)} per student): {why}"
        applied = []
        if self.memory:
            applied.append(f"memory {format_bytes(self.memory_bytes)}" + (", no swap" if self.no_swap else ""))
        if self.cpu:
            applied.append(f"CPU {_cores(self.cpu_cores)}")
        line = f"each student's server: {'; '.join(applied)} ({self.where()})"
        if self.memory:
            line += "; a kernel past the memory limit is ended alone"
            if not self.oom_score_adj:
                line += " (servers' oom_score_adj stays 0: no CAP_SYS_RESOURCE)"
        if self.memory_bytes is not None and not self.memory:
            line += f"; memory NOT limited: {why}"
        if self.cpu_cores is not None and not self.cpu:
            line += f"; CPU NOT limited: {why}"
        return line


# -- finding the means ----------------------------------------------------------------------------------------

def systemd_booted(run_dir: Path = Path("/run/systemd/system")) -> bool:
    """sd_booted(): systemd is PID 1 (not merely installed)."""
    return run_dir.is_dir()


def can_lower_oom_score_adj() -> bool:
    """Whether a child of the hub may lower its oom_score_adj (root with CAP_SYS_RESOURCE)."""
    try:
        done = subprocess.run(["sh", "-c", f"echo {SERVER_OOM_SCORE_ADJ} > /proc/self/oom_score_adj"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def detect(memory_bytes: int | None, cpu_cores: float | None, *, root: bool | None = None,
           layout: Layout | None | bool = True, systemd: bool | None = None,
           probe_systemd: Callable[[int | None, float | None], str | None] | None = None) -> Means:
    """The means this machine has for the limits asked for (each tried once, by making a probe group).

    `layout` True means this machine's cgroups (`hub.grading.cgroups.this_machine()`); tests pass a fake
    hierarchy, or None for a machine without one.
    """
    root = running_as_root() if root is None else root
    oom = root and can_lower_oom_score_adj()
    if not root:
        why = "the hub is not running as root, and only root can make cgroups"
        if memory_bytes is None and cpu_cores is None:
            return Means("none", available=f"no means to apply them here: {why}")
        return Means("none", memory_bytes, cpu_cores, missing=(why,))
    missing: list[str] = []
    systemd = (systemd_booted() and shutil.which("systemd-run") is not None) if systemd is None else systemd
    if memory_bytes is None and cpu_cores is None:  # nothing to probe: say what setting them would use
        if layout is True:
            layout = cgroups.this_machine()
        return Means("none", oom_score_adj=oom, available=_available(systemd, layout))
    if systemd:
        why = (probe_systemd or probe_scope)(memory_bytes, cpu_cores)
        if why is None:
            return Means("systemd", memory_bytes, cpu_cores, memory=memory_bytes is not None,
                         cpu=cpu_cores is not None, no_swap=True, oom_score_adj=oom)
        missing.append(f"systemd-run --scope failed ({why})")
    if layout is True:
        layout = cgroups.this_machine()
    if layout is None:
        missing.append("no memory cgroup on this machine")
        return Means("none", memory_bytes, cpu_cores, oom_score_adj=oom, missing=tuple(missing))
    memory = cpu = False
    if memory_bytes is not None:
        why = _probe(layout, "memory")
        memory = why is None
        if why:
            missing.append(why)
    if cpu_cores is not None:
        why = _probe(layout, "cpu")
        cpu = why is None
        if why:
            missing.append(why)
    return Means("cgroup" if memory or cpu else "none", memory_bytes, cpu_cores, memory=memory, cpu=cpu,
                 layout=layout, no_swap=memory and _swap_capped(layout), oom_score_adj=oom,
                 missing=tuple(missing))


def _available(systemd: bool, layout: Layout | None) -> str:
    if systemd:
        return "systemd scopes would apply them"
    if layout is None:
        return "no means to apply them here: no memory cgroup on this machine"
    return f"cgroup v{layout.version} would apply them"


def _controller_root(layout: Layout, controller: str) -> Path | None:
    """Where `controller`'s server groups go: v1 the hub's own cgroup of it; v2 the unified root."""
    if layout.version == 2:
        try:
            present = (layout.memory / "cgroup.controllers").read_text().split()
        except OSError:
            return None
        return layout.memory if controller in present else None
    return layout.memory if controller == "memory" else layout.cpu


def _probe(layout: Layout, controller: str) -> str | None:
    """None when a server group with a `controller` limit can be made here, else why not (short)."""
    if _controller_root(layout, controller) is None:
        return f"no {controller} controller (cgroup v{layout.version})"
    try:
        made = ServerGroup.create(layout, PROBE_NAME, memory_bytes=1 << 30 if controller == "memory" else None,
                                  cpu_cores=1.0 if controller == "cpu" else None)
    except CgroupError as exc:
        return str(exc)
    made.remove()
    return None


def _swap_capped(layout: Layout) -> bool:
    if layout.version == 1:
        return (layout.memory / "memory.memsw.limit_in_bytes").exists()
    return True  # memory.swap.max is written when the kernel has it (no swap file: nothing to cap)


def probe_scope(memory_bytes: int | None, cpu_cores: float | None) -> str | None:
    """None when systemd starts a scope with these limits, else its error (one line)."""
    cmd = ["systemd-run", "--scope", "--quiet", "--collect", f"--slice={SLICE}",
           *scope_properties(memory_bytes, cpu_cores), "--", "true"]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


# -- systemd ----------------------------------------------------------------------------------------------------

def scope_properties(memory_bytes: int | None, cpu_cores: float | None) -> list[str]:
    """systemd-run properties for a server's scope."""
    props = ["-p", "OOMPolicy=continue"]  # an OOM-killed kernel must not stop the scope (the server)
    if memory_bytes is not None:
        props += ["-p", f"MemoryMax={memory_bytes}", "-p", "MemorySwapMax=0"]
    if cpu_cores is not None:
        props += ["-p", f"CPUQuota={round(cpu_cores * 100)}%"]
    return props


def unit_name(key: str) -> str:
    return f"{UNIT_PREFIX}{group_name(key)}.scope"


def scope_command(means: Means, key: str, uid: int | None, gid: int | None, cmd: Sequence[str]) -> list[str]:
    """The server's command through `systemd-run --scope` (as root), then `setpriv` to the student."""
    drop = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--"]
    return ["systemd-run", "--scope", "--quiet", "--collect", f"--unit={unit_name(key)}", f"--slice={SLICE}",
            *scope_properties(means.memory_bytes if means.memory else None,
                              means.cpu_cores if means.cpu else None),
            "--", *drop, *cmd]


def stop_scope(key: str) -> None:
    """End a server's scope and whatever is still in it (nothing when it is gone already)."""
    for action in ("stop", "reset-failed"):
        try:
            subprocess.run(["systemctl", action, unit_name(key)], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            pass


# -- cgroups ----------------------------------------------------------------------------------------------------

def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


class ServerGroup:
    """The cgroup folder(s) of one student's server: the memory one first, then the cpu one (v1)."""

    def __init__(self, layout: Layout, dirs: list[Path]):
        self.layout = layout
        self.dirs = dirs

    @classmethod
    def create(cls, layout: Layout, name: str, *, memory_bytes: int | None, cpu_cores: float | None) -> ServerGroup:
        """Make (or reuse) the server's group with its limits; a CgroupError (one line) when it cannot."""
        with _parents:
            return cls._create(layout, name, memory_bytes, cpu_cores)

    @classmethod
    def _create(cls, layout: Layout, name: str, memory_bytes: int | None, cpu_cores: float | None) -> ServerGroup:
        made: list[Path] = []
        try:
            if layout.version == 1:
                if memory_bytes is not None:
                    memory = cls._folder(layout.memory / PARENT / name, made)
                    _limit_memory_v1(memory, memory_bytes)
                if cpu_cores is not None:
                    if layout.cpu is None:
                        raise OSError(0, "no cpu controller")
                    cpu = cls._folder(layout.cpu / PARENT / name, made)
                    _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                    _write(cpu / "cpu.cfs_quota_us", str(cpu_quota_us(cpu_cores)))
            else:
                wanted = tuple(c for c, v in (("memory", memory_bytes), ("cpu", cpu_cores)) if v is not None)
                parent = layout.memory / PARENT
                cgroups._enable(layout.memory, wanted, wanted)
                parent.mkdir(exist_ok=True)
                cgroups._enable(parent, wanted, wanted)
                leaf = cls._folder(parent / name, made)
                if memory_bytes is not None:
                    _write(leaf / "memory.max", str(memory_bytes))
                    if (leaf / "memory.swap.max").exists():
                        _write(leaf / "memory.swap.max", "0")
                if cpu_cores is not None:
                    _write(leaf / "cpu.max", f"{cpu_quota_us(cpu_cores)} {CPU_PERIOD_US}")
        except OSError as exc:
            cls(layout, made)._remove(wait=2.0)
            raise CgroupError(f"cannot prepare a cgroup v{layout.version} for a server "
                              f"({exc.strerror or exc})") from None
        return cls(layout, made)

    @staticmethod
    def _folder(path: Path, made: list[Path]) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o755)  # the student's kernel reads its limit and OOM count here
        made.append(path)
        return path

    @property
    def procs_files(self) -> list[str]:
        """The files the server's process writes itself into (in the preexec, before dropping to the student)."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def _run(self) -> RunCgroup:
        return RunCgroup(self.layout, list(self.dirs))

    def pids(self) -> list[int]:
        return self._run().pids()

    def oom_kills(self) -> int:
        return self._run().oom_kills()

    def kill(self, wait: float = 10.0) -> None:
        """End every process still in the group (what a stopped server left behind)."""
        self._run().kill(wait)

    def remove(self, wait: float = 10.0) -> None:
        """End what is left in the group and remove its folders (and PARENT once no server is left in it)."""
        with _parents:
            self._remove(wait)

    def _remove(self, wait: float) -> None:
        parents = {d.parent for d in self.dirs if d.parent.name == PARENT}
        self._run().remove(wait)
        self.dirs = []
        for parent in sorted(parents):
            try:
                parent.rmdir()
            except OSError:
                pass  # other servers' groups are still in it


def _limit_memory_v1(folder: Path, limit: int) -> None:
    memsw = folder / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        _write(memsw, "-1")  # memsw may never be below the limit: lift it, set the limit, then cap it
        _write(folder / "memory.limit_in_bytes", str(limit))
        _write(memsw, str(limit))
    else:
        _write(folder / "memory.limit_in_bytes", str(limit))
        if (folder / "memory.swappiness").exists():
            _write(folder / "memory.swappiness", "0")


def remove_stale(layout: Layout | None, rmdir: Callable[[Path], None] = Path.rmdir) -> list[Path]:
    """At the hub's start: remove the server groups no process is in (a running server's group stays:
    the kernel refuses to remove a cgroup with processes)."""
    if layout is None:
        return []
    parents = {layout.memory / PARENT}
    if layout.version == 1 and layout.cpu is not None:
        parents.add(layout.cpu / PARENT)
    removed = []
    with _parents:
        for parent in sorted(parents):
            try:
                children = sorted(p for p in parent.iterdir() if p.is_dir())
            except OSError:
                continue
            for child in children:
                try:
                    rmdir(child)
                    removed.append(child)
                except OSError:
                    continue  # processes are still in it (a server kept running through the restart)
            try:
                rmdir(parent)
            except OSError:
                pass
    return removed


# -- the server's process -----------------------------------------------------------------------------------------

def preexec_steps(procs_files: Sequence[str], oom_score_adj: int | None) -> Callable[[], None]:
    """What the new server process does first, as root: join its groups, lower its oom_score_adj.

    Runs between fork and exec in a process that has threads, so it uses raw system calls only.
    """
    files = [os.fsencode(p) for p in procs_files]
    adj = None if oom_score_adj is None else str(oom_score_adj).encode()

    def steps() -> None:
        for path in files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        if adj is not None:
            try:
                fd = os.open(b"/proc/self/oom_score_adj", os.O_WRONLY)
                try:
                    os.write(fd, adj)
                finally:
                    os.close(fd)
            except OSError:
                pass  # no CAP_SYS_RESOURCE: the server keeps its score (the start-up probe says so)

    return steps


def process_groups(pid: int | str = "self") -> dict[str, str]:
    """Controller -> cgroup path of a process, from /proc/<pid>/cgroup ("" is v2's unified one)."""
    found: dict[str, str] = {}
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                found[controller] = parts[2]
    return found
