"""Hub secrets, generated on first start and kept in the state folder with mode 0600.

Nothing here is ever printed or logged; callers get paths and values, never a message with a secret.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECRETS_DIRNAME = "secrets"
GRADEBOOK_COOKIE_SECRET = "gradebook_cookie_secret"  # signs the gradebook service's own login cookie


@dataclass(frozen=True)
class HubSecrets:
    """Where the hub's secrets live, and the token values the configuration needs."""

    cookie_secret_file: Path
    proxy_auth_token: str
    culler_token: str
    tools_token: str
    gradebook_token: str


def _write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 (never readable by others, even for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """Return the content of the secret file at `path`, creating it with `make()` if missing.

    An existing file keeps its content; its mode is put back to 0600 if it drifted.
    """
    try:
        _write_private(path, make())
    except FileExistsError:
        pass
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return path.read_bytes()


def secrets_dir(state_dir: Path) -> Path:
    """The private folder (mode 0700) holding the secrets inside `state_dir`."""
    folder = state_dir / SECRETS_DIRNAME
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def ensure_secrets(state_dir: Path) -> HubSecrets:
    """Create (first start) or read the cookie secrets, proxy token and service tokens."""
    folder = secrets_dir(state_dir)
    cookie = folder / "jupyterhub_cookie_secret"
    # JupyterHub reads the cookie secret file itself and wants hex text.
    read_or_create(cookie, lambda: secrets.token_hex(32).encode())
    gradebook_cookie_secret(state_dir)

    def token(name: str) -> str:
        return read_or_create(folder / name, lambda: secrets.token_hex(32).encode()).decode().strip()

    return HubSecrets(
        cookie_secret_file=cookie,
        proxy_auth_token=token("proxy_auth_token"),
        culler_token=token("idle_culler_token"),
        tools_token=token("course_tools_token"),
        gradebook_token=token("gradebook_token"),
    )


def gradebook_cookie_secret(state_dir: Path) -> bytes:
    """The secret the gradebook service signs its cookies with (created on first use, mode 0600)."""
    return read_or_create(secrets_dir(state_dir) / GRADEBOOK_COOKIE_SECRET,
                          lambda: secrets.token_hex(32).encode()).strip()
