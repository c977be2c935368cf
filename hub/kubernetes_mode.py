"""Kubernetes mode: the course's hub configuration on top of what the Zero to JupyterHub chart configured.

The chart's own `jupyterhub_config.py` runs first in the hub pod (network, proxy, database, the secrets it
generated, KubeSpawner from `singleuser.*`, the idle culler from `cull.*`), then the values' `hub.extraConfig`
calls `configure_from_chart(c)`. That applies what every mode shares (`hub.common.configure_course`:
NativeAuthenticator with the course's rules, roles, the gradebook and course-tools services, kernel culling,
the servers' environment) and what Kubernetes adds: the course's KubeSpawner, the shared data volume
read-only at COURSE_DATA_DIR, the security context, default limits and the GPU policy over the profiles.
Settings come from `hub.extraEnv`, read through the registry as in the other modes.
"""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from course import settings as registry
from hub import accounts
from hub.common import (
    IMAGE_SERVER_COMMAND,
    TOOLS_SERVICE,
    configure_course,
    gradebook_service,
    gradebook_url,
    services,
)
from hub.content import image_content_environment
from hub.gradebook import SERVICE_NAME
from hub.kube_spawner import CourseKubeSpawner, ProfileError, profiles_for_policy
from hub.settings import Settings, SettingsError, load_settings

CHART_CULLER = "jupyterhub-idle-culler"  # the service the chart's cull.* creates
CHART_SQLITE = "sqlite:///jupyterhub.sqlite"  # the chart's hub.db.type=sqlite-pvc, relative to the working folder
DATA_VOLUME = "course-data"  # the name of the shared data volume inside each pod
CONTAINER_SECURITY = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


class ChartMismatch(ValueError):
    """The chart's values and the course's settings disagree; the message is one line saying what to change."""


def configure_from_chart(c: Any) -> None:
    """The values' hub.extraConfig entry: read the settings, configure `c` and make sure the first admin
    exists (its generated password is printed once to the hub's log), or stop with one line."""
    try:
        settings = load_settings(os.environ)
        configure_kubernetes(c, settings)
    except (SettingsError, ChartMismatch, ProfileError) as exc:
        raise SystemExit(f"course hub: {exc}") from None
    for line in first_admin_lines(settings):
        print(line, flush=True)


def first_admin_lines(settings: Settings) -> list[str]:
    """Create the configured admins that do not exist yet (as `python -m hub` does in the other modes);
    what to tell the instructor, passwords shown this once."""
    try:
        db = accounts.open_db(settings)
        try:
            made = accounts.ensure_admins(db, settings)
        finally:
            db.close()
    except Exception as exc:  # noqa: BLE001 - e.g. the volume is not writable: one line, not a traceback
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SystemExit(f"course hub: cannot open the hub's database in {settings.state_dir} "
                         f"({registry.HUB_STATE_DIR.name}, the chart's hub.db volume): {detail}") from None
    lines = []
    for account in made:
        if account.password:
            lines.append(f"course hub: admin login {account.username} / {account.password} (generated and shown "
                         "only this once; you will be asked to change it at first login)")
        else:
            lines.append(f"course hub: admin login {account.username} with the password from "
                         f"{registry.HUB_ADMIN_PASSWORD.name}")
    return lines


def chart_tokens(services_list: list[dict]) -> dict[str, str]:
    """The API tokens the chart generated for the course's services (hub.services.<name>: {} in the values)."""
    found = {s.get("name"): s.get("api_token") for s in services_list}
    missing = [name for name in (TOOLS_SERVICE, SERVICE_NAME) if not found.get(name)]
    if missing:
        raise ChartMismatch(f"hub.services has no {', '.join(missing)}: add `{missing[0]}: {{}}` under hub.services "
                            "in the values (the chart generates its token)")
    return {name: found[name] for name in (TOOLS_SERVICE, SERVICE_NAME)}


def check_culler(services_list: list[dict], settings: Settings) -> None:
    """The chart's culler (cull.*) stops idle servers after COURSE_IDLE_TIMEOUT, or there is none when it is 0."""
    culler = next((s for s in services_list if s.get("name") == CHART_CULLER), None)
    timeout = None
    if culler is not None:
        timeout = next((int(a.split("=", 1)[1]) for a in culler.get("command", []) if a.startswith("--timeout=")), None)
    wanted = settings.idle_timeout or None
    if timeout != wanted:
        chart = "cull.enabled: false" if culler is None else f"cull.timeout: {timeout}"
        raise ChartMismatch(f"{registry.IDLE_TIMEOUT.name}={settings.idle_timeout} but the values say {chart}: "
                            "set cull.timeout to the same number of seconds (cull.enabled: false for 0)")


def check_base_url(c: Any, settings: Settings) -> None:
    chart = c.JupyterHub.base_url if "base_url" in c.JupyterHub else "/"
    if chart.rstrip("/") != settings.base_url.rstrip("/"):
        raise ChartMismatch(f"hub.baseUrl is {chart} but {registry.HUB_BIND_URL.name} serves {settings.base_url}: "
                            "give both the same path")


def hub_host(c: Any) -> str:
    """The hub's Service name, from the connect URL the chart set (http://hub:8081)."""
    host = urlsplit(c.JupyterHub.hub_connect_url).hostname if "hub_connect_url" in c.JupyterHub else None
    if not host:
        raise ChartMismatch("the chart did not set JupyterHub.hub_connect_url: hub.extraConfig runs only "
                            "inside the Zero to JupyterHub chart's hub pod")
    return host


def server_environment(c: Any, settings: Settings, host: str) -> dict[str, Any]:
    """Every pod's environment: the course's (from configure_course), with the paths of the pod, on top of
    the values' singleuser.extraEnv, which may not set the course's own variables."""
    extra = dict(c.KubeSpawner.environment) if "environment" in c.KubeSpawner else {}
    clashing = sorted(name for name in extra if name in registry.REGISTRY)
    if clashing:
        raise ChartMismatch(f"singleuser.extraEnv sets {', '.join(clashing)}: set course settings in hub.extraEnv "
                            "(the hub hands them to every server)")
    env = {**extra, **c.Spawner.environment}
    env.update({
        registry.DATA_DIR.name: str(settings.data_dir),
        registry.GRADEBOOK_URL.name: gradebook_url(settings, host),
        **image_content_environment(settings),
    })
    return env


def data_volume(c: Any, settings: Settings) -> tuple[dict, dict]:
    """The pods' volumes and mounts: the chart's (the home PVC) plus the shared data, read-only."""
    def as_dict(value: Any) -> dict:
        return {v["name"]: v for v in value} if isinstance(value, list) else dict(value or {})

    volumes = as_dict(c.KubeSpawner.volumes if "volumes" in c.KubeSpawner else None)
    mounts = as_dict(c.KubeSpawner.volume_mounts if "volume_mounts" in c.KubeSpawner else None)
    volumes[DATA_VOLUME] = {"name": DATA_VOLUME,
                            "persistentVolumeClaim": {"claimName": settings.data_volume, "readOnly": True}}
    mounts[DATA_VOLUME] = {"name": DATA_VOLUME, "mountPath": str(settings.data_dir), "readOnly": True}
    return volumes, mounts


def configure_kubernetes(c: Any, settings: Settings) -> None:
    """Apply the course's hub configuration to `c`, which the chart's jupyterhub_config.py filled."""
    if settings.mode != "kubernetes":
        raise ChartMismatch(f"{registry.HUB_MODE.name} is {settings.mode}: set it to kubernetes in hub.extraEnv")
    chart_services = list(c.JupyterHub.services) if "services" in c.JupyterHub else []
    chart_roles = list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []
    tokens = chart_tokens(chart_services)
    check_culler(chart_services, settings)
    check_base_url(c, settings)
    host = hub_host(c)

    found, roles = services(settings, None, tokens[TOOLS_SERVICE], tokens[SERVICE_NAME])
    gradebook = gradebook_service(settings, tokens[SERVICE_NAME], listen="0.0.0.0")
    gradebook["url"] = f"http://{host}:{settings.gradebook_port}"  # the proxy runs in a pod of its own
    found = [gradebook if s["name"] == SERVICE_NAME else s for s in found]
    others = [s for s in chart_services if s.get("name") not in (TOOLS_SERVICE, SERVICE_NAME)]
    configure_course(c, settings, [*found, *others], [*roles, *chart_roles])

    c.JupyterHub.admin_access = False  # the chart's default is true; the course's roles decide
    if c.JupyterHub.get("db_url") == CHART_SQLITE:  # on the hub's PVC, wherever the process starts
        c.JupyterHub.db_url = settings.db_url

    c.JupyterHub.spawner_class = CourseKubeSpawner
    spawner = c.KubeSpawner
    spawner.cmd = IMAGE_SERVER_COMMAND
    spawner.environment = server_environment(c, settings, host)
    spawner.volumes, spawner.volume_mounts = data_volume(c, settings)
    spawner.container_security_context = CONTAINER_SECURITY
    spawner.pod_security_context = POD_SECURITY
    if settings.cpu_limit is not None:
        spawner.cpu_limit = settings.cpu_limit
    if settings.mem_limit_bytes is not None:
        spawner.mem_limit = settings.mem_limit_bytes
    profiles, hidden = profiles_for_policy(spawner.profile_list if "profile_list" in spawner else [],
                                           settings.gpu_policy)
    spawner.profile_list = profiles
    if hidden:
        print(f"course hub: {registry.GPU_POLICY.name}={settings.gpu_policy} hides {', '.join(hidden)}")
    c.CourseKubeSpawner.gpu_policy = settings.gpu_policy
    c.CourseKubeSpawner.gpu_memory_limit_mb = settings.gpu_memory_limit_mb
