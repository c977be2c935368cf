"""Local mode: each student's JupyterLab is a local process.

As root, the server runs as the student's own system user (`course-<name>`, created on first spawn) in a
private home; as an ordinary user, every server runs as that user in its own home folder. Before each
start the hub refreshes its content repository; the server's command (`singleuser/server_command.py`,
running as the student) then pulls it into `~/course` with nbgitpuller.

Like Docker mode, every server gets exactly the GPUs its policy assigns (`hub.gpu_policy`, the same
allocator and state file, released when the server stops) and, where the machine allows, its own CPU and
memory limits (`hub.limits`): both are taken before the server starts and given back after it stops.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import pwd
import sys
from pathlib import Path
from typing import Any as AnyType

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Any, Bool, List, Unicode

import singleuser
from course import settings as registry
from hub import limits
from hub.content import build_local_repo, content_source
from hub.gpu_policy import (
    GPU_VARIABLES,
    STATE_FILENAME,
    GpuAllocator,
    GpuAssignment,
    active_server_keys,
    gpu_environment,
    machine_gpus,
    server_key,
)
from hub.grading.cgroups import CgroupError
from hub.settings import Settings
from hub.system_users import ensure_shared_home, ensure_system_user, home_dir, running_as_root, system_username


class LocalResources:
    """What this machine hands each local server: GPUs by policy and CPU/memory limits (one for the hub).

    `host_gpus` is the machine's GPU list (what `shared` without COURSE_GPU_IDS gives everyone);
    `means` how limits are applied (`hub.limits.detect`).
    """

    def __init__(self, allocator: GpuAllocator, host_gpus: tuple[str, ...], memory_limit_mb: int | None,
                 means: limits.Means):
        self.allocator = allocator
        self.host_gpus = host_gpus
        self.memory_limit_mb = memory_limit_mb
        self.means = means

    def __deepcopy__(self, memo: dict) -> LocalResources:
        # traitlets deep-copies config values into every spawner; all spawners must share one allocator.
        return self


class CourseLocalSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with course accounts, homes and content refresh, GPUs by policy and limits."""

    homes_dir = Unicode(config=True, help="Folder holding each student's home.")
    as_system_users = Bool(True, config=True, help="Run each student as their own system user (needs root).")
    content_repo_dir = Unicode("", config=True, help="Hub-built content repository to refresh before a spawn.")
    notebooks_dir = Unicode("", config=True, help="Folder the content repository mirrors.")
    resources = Any(None, config=True, allow_none=True,
                    help="The hub's LocalResources (GPU allocator and limits), shared by every server.")
    limit_dirs = List(Unicode(), help="The cgroup folders of the running server (kept across hub restarts).")

    gpu_assignment: GpuAssignment | None = None
    limits_notice: str | None = None  # why this server runs without the limits the hub applies to others
    _resources_taken = False  # the pre-spawn step is done: the notices above are this spawn's
    _plain_cmd: list[str] | None = None

    @property
    def home(self) -> Path:
        return home_dir(Path(self.homes_dir), self.user.name)

    def _prepare(self) -> None:
        if self.as_system_users:
            ensure_system_user(self.user.name, Path(self.homes_dir))
        else:
            ensure_shared_home(self.user.name, Path(self.homes_dir))
        if self.content_repo_dir:
            try:
                if build_local_repo(Path(self.content_repo_dir), Path(self.notebooks_dir)):
                    self.log.info("Course content repository updated from the notebooks folder")
            except Exception as exc:  # noqa: BLE001 - students still get the last good version
                self.log.warning("Could not refresh the course content repository: %s", exc)

    async def start(self):
        await asyncio.get_running_loop().run_in_executor(None, self._prepare)
        return await super().start()

    def make_preexec_fn(self, name):
        limit_steps = self._limit_preexec()
        if self.as_system_users and not self._in_scope:
            drop = set_user_setuid(system_username(name))
        else:  # an ordinary user, or root whose command drops to the student itself (systemd-run, setpriv)
            home = str(self.home)

            def drop():
                os.chdir(home)

        def preexec():
            limit_steps()
            drop()

        return preexec

    def user_env(self, env):
        env["USER"] = system_username(self.user.name) if self.as_system_users else os.environ.get("USER", "")
        env["HOME"] = str(self.home)
        env["SHELL"] = "/bin/bash"
        return env

    # -- GPUs and limits (hub.gpu_policy, hub.limits) -----------------------------------------------------------
    @property
    def server_key(self) -> str:
        return server_key(self.user.name, self.name or "")

    @property
    def _in_scope(self) -> bool:
        means = self.resources.means if self.resources is not None else None
        return bool(means and means.kind == "systemd" and means.applies and self.as_system_users)

    def run_pre_spawn_hook(self):
        return self._take_resources()

    async def _take_resources(self) -> AnyType:
        """Before the server starts: its GPUs, then its cgroup (or scope), then the configured hook."""
        self._resources_taken = False
        self._assign_gpus()
        await asyncio.get_running_loop().run_in_executor(None, self._prepare_limits)
        self._resources_taken = True
        result = super().run_pre_spawn_hook()
        return await result if inspect.isawaitable(result) else result

    def _assign_gpus(self) -> GpuAssignment:
        if self.resources is None:
            self.gpu_assignment = GpuAssignment("none")
            return self.gpu_assignment
        allocator = self.resources.allocator
        key = self.server_key
        dropped = allocator.reconcile(active_server_keys(self.user.db) | {key})
        if dropped:
            self.log.info("GPU assignments dropped for servers no longer running: %s", ", ".join(dropped))
        assignment = allocator.assign(key)
        self.gpu_assignment = assignment
        env = gpu_environment(assignment, host_gpus=self.resources.host_gpus)
        if assignment.notice:
            self.log.warning("GPU for %s: none (%s)", key, assignment.notice)
        else:
            self.log.info("GPU for %s (%s policy): CUDA_VISIBLE_DEVICES=%r", key, assignment.policy,
                          env[registry.CUDA_VISIBLE_DEVICES.name])
        return assignment

    def _prepare_limits(self) -> None:
        """The server's own cgroup with its limits (a stale one of the same server is emptied first)."""
        self.limits_notice = None
        if self._plain_cmd is None:
            self._plain_cmd = list(self.cmd)
        self.cmd = list(self._plain_cmd)
        means = self.resources.means if self.resources is not None else None
        if means is None or not means.applies or not self.as_system_users:
            return
        key = self.server_key
        if means.kind == "systemd":
            limits.stop_scope(key)  # a scope left by a server the hub lost (nothing happens when there is none)
            entry = pwd.getpwnam(system_username(self.user.name))
            self.cmd = limits.scope_command(means, key, entry.pw_uid, entry.pw_gid, self._plain_cmd)
            return
        name = limits.group_name(key)
        if self.limit_dirs:  # left by an earlier server of this key (the hub has no server running for it)
            limits.ServerGroup(means.layout, [Path(d) for d in self.limit_dirs]).remove()
        try:
            group = limits.ServerGroup.create(means.layout, name,
                                              memory_bytes=means.memory_bytes if means.memory else None,
                                              cpu_cores=means.cpu_cores if means.cpu else None)
        except CgroupError as exc:
            self.limit_dirs = []
            self.limits_notice = ("This server runs without its CPU and memory limits "
                                  f"(the hub could not prepare them: {exc}).")
            self.log.warning("Limits for %s: none (%s)", key, exc)
            return
        group.kill()  # processes a lost server of this key left in the group
        self.limit_dirs = [str(d) for d in group.dirs]
        self.log.info("Limits for %s: %s", key, ", ".join(self.limit_dirs))

    def _limit_preexec(self):
        means = self.resources.means if self.resources is not None else None
        adjust = limits.SERVER_OOM_SCORE_ADJ if means is not None and means.oom_score_adj else None
        procs = [str(Path(d) / "cgroup.procs") for d in self.limit_dirs] if not self._in_scope else []
        return limits.preexec_steps(procs, adjust)

    def get_env(self):
        """The server's environment with exactly the GPU variables of its assignment (never the hub's own)."""
        env = super().get_env()
        for name in GPU_VARIABLES:
            env.pop(name, None)
        assignment = self.gpu_assignment or self._assign_gpus()
        host_gpus = self.resources.host_gpus if self.resources is not None else ()
        memory_limit_mb = self.resources.memory_limit_mb if self.resources is not None else None
        env.update(gpu_environment(assignment, memory_limit_mb, host_gpus=host_gpus))
        return env

    async def progress(self):
        """The spawn's notices (no GPU for this server, no limits) first, on the student's start-up page."""
        while self._spawn_pending and not self._resources_taken:  # the page opened before the pre-spawn step
            await asyncio.sleep(0.05)  # ends with it: a failed step ends the spawn, and _spawn_pending with it
        for notice in (self.gpu_assignment.notice if self.gpu_assignment else None, self.limits_notice):
            if notice:
                yield {"progress": 40, "message": notice}
        async for event in super().progress():
            yield event

    def run_post_stop_hook(self):
        return self._give_back_resources()

    async def _give_back_resources(self) -> AnyType:
        """After the server stopped: its GPUs back to the pool, its cgroup (and what is left in it) gone."""
        try:
            self.gpu_assignment = None
            self.limits_notice = None
            self._resources_taken = False
            if self.resources is not None and self.resources.allocator.release(self.server_key):
                self.log.info("GPU released by %s", self.server_key)
            await asyncio.get_running_loop().run_in_executor(None, self._remove_limits)
        except Exception:  # noqa: BLE001 - the configured hook still runs; reconcile catches up on GPUs
            self.log.exception("Giving back the GPUs and limits of %s failed", self.server_key)
        result = super().run_post_stop_hook()
        return await result if inspect.isawaitable(result) else result

    def _remove_limits(self) -> None:
        means = self.resources.means if self.resources is not None else None
        if self._in_scope:
            limits.stop_scope(self.server_key)
        if self.limit_dirs and means is not None and means.layout is not None:
            limits.ServerGroup(means.layout, [Path(d) for d in self.limit_dirs]).remove()
            self.log.info("Limits for %s removed", self.server_key)
        self.limit_dirs = []

    def load_state(self, state):
        super().load_state(state)
        self.limit_dirs = list(state.get("limit_dirs", []))

    def get_state(self):
        state = super().get_state()
        if self.limit_dirs:
            state["limit_dirs"] = list(self.limit_dirs)
        return state


def singleuser_command() -> list[str]:
    """The server's command (content sync as the student), then jupyterhub-singleuser from this environment."""
    bindir = Path(sys.executable).parent
    return [sys.executable, str(singleuser.SERVER_COMMAND), "--", str(bindir / "jupyterhub-singleuser")]


def configure_local(c, settings: Settings) -> None:
    """Local-process spawner set-up (local mode only)."""
    source = content_source(settings)
    c.JupyterHub.spawner_class = CourseLocalSpawner
    c.CourseLocalSpawner.homes_dir = str(settings.homes_dir)
    c.CourseLocalSpawner.as_system_users = running_as_root()
    c.CourseLocalSpawner.content_repo_dir = str(source.local_repo or "")
    c.CourseLocalSpawner.notebooks_dir = str(source.notebooks_dir or "")
    c.Spawner.cmd = singleuser_command()
    bindir = str(Path(sys.executable).parent)
    env = dict(c.Spawner.environment)
    env.update({
        "PATH": os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "PYTHONSTARTUP": str(singleuser.KERNEL_STARTUP),
        "JUPYTER_CONFIG_PATH": str(singleuser.FOLDER),
        registry.CONTENT_REPO.name: source.url,
        registry.CONTENT_BRANCH.name: source.branch,
        "LANG": os.environ.get("LANG") or "C.UTF-8",
    })
    c.Spawner.environment = env
    c.CourseLocalSpawner.resources = local_resources(settings)


def local_resources(settings: Settings, means: limits.Means | None = None) -> LocalResources:
    """The GPU allocator (its state file keeps assignments across hub restarts), the machine's GPUs and the
    limits' means; empty server groups a previous hub left are removed."""
    allocator = GpuAllocator(settings.gpu_policy, settings.gpu_ids, settings.state_dir / STATE_FILENAME)
    host_gpus = machine_gpus() if settings.gpu_policy == "shared" and not settings.gpu_ids else ()
    if means is None:
        means = limits.detect(settings.mem_limit_bytes, settings.cpu_limit)
    if means.kind == "cgroup":
        limits.remove_stale(means.layout)
    return LocalResources(allocator, host_gpus, settings.gpu_memory_limit_mb, means)
