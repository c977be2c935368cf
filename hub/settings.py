"""The hub's settings: read once at start through the registry in `course.settings`, validated, frozen.

`load_settings(environ)` turns the environment into a `Settings` of plain values (absolute paths, bytes,
tuples); a value that is not allowed raises `SettingsError`, one line naming the variable, the value and
what is allowed. Every variable is documented in `.env.example` at the repository root.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from course import settings as registry
from course.settings import SettingError
from hub.gpu_policy import GpuPolicyError, check_gpu_settings
from hub.tls import Tls, TlsError, check_files, read_tls

REPO_ROOT = Path(__file__).resolve().parent.parent

SettingsError = SettingError  # the hub's name for it


@dataclass(frozen=True)
class Settings:
    """Validated hub settings (plain values; paths are absolute)."""

    mode: str
    bind_url: str
    state_dir: Path
    homes_dir: Path
    admin_users: tuple[str, ...]
    admin_password: str | None
    admin_access: bool
    content_repo: str | None
    content_branch: str
    notebooks_dir: Path
    data_dir: Path
    idle_timeout: int
    kernel_idle_timeout: int
    login_attempts: int
    lockout_seconds: int
    gpu_policy: str
    gpu_ids: tuple[str, ...]
    gpu_memory_limit_mb: int | None
    cpu_limit: float | None
    mem_limit_bytes: int | None
    singleuser_image: str
    docker_network: str
    docker_internal: bool
    data_volume: str
    content_volume: str
    grade_timeout: int
    grade_mem_limit_bytes: int
    grade_jobs: int
    tls: Tls = Tls()
    docker_publish: str = registry.DOCKER_PUBLISH.default  # docker mode: where the front publishes HTTP ...
    docker_publish_tls: str = registry.DOCKER_PUBLISH_TLS.default  # ... and HTTPS (for the start-up message)

    @property
    def port(self) -> int:
        """The public port (the proxy API uses port + 1, the hub port + 2 and the gradebook port + 3)."""
        parts = urlsplit(self.bind_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def gradebook_port(self) -> int:
        """Where the gradebook service listens (kernels report to it directly)."""
        return self.port + 3

    @property
    def base_url(self) -> str:
        """The URL prefix the hub is served under, ending with '/'."""
        path = urlsplit(self.bind_url).path or "/"
        return path if path.endswith("/") else path + "/"

    @property
    def db_url(self) -> str:
        """The hub's SQLite database inside the state folder."""
        return f"sqlite:///{self.state_dir / 'jupyterhub.sqlite'}"


def _absolute(path: Path | None, default: Path) -> Path:
    """A configured folder, relative paths taken from the repository root; `default` when unset."""
    if path is None:
        return default
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def _refuse_unknown_hub_variables(environ: Mapping[str, str]) -> None:
    known = sorted(s.name for s in registry.read_by("hub") if s.name.startswith("COURSE_HUB_"))
    for name in sorted(environ):
        if name.startswith("COURSE_HUB_") and name not in known:
            raise SettingsError(f"{name} is not a hub setting: known ones are {', '.join(known)} (see .env.example)")


def _with_tls(settings: Settings) -> Settings:
    """Check HTTPS for the mode: local mode serves the own certificate itself on the hub's address (made https),
    Docker mode's front serves it (and checks the files, which only it sees), Kubernetes mode has the chart's."""
    tls, bind = settings.tls, settings.bind_url
    if settings.mode == "kubernetes":
        if tls.enabled:
            raise TlsError("HTTPS in kubernetes mode is the chart's: set proxy.https in deploy/kubernetes/values.yaml"
                           f" and leave {registry.TLS_CERT.name}, {registry.TLS_KEY.name} and {registry.DOMAIN.name} "
                           "empty")
        return settings
    if settings.mode == "docker":
        return settings
    if tls.kind == "acme":
        raise TlsError(f"{registry.DOMAIN.name} (a certificate from {registry.ACME_CA.name}) needs Docker mode's TLS "
                       f"front; in local mode set {registry.TLS_CERT.name} and {registry.TLS_KEY.name}, or put a "
                       "reverse proxy in front (README, HTTPS)")
    if tls.kind == "files":
        check_files(tls.cert, tls.key)
        if bind.startswith("http://"):
            bind = "https://" + bind[len("http://"):]
    elif bind.startswith("https://"):
        raise TlsError(f"{registry.HUB_BIND_URL.name}={bind} is https, but nothing serves a certificate: set "
                       f"{registry.TLS_CERT.name} and {registry.TLS_KEY.name}")
    return replace(settings, bind_url=bind)


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read and validate every setting the hub reads from `environ`."""
    _refuse_unknown_hub_variables(environ)

    def read(setting: registry.Setting):
        return setting.read(environ)

    state_dir = _absolute(read(registry.HUB_STATE_DIR), REPO_ROOT / "var" / "hub")
    settings = Settings(
        mode=read(registry.HUB_MODE),
        bind_url=read(registry.HUB_BIND_URL),
        state_dir=state_dir,
        homes_dir=_absolute(read(registry.HUB_HOMES_DIR), state_dir / "homes"),
        admin_users=read(registry.HUB_ADMIN_USERS),
        admin_password=read(registry.HUB_ADMIN_PASSWORD),
        admin_access=read(registry.HUB_ADMIN_ACCESS),
        content_repo=read(registry.CONTENT_REPO),
        content_branch=read(registry.CONTENT_BRANCH),
        notebooks_dir=_absolute(read(registry.HUB_NOTEBOOKS_DIR), REPO_ROOT / "notebooks"),
        data_dir=_absolute(read(registry.DATA_DIR), REPO_ROOT / "var" / "data"),
        idle_timeout=read(registry.IDLE_TIMEOUT),
        kernel_idle_timeout=read(registry.KERNEL_IDLE_TIMEOUT),
        login_attempts=read(registry.LOGIN_ATTEMPTS),
        lockout_seconds=read(registry.LOCKOUT_SECONDS),
        gpu_policy=read(registry.GPU_POLICY),
        gpu_ids=read(registry.GPU_IDS),
        gpu_memory_limit_mb=read(registry.GPU_MEMORY_LIMIT_MB),
        cpu_limit=read(registry.CPU_LIMIT),
        mem_limit_bytes=read(registry.MEM_LIMIT),
        singleuser_image=read(registry.SINGLEUSER_IMAGE),
        docker_network=read(registry.DOCKER_NETWORK),
        docker_internal=read(registry.DOCKER_INTERNAL),
        data_volume=read(registry.DATA_VOLUME),
        content_volume=read(registry.CONTENT_VOLUME),
        grade_timeout=read(registry.GRADE_TIMEOUT),
        grade_mem_limit_bytes=read(registry.GRADE_MEM_LIMIT),
        grade_jobs=read(registry.GRADE_JOBS),
        tls=read_tls(environ),
        docker_publish=read(registry.DOCKER_PUBLISH),
        docker_publish_tls=read(registry.DOCKER_PUBLISH_TLS),
    )
    settings = _with_tls(settings)
    if settings.mode == "kubernetes":  # the NVIDIA device plugin, not the hub, hands out GPUs there
        if settings.gpu_ids:
            raise SettingsError(f"{registry.GPU_IDS.name} is not used in kubernetes mode (the device plugin hands "
                                "out GPUs to the profiles' pods): leave it empty")
        return settings
    try:  # a policy that cannot work with the GPU list stops the hub here, in one line
        check_gpu_settings(settings.gpu_policy, settings.gpu_ids)
    except GpuPolicyError as exc:
        raise SettingsError(str(exc)) from None
    return settings
