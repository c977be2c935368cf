"""Local mode: each student's JupyterLab is a local process.

As root, the server runs as the student's own system user (`course-<name>`, created on first spawn) in a
private home; as an ordinary user, every server runs as that user in its own home folder. Before each
start the hub refreshes its content repository; the server's command (`singleuser/server_command.py`,
running as the student) then pulls it into `~/course` with nbgitpuller.
"""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Bool, Unicode

import singleuser
from course import settings as registry
from hub.content import build_local_repo, content_source
from hub.settings import Settings
from hub.system_users import ensure_shared_home, ensure_system_user, home_dir, running_as_root, system_username


class CourseLocalSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with course accounts, homes and content refresh."""

    homes_dir = Unicode(config=True, help="Folder holding each student's home.")
    as_system_users = Bool(True, config=True, help="Run each student as their own system user (needs root).")
    content_repo_dir = Unicode("", config=True, help="Hub-built content repository to refresh before a spawn.")
    notebooks_dir = Unicode("", config=True, help="Folder the content repository mirrors.")

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
        if self.as_system_users:
            return set_user_setuid(system_username(name))
        home = str(self.home)

        def preexec():
            os.chdir(home)

        return preexec

    def user_env(self, env):
        env["USER"] = system_username(self.user.name) if self.as_system_users else os.environ.get("USER", "")
        env["HOME"] = str(self.home)
        env["SHELL"] = "/bin/bash"
        return env


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
