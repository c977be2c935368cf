"""Which GPUs a student's server may use: the `none`, `shared`, `spread` and `exclusive` policies.

Plain Python (no Docker import), so the rules are unit-tested on their own. `GpuAllocator` hands out
GPU ids per server and keeps its assignments in a JSON file in the hub's state folder, written
atomically, so a hub restart keeps them. The spawner asks with `assign(key)` before a server starts,
calls `release(key)` when it stops, and `reconcile(running_keys)` drops what a crash left behind.

- `none`: no GPU for anyone.
- `shared`: every server sees every GPU (all of COURSE_GPU_IDS, or all on the host when that is empty).
- `spread`: one GPU per server, the least loaded first; ties go to the lowest id.
- `exclusive`: one server per GPU; when every GPU is taken the server runs on CPU only, with a notice.

Both modes apply an assignment with `gpu_environment`. In Docker mode the container runtime picks the
GPUs (NVIDIA_VISIBLE_DEVICES and device requests); in local mode servers are processes on the host, so
CUDA_VISIBLE_DEVICES itself carries the assigned ids, and `shared` without COURSE_GPU_IDS means the GPUs
`machine_gpus()` finds (`nvidia-smi -L`, which reads them through NVML).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from course import settings
from course.settings import GPU_POLICIES, HIDDEN_DEVICES

STATE_FILENAME = "gpu-assignments.json"


class GpuPolicyError(ValueError):
    """The GPU settings cannot work together; the message is one line for the instructor."""


@dataclass(frozen=True)
class GpuAssignment:
    """The GPUs one server may use. `devices == ()` and `all_gpus is False` means CPU only."""

    policy: str
    devices: tuple[str, ...] = ()
    all_gpus: bool = False
    notice: str | None = None

    @property
    def cpu_only(self) -> bool:
        return not self.devices and not self.all_gpus

    @property
    def visible_devices(self) -> str:
        """The value for NVIDIA_VISIBLE_DEVICES: exactly these ids, `all`, or `void` (none)."""
        if self.all_gpus:
            return "all"
        return ",".join(self.devices) if self.devices else HIDDEN_DEVICES


def check_gpu_settings(policy: str, gpu_ids: Sequence[str]) -> None:
    """Raise GpuPolicyError (one line) if `policy` cannot work with `gpu_ids`."""
    if policy not in GPU_POLICIES:
        raise GpuPolicyError(f"{settings.GPU_POLICY.name}={policy!r} is not allowed: use one of "
                             + ", ".join(GPU_POLICIES))
    if policy in ("spread", "exclusive") and not gpu_ids:
        raise GpuPolicyError(f"COURSE_GPU_POLICY={policy} needs COURSE_GPU_IDS, the GPUs to hand out "
                             "(for example 0,1; `nvidia-smi -L` lists them)")
    if len(set(gpu_ids)) != len(gpu_ids):
        raise GpuPolicyError(f"COURSE_GPU_IDS={','.join(gpu_ids)!r} lists a GPU twice: list each id once")


def exhausted_notice(total: int) -> str:
    """What a student reads when the exclusive policy has no free GPU left."""
    if total == 1:
        taken = "The only GPU is in use by another student"
    else:
        taken = f"All {total} GPUs are in use by other students"
    return (f"{taken}, so this server runs on CPU only. "
            "To try again later: File > Hub Control Panel > Stop My Server, then start it.")


class GpuAllocator:
    """Hands out GPU ids to servers under one policy, remembering assignments in `state_file`."""

    def __init__(self, policy: str, gpu_ids: Sequence[str] = (), state_file: Path | None = None):
        check_gpu_settings(policy, gpu_ids)
        self.policy = policy
        self.gpu_ids: tuple[str, ...] = tuple(sorted(gpu_ids, key=_id_order))
        self.state_file = state_file
        self._assigned: dict[str, str] = self._load()

    # -- queries ---------------------------------------------------------------------------------
    @property
    def assignments(self) -> dict[str, str]:
        """Server key -> GPU id, for the policies that hand out one GPU per server."""
        return dict(self._assigned)

    def load(self) -> dict[str, int]:
        """How many servers each configured GPU serves now."""
        counts = {gpu: 0 for gpu in self.gpu_ids}
        for gpu in self._assigned.values():
            if gpu in counts:
                counts[gpu] += 1
        return counts

    # -- changes ---------------------------------------------------------------------------------
    def assign(self, key: str) -> GpuAssignment:
        """The GPUs for server `key`; a server that already holds a GPU keeps it."""
        if self.policy == "none":
            return GpuAssignment("none")
        if self.policy == "shared":
            if self.gpu_ids:
                return GpuAssignment("shared", devices=self.gpu_ids)
            return GpuAssignment("shared", all_gpus=True)
        held = self._assigned.get(key)
        if held is not None and held in self.gpu_ids:
            return GpuAssignment(self.policy, devices=(held,))
        load = self.load()
        if self.policy == "exclusive":
            free = [gpu for gpu in self.gpu_ids if load[gpu] == 0]
            if not free:
                return GpuAssignment("exclusive", notice=exhausted_notice(len(self.gpu_ids)))
            chosen = free[0]
        else:  # spread: least loaded, ties to the lowest id (gpu_ids is sorted)
            chosen = min(self.gpu_ids, key=lambda gpu: load[gpu])
        self._assigned[key] = chosen
        self._save()
        return GpuAssignment(self.policy, devices=(chosen,))

    def release(self, key: str) -> bool:
        """Forget the GPU of server `key` (it stopped). Returns whether it held one."""
        if self._assigned.pop(key, None) is None:
            return False
        self._save()
        return True

    def reconcile(self, running_keys: Iterable[str]) -> list[str]:
        """Drop the assignments of servers not in `running_keys`; returns the dropped keys, sorted."""
        running = set(running_keys)
        stale = sorted(key for key in self._assigned if key not in running)
        for key in stale:
            del self._assigned[key]
        if stale:
            self._save()
        return stale

    # -- persistence -----------------------------------------------------------------------------
    def _load(self) -> dict[str, str]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            assigned = data["assignments"]
            if not isinstance(assigned, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in assigned.items()):
                raise ValueError
        except (OSError, ValueError, KeyError, TypeError):
            raise GpuPolicyError(f"{self.state_file} is not a GPU assignment file the hub can read: "
                                 "stop the hub, delete it and start the hub again") from None
        return dict(assigned)

    def _save(self) -> None:
        if self.state_file is None:
            return
        payload = json.dumps({"version": 1, "policy": self.policy, "assignments": self._assigned},
                             indent=2, sort_keys=True)
        write_atomic(self.state_file, payload + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def gpu_environment(assignment: GpuAssignment, memory_limit_mb: int | None = None, *,
                    host_gpus: Sequence[str] | None = None) -> dict[str, str]:
    """Environment variables that give a server exactly the GPUs of `assignment`, and say which policy.

    Docker mode (`host_gpus` None): CUDA base images set NVIDIA_VISIBLE_DEVICES=all, so it is always set
    here: the assigned ids, or `void` for a CPU-only server. Inside the container the GPUs it was given
    are numbered from 0, so CUDA_VISIBLE_DEVICES is set only to hide every GPU from a CPU-only server.

    Local mode (`host_gpus` = `machine_gpus()`, what `shared` without COURSE_GPU_IDS hands out): the
    server is a process on the host, so CUDA_VISIBLE_DEVICES is always set, to exactly the assigned ids
    ("" for CPU only), whatever the hub's own environment says; NVIDIA_VISIBLE_DEVICES says the same.

    With a GPU, TensorFlow grows its memory as needed instead of taking the whole card, and the optional
    per-student cap travels in COURSE_GPU_MEMORY_LIMIT_MB for `course.gpu.configure_from_env()` in each
    kernel. COURSE_GPU_POLICY names the policy, and COURSE_GPU_NOTICE says why there is no GPU.
    """
    if host_gpus is not None:
        assignment = on_this_machine(assignment, host_gpus)
    env = {settings.NVIDIA_VISIBLE_DEVICES.name: assignment.visible_devices,
           settings.GPU_POLICY.name: assignment.policy}
    if assignment.cpu_only:
        env[settings.CUDA_VISIBLE_DEVICES.name] = ""
    else:
        if host_gpus is not None:
            env[settings.CUDA_VISIBLE_DEVICES.name] = ",".join(assignment.devices)
        env.update(gpu_memory_environment(memory_limit_mb))
    if assignment.notice:
        env[settings.GPU_NOTICE.name] = assignment.notice
    return env


def on_this_machine(assignment: GpuAssignment, host_gpus: Sequence[str]) -> GpuAssignment:
    """Local mode: `all_gpus` made concrete as the machine's own GPUs (CPU only on a machine with none)."""
    if not assignment.all_gpus:
        return assignment
    return GpuAssignment(assignment.policy, devices=tuple(sorted(host_gpus, key=_id_order)),
                         notice=assignment.notice)


def gpu_memory_environment(memory_limit_mb: int | None) -> dict[str, str]:
    """What every kernel with a GPU gets: TensorFlow grows its memory as needed, under the optional cap."""
    env = {settings.GPU_MEMORY_GROWTH.name: "1", settings.TF_FORCE_GPU_ALLOW_GROWTH.name: "true"}
    if memory_limit_mb:
        env[settings.GPU_MEMORY_LIMIT_MB.name] = str(memory_limit_mb)
    return env


# Every variable gpu_environment may set: a spawner clears them before applying a new assignment.
GPU_VARIABLES = tuple(s.name for s in (settings.NVIDIA_VISIBLE_DEVICES, settings.CUDA_VISIBLE_DEVICES,
                                       settings.GPU_POLICY, settings.GPU_MEMORY_GROWTH,
                                       settings.TF_FORCE_GPU_ALLOW_GROWTH, settings.GPU_MEMORY_LIMIT_MB,
                                       settings.GPU_NOTICE))


def server_key(username: str, server_name: str = "") -> str:
    """The key of one server: the user name, plus `/name` for a named server."""
    return f"{username}/{server_name}" if server_name else username


def active_server_keys(db) -> set[str]:
    """Keys of every server the hub counts as running or starting (it has a server row in `db`)."""
    from jupyterhub import orm  # only the hub has JupyterHub; the rules above are plain Python

    rows = db.query(orm.Spawner).filter(orm.Spawner.server_id.isnot(None)).all()
    return {server_key(row.user.name, row.name or "") for row in rows if row.user is not None}


# `nvidia-smi -L` prints one line per GPU ("GPU 0: NVIDIA H200 (UUID: GPU-...)"); MIG devices are indented.
_GPU_LINE = re.compile(r"^GPU (\d+):", re.MULTILINE)


def parse_gpu_list(text: str) -> tuple[str, ...]:
    """The GPU indices in the output of `nvidia-smi -L`, in numeric order."""
    return tuple(sorted(dict.fromkeys(_GPU_LINE.findall(text)), key=_id_order))


def machine_gpus(timeout: float = 20.0) -> tuple[str, ...]:
    """The GPUs of this machine as `nvidia-smi -L` (NVML) lists them; () when there is none or no driver.

    Tests give the hub a fake list with a stand-in `nvidia-smi` first on its PATH (or monkeypatch this).
    """
    program = shutil.which("nvidia-smi")
    if program is None:
        return ()
    try:
        done = subprocess.run([program, "-L"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return parse_gpu_list(done.stdout) if done.returncode == 0 else ()


def _id_order(gpu: str) -> tuple[int, int | str]:
    return (0, int(gpu)) if gpu.isdigit() else (1, gpu)
