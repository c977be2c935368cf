"""A memory cap (and a process cap) for one grading run, through a cgroup of its own.

RLIMIT_AS cannot cap TensorFlow (it reserves far more address space than it uses), so the cap is a
cgroup's, which counts what the processes really use and lets the kernel's OOM killer end the run at the
limit. Two layouts:

- **cgroup v1** (a `memory` hierarchy): a child of the hub's own memory cgroup, so the run stays inside
  whatever limits the hub has; `memory.limit_in_bytes` and, where swap is accounted,
  `memory.memsw.limit_in_bytes` (no swapping past the cap); the `pids` hierarchy likewise when mounted.
- **cgroup v2** (the unified hierarchy): `course-grading/<run>` below the root of the mount, because a
  v2 cgroup that holds processes (the hub's own) cannot have controllers for children; `memory.max`,
  `memory.swap.max` = 0 and `pids.max`.

Creating cgroups and moving a process into one needs root (or a delegated hierarchy); without it the run
has no memory cap and the run's detail says so. Paths are parameters, so the tests use a fake hierarchy.
"""
from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PARENT = "course-grading"
PIDS_MAX = 1024  # processes and threads one run may have (TensorFlow starts dozens of threads)


@dataclass(frozen=True)
class Layout:
    """Where this machine's cgroups are: v1 with a folder per controller, or v2 with one folder."""

    version: int
    memory: Path  # v1: the hub's own memory cgroup; v2: the root of the unified mount
    pids: Path | None = None  # v1 only: the hub's own pids cgroup
    cpu: Path | None = None  # v1 only: the hub's own cpu cgroup (students' servers' CPU limits, hub.limits)

    def describe(self) -> str:
        return f"cgroup v{self.version}"


def _mounts(mountinfo: str) -> list[tuple[str, str, str, str]]:
    """(root, mount point, fstype, super options) of each line of /proc/self/mountinfo."""
    found = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3:
            found.append((fields[3], fields[4].replace("\\040", " "), tail[0], tail[2]))
    return found


def find_layout(mountinfo: str, own_cgroups: str) -> Layout | None:
    """The layout from the texts of /proc/self/mountinfo and /proc/self/cgroup (None: no memory cgroup)."""
    mounts = _mounts(mountinfo)
    own: dict[str, str] = {}
    for line in own_cgroups.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                own[controller] = parts[2]

    def v1_dir(controller: str) -> Path | None:
        for root, point, fstype, options in mounts:
            if fstype == "cgroup" and controller in options.split(","):
                path = own.get(controller, "/")
                relative = os.path.relpath(path, root) if path.startswith(root) else "."
                return Path(point) / relative if relative != "." else Path(point)
        return None

    memory = v1_dir("memory")
    if memory is not None:
        return Layout(1, memory, v1_dir("pids"), v1_dir("cpu"))
    for _root, point, fstype, _options in mounts:
        if fstype == "cgroup2":
            controllers = Path(point) / "cgroup.controllers"
            try:
                if "memory" in controllers.read_text().split():
                    return Layout(2, Path(point))
            except OSError:
                continue
    return None


def this_machine() -> Layout | None:
    """The layout of the machine the hub runs on."""
    try:
        return find_layout(Path("/proc/self/mountinfo").read_text(), Path("/proc/self/cgroup").read_text())
    except OSError:
        return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _read_key(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


class CgroupError(OSError):
    """A cgroup could not be prepared (the run then goes on without a memory cap, and says so)."""


class RunCgroup:
    """The cgroup(s) of one run: created with its limits, joined by the sandbox's first process, read for
    OOM kills and peak memory, emptied and removed afterwards."""

    def __init__(self, layout: Layout, dirs: list[Path]):
        self.layout = layout
        self.dirs = dirs

    @classmethod
    def create(cls, layout: Layout, label: str, memory_bytes: int, pids_max: int = PIDS_MAX) -> RunCgroup:
        name = f"{label}-{secrets.token_hex(4)}"
        made: list[Path] = []
        try:
            if layout.version == 1:
                memory = layout.memory / PARENT / name
                memory.mkdir(parents=True)
                made.append(memory)
                _write(memory / "memory.limit_in_bytes", str(memory_bytes))
                if (memory / "memory.memsw.limit_in_bytes").exists():
                    _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
                if layout.pids is not None:
                    pids = layout.pids / PARENT / name
                    pids.mkdir(parents=True)
                    made.append(pids)
                    _write(pids / "pids.max", str(pids_max))
            else:
                parent = layout.memory / PARENT
                _enable(layout.memory)
                parent.mkdir(exist_ok=True)
                _enable(parent)
                leaf = parent / name
                leaf.mkdir()
                made.append(leaf)
                _write(leaf / "memory.max", str(memory_bytes))
                if (leaf / "memory.swap.max").exists():
                    _write(leaf / "memory.swap.max", "0")
                if (leaf / "pids.max").exists():
                    _write(leaf / "pids.max", str(pids_max))
        except OSError as exc:
            cls(layout, made).remove()
            raise CgroupError(f"cannot prepare a {layout.describe()} for the run ({exc.strerror or exc})") from None
        return cls(layout, made)

    @property
    def procs_files(self) -> list[str]:
        """The files the sandbox's first process writes itself into (before it drops its privileges)."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this cgroup."""
        if not self.dirs:
            return 0
        leaf = self.dirs[0]
        if self.layout.version == 1:
            return _read_key(leaf / "memory.oom_control", "oom_kill")
        return _read_key(leaf / "memory.events", "oom_kill")

    def peak_bytes(self) -> int | None:
        if not self.dirs:
            return None
        name = "memory.max_usage_in_bytes" if self.layout.version == 1 else "memory.peak"
        try:
            return int((self.dirs[0] / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self) -> list[int]:
        found: set[int] = set()
        for folder in self.dirs:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return sorted(found)

    def kill(self, wait: float = 10.0) -> None:
        """End every process still in the cgroup (a notebook's daemon too), and wait until none is left."""
        if not self.dirs:
            return
        killer = self.dirs[0] / "cgroup.kill"
        deadline = time.monotonic() + wait
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > deadline:
                return
            if self.layout.version == 2 and killer.exists():
                try:
                    _write(killer, "1")
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)

    def remove(self, wait: float = 10.0) -> None:
        """Remove the run's cgroup folders (each once its processes are gone)."""
        deadline = time.monotonic() + wait
        for folder in reversed(self.dirs):
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    self.kill(wait=1.0)
                    time.sleep(0.05)
        self.dirs = []


def _enable(folder: Path, controllers: tuple[str, ...] = ("memory", "pids"),
            required: tuple[str, ...] = ("memory",)) -> None:
    """v2: let `folder`'s children have memory (and pids) limits; an OSError when a `required` one fails."""
    control = folder / "cgroup.subtree_control"
    present = control.read_text().split() if control.exists() else []
    for controller in controllers:
        if controller not in present:
            try:
                _write(control, f"+{controller}")
            except OSError:
                if controller in required:
                    raise


def probe(layout: Layout | None) -> tuple[Layout | None, str | None]:
    """(the layout, None) when a run's cgroup can be made here; (None, why not) otherwise."""
    if layout is None:
        return None, "no memory cgroup on this machine"
    try:
        RunCgroup.create(layout, "probe", 1 << 30).remove()
    except CgroupError as exc:
        return None, str(exc)
    return layout, None
