"""Hub configuration shared by the modes: network, database, secrets, accounts, roles, services and
what every student's server gets. Mode-specific spawner set-up lives in `hub.local_spawner`,
`hub.docker_spawner` and `hub.kubernetes_mode` (which takes the network, database and secrets from the chart).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from jupyterhub.roles import get_default_roles
from tornado.httpclient import AsyncHTTPClient

from course import settings as registry
from course.settings import HUB_NAME_PATTERN
from hub.gpu_policy import gpu_memory_environment
from hub.gradebook import ACCESS_SCOPE, SERVICE_NAME, service_url
from hub.secret_files import HubSecrets, ensure_secrets
from hub.settings import REPO_ROOT, Settings

HUB_DIR = Path(__file__).resolve().parent
ADMIN_SCOPES = [  # JupyterHub 5's default admin role
    "admin-ui", "admin:users", "admin:servers", "admin:services", "tokens", "admin:groups",
    "list:services", "read:services", "read:hub", "proxy", "shutdown", "access:services",
    "access:servers", "read:roles", "read:metrics", "shares",
]
# Without COURSE_HUB_ADMIN_ACCESS an admin can manage servers but not open them, share them,
# or mint tokens for students.
NO_STUDENT_ACCESS = {"access:servers", "shares", "tokens"}
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
TOOLS_SCOPES = ["list:users", "read:users", "admin:users", "admin:servers", "list:services",
                "read:services", "read:hub"]
# A server started from the course image (Docker and Kubernetes mode), under the image's init (tini): the same
# command as local mode's, which syncs ~/course with nbgitpuller, then runs jupyterhub-singleuser.
IMAGE_SERVER_COMMAND = ["python", "/opt/course/singleuser/server_command.py", "--", "jupyterhub-singleuser"]
TOOLS_SERVICE = "course-tools"  # the service whose token the `course hub` commands use
# The gradebook lists the hub's users (so a student who never reported still has a row) and nothing more.
GRADEBOOK_SCOPES = ["list:users", "read:users"]
# Requests the hub's own HTTP client sends at once (tornado's default is 10; see hub_http_client()).
HUB_HTTP_CLIENTS = 100


def proxy_command() -> list[str]:
    """configurable-http-proxy from the repository's node_modules (npm ci), else from PATH."""
    local = REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return [str(local)]
    return [shutil.which("configurable-http-proxy") or "configurable-http-proxy"]


def instructor_roles(settings: Settings) -> list[dict]:
    """Roles for the configured admins (instructors).

    With COURSE_HUB_ADMIN_ACCESS on they get JupyterHub's full `admin` role. Otherwise (JupyterHub does
    not let the admin role be narrowed) nobody has `admin`, and instructors get an `instructor` role with
    the admin scopes except opening, sharing or minting tokens for students' servers.
    """
    names = sorted(settings.admin_users)
    if settings.admin_access:
        return [{"name": "admin", "users": names}]
    scopes = [s for s in ADMIN_SCOPES if s not in NO_STUDENT_ACCESS]
    return [{"name": "admin", "users": []},
            {"name": "instructor", "description": "Course admin without access to students' servers",
             "scopes": scopes, "users": names}]


def server_prefix(spawner) -> str:
    """The student's server URL prefix, such as /user/alice/ (under the hub's base URL)."""
    server = getattr(spawner, "server", None)
    return server.base_url if server is not None else spawner.user.url


def tensorboard_proxy_url(spawner) -> str:
    """TENSORBOARD_PROXY_URL for `%tensorboard`: its iframe goes through jupyter-server-proxy."""
    return server_prefix(spawner) + "proxy/%PORT%/"


def kernel_culling_args(settings: Settings) -> list[str]:
    """Single-user server arguments that shut down idle kernels (a TF kernel holds ~0.6 GB)."""
    if settings.kernel_idle_timeout <= 0:
        return []
    interval = max(10, min(300, settings.kernel_idle_timeout // 4))
    return [f"--MappingKernelManager.cull_idle_timeout={settings.kernel_idle_timeout}",
            f"--MappingKernelManager.cull_interval={interval}",
            "--MappingKernelManager.cull_connected=True",
            "--MappingKernelManager.cull_busy=False"]


def gradebook_url(settings: Settings, host: str = "127.0.0.1") -> str:
    """COURSE_GRADEBOOK_URL: where kernels report, straight to the service (not through the proxy)."""
    return service_url(host, settings.gradebook_port, settings.base_url)


def gradebook_environment(settings: Settings) -> dict[str, str]:
    """The hub's own settings for the gradebook service (and the grading runs it starts), secrets left out."""
    env = {s.name: os.environ[s.name] for s in registry.read_by("hub") if not s.secret and s.name in os.environ}
    env[registry.HUB_STATE_DIR.name] = str(settings.state_dir)
    return env


def gradebook_service(settings: Settings, token: str, listen: str = "127.0.0.1") -> dict:
    """The gradebook, a hub-managed service with OAuth; `listen` is 0.0.0.0 in Docker mode, where students'
    containers report to it over the hub's network."""
    return {
        "name": SERVICE_NAME,
        "url": f"http://127.0.0.1:{settings.gradebook_port}",  # the proxy's target, inside the hub's machine
        "command": [sys.executable, "-m", "hub.gradebook.service", "--ip", listen,
                    "--port", str(settings.gradebook_port)],
        "api_token": token,
        "environment": gradebook_environment(settings),
        "oauth_no_confirm": True,  # part of the hub: no "authorize this application" page
        "display": True,
        "info": {"description": "Gradebook (성적표): the class's live results and grades"},
    }


def server_token_scopes() -> list[str]:
    """A student's server token: JupyterHub's default (the `server` role) plus reporting to the gradebook."""
    server_role = next(r for r in get_default_roles() if r["name"] == "server")
    return [*server_role["scopes"], ACCESS_SCOPE]


def user_role() -> dict:
    """JupyterHub's `user` role, extended so every user's browser may open the gradebook page."""
    user = next(r for r in get_default_roles() if r["name"] == "user")
    return {"name": "user", "scopes": [*user["scopes"], ACCESS_SCOPE]}


def services(settings: Settings, culler_token: str | None, tools_token: str,
             gradebook_token: str) -> tuple[list[dict], list[dict]]:
    """The hub services (course tools, gradebook, idle culler) and their roles. With `culler_token` None
    the idle culler is left to someone else (the Kubernetes chart's own, `cull.*`)."""
    found = [{"name": TOOLS_SERVICE, "api_token": tools_token,
              "display": False, "info": {"description": "instructor tooling (CLI, benchmarks)"}},
             gradebook_service(settings, gradebook_token)]
    roles = [{"name": TOOLS_SERVICE, "scopes": TOOLS_SCOPES, "services": [TOOLS_SERVICE]},
             {"name": SERVICE_NAME, "scopes": GRADEBOOK_SCOPES, "services": [SERVICE_NAME]}]
    if settings.idle_timeout > 0 and culler_token is not None:
        every = max(10, min(300, settings.idle_timeout // 4))
        found.append({
            "name": "idle-culler",
            "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                        f"--timeout={settings.idle_timeout}", f"--cull-every={every}"],
            "api_token": culler_token,
        })
        roles.append({"name": "idle-culler", "scopes": CULLER_SCOPES, "services": ["idle-culler"]})
    return found, roles


def hub_http_client(max_clients: int = HUB_HTTP_CLIENTS) -> None:
    """Let the hub's HTTP client (tornado's, shared by everything in the hub process) send `max_clients`
    requests at once instead of 10.

    When a class starts, the hub checks each starting server until it answers; a server that has bound its
    port but is still loading its extensions holds its check (and a client slot) for up to 20 s. With ten such
    servers, the proxy's route updates queued behind them and timed out, and JupyterHub stopped those
    servers ("Failed to add ... to proxy"): 10 of 30 students in one run on two cores.
    """
    AsyncHTTPClient.configure(AsyncHTTPClient.configured_class(), max_clients=max_clients)


def configure_hub_process(c, settings: Settings, secrets: HubSecrets) -> None:
    """Where the hub listens, its database, cookie secret, the proxy it starts and the size of its HTTP client
    (local and Docker mode; in Kubernetes mode the chart sets these, with pycurl as the client)."""
    hub_http_client()
    state = settings.state_dir
    c.JupyterHub.bind_url = settings.bind_url
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.port + 2
    c.JupyterHub.db_url = settings.db_url
    c.JupyterHub.cookie_secret_file = str(secrets.cookie_secret_file)
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

    c.ConfigurableHTTPProxy.command = proxy_command()
    if settings.mode == "docker":
        # The compose file's front ends HTTP(S) and says how it was reached (X-Forwarded-Proto); the proxy must pass
        # that on, not add its own "http" (tornado believes the last one, and the hub would think it is on HTTP).
        c.ConfigurableHTTPProxy.command = [*proxy_command(), "--no-x-forward"]
    c.ConfigurableHTTPProxy.auth_token = secrets.proxy_auth_token
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.port + 1}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    if settings.tls.kind == "files" and settings.mode == "local":  # the proxy ends TLS on the hub's port
        c.JupyterHub.ssl_cert = str(settings.tls.cert)
        c.JupyterHub.ssl_key = str(settings.tls.key)
    if settings.tls.enabled:
        c.JupyterHub.cookie_options = {"secure": True}  # the hub's login cookies never travel over plain HTTP


def configure_course(c, settings: Settings, found: list[dict], roles: list[dict]) -> None:
    """What every mode shares: accounts, roles, the services `found` (with their `roles`) and what every
    student's server gets."""
    c.JupyterHub.cleanup_servers = False  # a hub restart keeps students' servers running
    c.JupyterHub.template_paths = [str(HUB_DIR / "templates")]

    c.JupyterHub.authenticator_class = "hub.auth.CourseAuthenticator"
    c.CourseAuthenticator.instructors = set(settings.admin_users)
    c.Authenticator.allow_all = True  # NativeAuthenticator's approval is what gates logins
    c.Authenticator.username_pattern = HUB_NAME_PATTERN
    c.NativeAuthenticator.minimum_password_length = 8
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = settings.login_attempts
    c.NativeAuthenticator.seconds_before_next_try = settings.lockout_seconds
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.enable_signup = True

    c.JupyterHub.services = found
    c.JupyterHub.load_roles = [user_role(), *instructor_roles(settings), *roles]

    c.Spawner.default_url = "/lab/tree/course"
    # Generous: thirty students logging in at the start of a class share a few cores.
    c.Spawner.start_timeout = 300
    c.Spawner.http_timeout = 240
    c.Spawner.args = kernel_culling_args(settings)
    c.Spawner.server_token_scopes = server_token_scopes()
    c.Spawner.environment = {
        registry.TENSORBOARD_PROXY_URL.name: tensorboard_proxy_url,
        registry.DATA_DIR.name: str(settings.data_dir),
        registry.GRADEBOOK_URL.name: gradebook_url(settings),
        **gpu_memory_environment(settings.gpu_memory_limit_mb),
    }


def configure_common(c, settings: Settings) -> None:
    """Apply the configuration local and Docker mode share to the JupyterHub config object `c`."""
    secrets = ensure_secrets(settings.state_dir)
    configure_hub_process(c, settings, secrets)
    found, roles = services(settings, secrets.culler_token, secrets.tools_token, secrets.gradebook_token)
    configure_course(c, settings, found, roles)
