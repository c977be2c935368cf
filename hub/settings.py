"""Hub settings: one environment variable per setting, read once and validated here.

Every variable is documented in `.env.example` at the repository root. `load_settings` turns an
environment mapping into a frozen `Settings`; bad input raises `SettingsError` whose message is one
line naming the variable, the value and what is allowed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar
from urllib.parse import urlsplit

from hub.gpu_policy import GpuPolicyError, check_gpu_settings

REPO_ROOT = Path(__file__).resolve().parent.parent

MODES = ("local", "docker")
GPU_POLICIES = ("none", "shared", "spread", "exclusive")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_MEM = re.compile(r"^(\d+(?:\.\d+)?)([KMGT])B?$", re.IGNORECASE)  # a unit is required: Docker reads a bare 2048 as bytes

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value the hub cannot use; the message is one line for the instructor."""


@dataclass(frozen=True)
class Settings:
    """Validated hub settings (plain values; paths are absolute)."""

    mode: str = "local"
    bind_url: str = "http://127.0.0.1:8000"
    state_dir: Path = REPO_ROOT / "var" / "hub"
    homes_dir: Path = REPO_ROOT / "var" / "hub" / "homes"
    admin_users: tuple[str, ...] = ("admin",)
    admin_password: str | None = None
    admin_access: bool = False
    content_repo: str | None = None
    content_branch: str = "main"
    notebooks_dir: Path = REPO_ROOT / "notebooks"
    data_dir: Path = REPO_ROOT / "var" / "data"
    idle_timeout: int = 3600
    kernel_idle_timeout: int = 1200
    login_attempts: int = 5
    lockout_seconds: int = 600
    gpu_policy: str = "none"
    gpu_ids: tuple[str, ...] = ()
    gpu_memory_limit_mb: int | None = None
    cpu_limit: float | None = None
    mem_limit: str | None = None
    singleuser_image: str = "course-singleuser:latest"
    docker_network: str = "course-hub"
    data_volume: str = "course-data"

    @property
    def port(self) -> int:
        """The public port (the proxy API uses port + 1 and the hub port + 2, on loopback)."""
        parts = urlsplit(self.bind_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def base_url(self) -> str:
        """The URL prefix the hub is served under, ending with '/'."""
        path = urlsplit(self.bind_url).path or "/"
        return path if path.endswith("/") else path + "/"

    @property
    def db_url(self) -> str:
        """The hub's SQLite database inside the state folder."""
        return f"sqlite:///{self.state_dir / 'jupyterhub.sqlite'}"


def _bad(name: str, value: str, allowed: str) -> SettingsError:
    return SettingsError(f"{name}={value!r} is not allowed: {allowed}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise _bad(name, env[name], "use one of " + ", ".join(choices))
    return value


def _int(env: Mapping[str, str], name: str, default: int | None, *, minimum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, raw, f"use a whole number >= {minimum}") from None
    if value < minimum:
        raise _bad(name, raw, f"use a whole number >= {minimum}")
    return value


def _float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, raw, "use a positive number such as 2 or 0.5") from None
    if not value > 0 or value != value or value == float("inf"):
        raise _bad(name, raw, "use a positive number such as 2 or 0.5")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _bad(name, raw, "use true or false")


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    return path


def _text(env: Mapping[str, str], name: str, default: str | None,
          check: Callable[[str], bool] = lambda v: True, allowed: str = "") -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not check(raw):
        raise _bad(name, raw, allowed)
    return raw


def _bind_url(env: Mapping[str, str]) -> str:
    name = "COURSE_HUB_BIND_URL"
    raw = env.get(name, "").strip() or Settings.bind_url
    allowed = "use a URL such as http://127.0.0.1:8000 or http://0.0.0.0:8000/course/"
    parts = urlsplit(raw)
    try:
        parts.port  # raises ValueError on a port that is not a number in 0-65535
    except ValueError:
        raise _bad(name, raw, allowed) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise _bad(name, raw, allowed)
    if (parts.port or 0) > 65533:
        raise _bad(name, raw, "use a port up to 65533 (the next two ports are the proxy API and the hub)")
    return raw


def _admins(env: Mapping[str, str]) -> tuple[str, ...]:
    name = "COURSE_HUB_ADMIN_USERS"
    raw = env.get(name, "").strip()
    names = tuple(n.strip().lower() for n in raw.split(",") if n.strip()) if raw else ("admin",)
    for n in names:
        if not _USERNAME.match(n):
            raise _bad(name, raw, "use comma-separated user names of lowercase letters, digits, '.', '_' or '-'")
    return names


def _gpu_ids(env: Mapping[str, str]) -> tuple[str, ...]:
    name = "COURSE_GPU_IDS"
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    ids = tuple(part.strip() for part in raw.split(","))
    if any(not i.isdigit() for i in ids) or len(set(ids)) != len(ids):
        raise _bad(name, raw, "use distinct GPU indices separated by commas, such as 0,1")
    return ids


def _mem_limit(value: str) -> bool:
    match = _MEM.match(value)
    return bool(match) and float(match.group(1)) > 0


def _password(env: Mapping[str, str]) -> str | None:
    raw = env.get("COURSE_HUB_ADMIN_PASSWORD", "")
    if not raw:
        return None
    if len(raw) < 8:
        raise SettingsError("COURSE_HUB_ADMIN_PASSWORD is too short: use at least 8 characters "
                            "(or leave it empty to get a generated password)")
    return raw


def _content_repo(value: str) -> bool:
    return bool(re.match(r"^(https?://|git@|ssh://|file://|/)\S+$", value))


KNOWN_HUB_VARIABLES = frozenset({
    "COURSE_HUB_MODE", "COURSE_HUB_BIND_URL", "COURSE_HUB_STATE_DIR", "COURSE_HUB_HOMES_DIR",
    "COURSE_HUB_ADMIN_USERS", "COURSE_HUB_ADMIN_PASSWORD", "COURSE_HUB_ADMIN_ACCESS",
    "COURSE_HUB_NOTEBOOKS_DIR",
})


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read and validate every COURSE_* hub setting from `environ`."""
    env = environ
    for name in sorted(env):
        if name.startswith("COURSE_HUB_") and name not in KNOWN_HUB_VARIABLES:
            raise SettingsError(f"{name} is not a hub setting: known ones are "
                                + ", ".join(sorted(KNOWN_HUB_VARIABLES)) + " (see .env.example)")
    state_dir = _path(env, "COURSE_HUB_STATE_DIR", Settings.state_dir)
    settings = Settings(
        mode=_choice(env, "COURSE_HUB_MODE", "local", MODES),
        bind_url=_bind_url(env),
        state_dir=state_dir,
        homes_dir=_path(env, "COURSE_HUB_HOMES_DIR", state_dir / "homes"),
        admin_users=_admins(env),
        admin_password=_password(env),
        admin_access=_bool(env, "COURSE_HUB_ADMIN_ACCESS", False),
        content_repo=_text(env, "COURSE_CONTENT_REPO", None, _content_repo,
                           "use a git URL (https://..., git@host:repo.git, file:///path) or an absolute path"),
        content_branch=_text(env, "COURSE_CONTENT_BRANCH", "main",
                             lambda v: bool(re.match(r"^[A-Za-z0-9._/-]+$", v)) and ".." not in v,
                             "use a git branch name such as main"),
        notebooks_dir=_path(env, "COURSE_HUB_NOTEBOOKS_DIR", Settings.notebooks_dir),
        data_dir=_path(env, "COURSE_DATA_DIR", Settings.data_dir),
        idle_timeout=_int(env, "COURSE_IDLE_TIMEOUT", 3600, minimum=0),
        kernel_idle_timeout=_int(env, "COURSE_KERNEL_IDLE_TIMEOUT", 1200, minimum=0),
        login_attempts=_int(env, "COURSE_LOGIN_ATTEMPTS", 5, minimum=1),
        lockout_seconds=_int(env, "COURSE_LOCKOUT_SECONDS", 600, minimum=0),
        gpu_policy=_choice(env, "COURSE_GPU_POLICY", "none", GPU_POLICIES),
        gpu_ids=_gpu_ids(env),
        gpu_memory_limit_mb=_int(env, "COURSE_GPU_MEMORY_LIMIT_MB", None, minimum=1),
        cpu_limit=_float(env, "COURSE_CPU_LIMIT"),
        mem_limit=_text(env, "COURSE_MEM_LIMIT", None, _mem_limit,
                        "use a positive size with a unit, such as 4G, 512M or 2048M"),
        singleuser_image=_text(env, "COURSE_SINGLEUSER_IMAGE", "course-singleuser:latest",
                               lambda v: bool(re.match(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", v)),
                               "use a Docker image name such as course-singleuser:latest"),
        docker_network=_text(env, "COURSE_DOCKER_NETWORK", "course-hub", _docker_name,
                             "use letters, digits, '_', '.' or '-'"),
        data_volume=_text(env, "COURSE_DATA_VOLUME", "course-data", _docker_name,
                          "use letters, digits, '_', '.' or '-'"),
    )
    try:  # a policy that cannot work with the GPU list stops the hub here, in one line
        check_gpu_settings(settings.gpu_policy, settings.gpu_ids)
    except GpuPolicyError as exc:
        raise SettingsError(str(exc)) from None
    return settings


def _docker_name(value: str) -> bool:
    return bool(re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", value))
