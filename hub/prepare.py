"""What `python -m hub` prepares before JupyterHub runs: state folder, secrets, content, data, first admin,
and the message printed at start."""
from __future__ import annotations

import getpass
import os
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from course import settings as registry
from hub import accounts
from hub.content import build_local_repo, content_source
from hub.secret_files import ensure_secrets
from hub.settings import Settings
from hub.system_users import SYSTEM_PREFIX, running_as_root, runtime_paths, student_access_problems


class StartupError(RuntimeError):
    """The hub cannot start; the message is one line saying what to do."""


@dataclass
class Prepared:
    """What preparation did, for the start-up message."""

    settings: Settings
    new_admins: list[accounts.NewAccount] = field(default_factory=list)
    content_commit: str | None = None
    as_root: bool = False
    limits: Any = None  # local mode: hub.limits.Means, how each student's server is limited
    host_gpus: tuple[str, ...] | None = None  # local mode: the machine's GPUs (nvidia-smi -L)


def check_tools(settings: Settings) -> None:
    """The programs the hub needs are installed."""
    from hub.common import proxy_command

    if settings.mode == "local" and not shutil.which(proxy_command()[0]):
        raise StartupError("configurable-http-proxy not found: run `npm ci` in the repository "
                           "(or `npm install -g configurable-http-proxy`)")
    if not shutil.which("git"):
        raise StartupError("git not found: install git (the course content is synced with it)")
    if settings.mode == "local" and running_as_root():
        import singleuser  # local mode only: the hub's image for Docker mode does not carry the student's side

        blocked = student_access_problems([*runtime_paths(), singleuser.SERVER_COMMAND])
        if blocked:
            first = blocked[0]
            raise StartupError(
                f"students' accounts cannot run this Python ({os.path.realpath(sys.executable)}): {first} is "
                f"mode {os.stat(first).st_mode & 0o777:o} and other users cannot enter it. Install the course "
                f"with a Python all users can run (e.g. under /opt or /usr/local), allow entering it with "
                f"`chmod o+x {' '.join(map(str, blocked))}`, or run the hub as an ordinary user")


def check_student_paths(settings: Settings) -> None:
    """As root: students' accounts can reach their homes, the content repository and the shared data."""
    if settings.mode != "local" or not running_as_root():
        return
    for what, path in ((registry.HUB_STATE_DIR.name, settings.state_dir),
                       (registry.HUB_HOMES_DIR.name, settings.homes_dir), (registry.DATA_DIR.name, settings.data_dir)):
        blocked = [p for p in student_access_problems([path]) if p != path]
        if blocked:
            raise StartupError(
                f"{what}={path} is inside {blocked[0]}, which students' accounts cannot enter "
                f"(mode {os.stat(blocked[0]).st_mode & 0o777:o}): choose a folder outside it, "
                f"or allow entering with `chmod o+x {' '.join(map(str, blocked))}`")


def prepare_state_dir(state: Path) -> None:
    """Create the state folder: traversable (students reach their homes and the content) but not listable."""
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o711)
    for name in ("jupyterhub.sqlite",):
        path = state / name
        if path.exists():
            os.chmod(path, 0o600)


def make_read_only_for_students(folder: Path) -> None:
    """Shared data: directories 0755 and files 0644 (0755 if executable), so only the owner can write."""
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            os.chmod(path, 0o755 if mode & 0o100 else 0o644)


def prepare(settings: Settings) -> Prepared:
    """Everything before JupyterHub starts; idempotent."""
    check_tools(settings)
    prepare_state_dir(settings.state_dir)
    ensure_secrets(settings.state_dir)
    done = Prepared(settings, as_root=running_as_root())
    source = content_source(settings)
    if settings.mode == "docker":
        from hub.docker_setup import DockerSetupError, prepare_docker

        try:
            prepare_docker(settings)
        except DockerSetupError as exc:
            raise StartupError(str(exc)) from None
    if source.local_repo is not None and settings.mode in ("local", "docker"):
        try:
            done.content_commit = build_local_repo(source.local_repo, source.notebooks_dir)
        except (FileNotFoundError, RuntimeError) as exc:
            raise StartupError(f"course content: {exc}") from None
    if settings.mode == "local":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if done.as_root:
            make_read_only_for_students(settings.data_dir)
        settings.homes_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.homes_dir, 0o711)
        check_student_paths(settings)
        from hub import limits  # local mode only (it needs the grader's cgroups, which need the student's side)
        from hub.gpu_policy import machine_gpus

        done.limits = limits.detect(settings.mem_limit_bytes, settings.cpu_limit, root=done.as_root)
        done.host_gpus = machine_gpus()
    db = accounts.open_db(settings)
    try:
        done.new_admins = accounts.ensure_admins(db, settings)
    finally:
        db.close()
    os.chmod(settings.state_dir / "jupyterhub.sqlite", 0o600)
    return done


MACHINE = "<this machine's name>"  # Docker mode: the hub's container cannot know the name students use


def public_url(settings: Settings) -> str:
    """Where to open the hub in a browser."""
    if settings.mode == "docker":
        return docker_public_url(settings)
    parts = urlsplit(settings.bind_url)
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{settings.base_url}"


def docker_public_url(settings: Settings) -> str:
    """Docker mode: the address the compose file's front publishes (HTTPS where it ends TLS)."""
    tls = settings.tls
    published = settings.docker_publish_tls if tls.enabled else settings.docker_publish
    address, _, port = published.rpartition(":")
    host = tls.domain if tls.kind == "acme" else (address.strip("[]") or MACHINE)
    scheme, default = ("https", "443") if tls.enabled else ("http", "80")
    netloc = host if port == default else f"{host}:{port}"
    return f"{scheme}://{netloc}{settings.base_url}"


def https_line(settings: Settings) -> str:
    """How the hub is served, in one line (and what to set when it is plain HTTP)."""
    from hub.tls import check_files, plain_http_advice

    tls = settings.tls
    if tls.kind == "files" and settings.mode == "local":
        return f"on, with {tls.cert} (valid until {check_files(tls.cert, tls.key)})"
    if tls.kind == "files":
        return f"on, ended by the compose file's front with {tls.cert}"
    if tls.kind == "acme":
        return f"on, ended by the compose file's front with a certificate for {tls.domain} from {tls.ca}"
    host = urlsplit(settings.bind_url).hostname
    where = "on this machine only" if settings.mode == "local" and host in ("127.0.0.1", "localhost", "::1") else ""
    prefix = f"off (plain HTTP, {where}): " if where else "WARNING: off (plain HTTP): "
    return prefix + plain_http_advice()


def startup_message(done: Prepared) -> str:
    """The text printed before JupyterHub starts (shows a generated password once)."""
    s = done.settings
    url = public_url(s)
    lines = [f"Course hub ({s.mode} mode)", f"  Open:        {url}", f"  HTTPS:       {https_line(s)}"]
    first = s.admin_users[0]
    shown = {a.username: a for a in done.new_admins}
    for name in s.admin_users:
        made = shown.get(name)
        if made and made.password:
            lines.append(f"  Admin login: {name} / {made.password}")
            lines.append("               (generated and shown only this once: it is stored nowhere in plain text;"
                         " you will be asked to change it at first login)")
        elif made:
            lines.append(f"  Admin login: {name} with the password from COURSE_HUB_ADMIN_PASSWORD")
        elif name == first:
            lines.append(f"  Admin login: {name} with the password you set (lost it? set "
                         "COURSE_HUB_ADMIN_PASSWORD and restart)")
    lines.append(f"  Approve students who signed up: {url}hub/authorize")
    lines.append(f"  Gradebook:   {url}services/gradebook/  (grade with: course hub grade CHAPTER)")
    lines.append("  Roster accounts:  course hub users add --from roster.csv")
    if s.mode == "local":
        if done.as_root:
            lines.append(f"  Students:    each runs as their own system user ({SYSTEM_PREFIX}<name>), "
                         f"private homes in {s.homes_dir}")
        else:
            me = getpass.getuser()
            lines.append(f"  WARNING:     the hub is not running as root, so every student's server runs as {me!r}:")
            lines.append(f"               students can read and change each other's files in {s.homes_dir}")
            lines.append("               and the shared data. Start the hub as root for private accounts.")
        lines.append(f"  Shared data: {s.data_dir} (COURSE_DATA_DIR)")
        if done.limits is not None:
            lines.append(f"  Limits:      {done.limits.describe()}")
        if done.host_gpus is not None:
            lines.append(f"  GPUs:        {gpu_line(s, done.host_gpus)}")
    if done.content_commit:
        lines.append("  Content:     new version of the notebooks committed for students")
    lines.append(f"  State:       {s.state_dir}")
    lines.append("  Stop with Ctrl-C; students' servers keep running and are picked up at the next start.")
    return "\n".join(lines)


def gpu_line(s: Settings, host_gpus: tuple[str, ...]) -> str:
    """Local mode: what the GPU policy gives students on this machine, in one line."""
    if s.gpu_policy == "none":
        found = (f"this machine has GPU {', '.join(host_gpus)}" if host_gpus
                 else "this machine has no GPU (nvidia-smi -L)")
        return f"none for students ({registry.GPU_POLICY.name}=none; {found})"
    if s.gpu_policy == "shared" and not s.gpu_ids:
        if not host_gpus:
            return "policy shared: this machine has no GPU, servers run on CPU only"
        return f"policy shared: every server gets all of them ({', '.join(host_gpus)})"
    listed = ", ".join(s.gpu_ids)
    what = {"shared": f"every server gets GPU {listed}", "spread": f"one each of GPU {listed}, least loaded first",
            "exclusive": f"one student per GPU of {listed}, CPU only when all are taken"}[s.gpu_policy]
    line = f"policy {s.gpu_policy}: {what}"
    missing = [gpu for gpu in s.gpu_ids if gpu not in host_gpus]
    if missing:
        line += (f"; WARNING: {registry.GPU_IDS.name} lists {', '.join(missing)}, which nvidia-smi -L "
                 "does not show here")
    return line
