"""Student accounts on the host: hub names, system user names and home folders.

When the hub runs as root, each student runs as their own system user `course-<name>`, created on first
spawn, with a private home (mode 0700) under COURSE_HUB_HOMES_DIR. When it runs as an ordinary user, every
server runs as that user (homes are separate folders, but not private).
"""
from __future__ import annotations

import os
import pwd
import re
import subprocess
import threading
import time
from pathlib import Path

from course.settings import HUB_NAME_HELP, HUB_NAME_PATTERN  # one pattern for sign-up, admins and system names

SYSTEM_PREFIX = "course-"
_HUB_NAME = re.compile(HUB_NAME_PATTERN)
_useradd_lock = threading.Lock()


class AccountError(RuntimeError):
    """A student's system account or home cannot be prepared (one-line message)."""


def valid_hub_name(name: str) -> bool:
    """True if `name` is a hub user name the course accepts."""
    return bool(_HUB_NAME.match(name))


def system_username(hub_name: str) -> str:
    """`course-<name>` for the student's system account; never an existing system account such as root."""
    if not valid_hub_name(hub_name):
        raise AccountError(f"{hub_name!r} is not a valid course user name: {HUB_NAME_HELP}")
    return SYSTEM_PREFIX + hub_name


def home_dir(homes_dir: Path, hub_name: str) -> Path:
    """The student's home folder."""
    if not valid_hub_name(hub_name):
        raise AccountError(f"{hub_name!r} is not a valid course user name: {HUB_NAME_HELP}")
    return homes_dir / hub_name


def running_as_root() -> bool:
    """True when the hub can create users and start servers as them."""
    return os.geteuid() == 0


def _prepare_homes_root(homes_dir: Path) -> None:
    homes_dir.mkdir(parents=True, exist_ok=True)
    # Students must be able to reach their own home, but not list the others.
    os.chmod(homes_dir, 0o711)


def ensure_system_user(hub_name: str, homes_dir: Path) -> pwd.struct_passwd:
    """Create (if needed) the student's system user and private home; return its passwd entry."""
    name = system_username(hub_name)
    home = home_dir(homes_dir, hub_name)
    with _useradd_lock:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            _prepare_homes_root(homes_dir)
            _useradd(name, home)
            entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise AccountError(f"system user {name} has uid 0; refusing to start a server as root")
    if Path(entry.pw_dir) != home:
        raise AccountError(f"system user {name} already exists with home {entry.pw_dir}, not {home}; "
                           f"remove it (userdel {name}) or set COURSE_HUB_HOMES_DIR to {Path(entry.pw_dir).parent}")
    _prepare_homes_root(homes_dir)
    if not home.exists():
        home.mkdir(mode=0o700)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    os.chmod(home, 0o700)
    return entry


# No subordinate uid/gid ranges (65,536 ids each in /etc/subuid and /etc/subgid, for rootless containers):
# students do not need them, and writing them was about 40% of each useradd, which runs one at a time
# when a class starts.
_USERADD_OPTIONS = ["--key", "SUB_UID_COUNT=0", "--key", "SUB_GID_COUNT=0"]


def _useradd(name: str, home: Path) -> None:
    cmd = ["useradd", *_USERADD_OPTIONS, "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash",
           "--user-group", "--comment", "course hub student", name]
    for attempt in range(5):  # another tool may hold the passwd lock for a moment
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode == 0:
            return
        if done.returncode == 9:  # already exists (created by someone else meanwhile)
            return
        time.sleep(0.2 * (attempt + 1))
    raise AccountError(f"useradd {name} failed: {done.stderr.strip() or done.returncode}")


def ensure_shared_home(hub_name: str, homes_dir: Path) -> Path:
    """Non-root mode: the student's home folder, owned by the hub's own user."""
    home = home_dir(homes_dir, hub_name)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home


def _blocking_dirs(path: Path) -> list[Path]:
    """Directories on the way to `path` that other users cannot enter (no o+x)."""
    blocked = []
    for folder in reversed([path, *path.parents] if path.is_dir() else list(path.parents)):
        try:
            if not os.stat(folder).st_mode & 0o001:
                blocked.append(folder)
        except FileNotFoundError:
            break
    return blocked


def student_access_problems(paths: list[Path]) -> list[Path]:
    """Folders that stop a student's system user from reaching `paths` (Python, the venv, the repo)."""
    found: list[Path] = []
    for path in paths:
        for folder in _blocking_dirs(Path(os.path.realpath(path))):
            if folder not in found:
                found.append(folder)
    return found


def runtime_paths() -> list[Path]:
    """What a student's server needs to read: the interpreter, its standard library, the venv."""
    import sys
    import sysconfig

    return [Path(sys.executable), Path(sysconfig.get_paths()["stdlib"]), Path(sys.prefix),
            Path(sysconfig.get_paths()["purelib"])]
