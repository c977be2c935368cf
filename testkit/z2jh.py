"""The Zero to JupyterHub chart for tests, without a cluster: its values schema and defaults, and what its
hub configuration makes of the values.

The schema and defaults are the chart's own files (`jupyterhub/values.schema.yaml`, `jupyterhub/values.yaml`),
which the project does not carry: `../shared/schemas/` beside the checkout holds a copy with the commit it came
from (for a git worktree, beside its main checkout too). `chart_config` applies the chart's
`files/hub/jupyterhub_config.py` (same commit) to merged values, for the keys the course's values set;
a values key it does not apply raises, so it cannot be skipped silently.
"""
from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config import Config

from testkit.tiers import OUTSIDE_PROJECT, REPO

SCHEMA = "z2jh-values.schema.yaml"
DEFAULTS = "z2jh-values.yaml"
CHART_COMMIT = "48ea50e34daddde55d76e30df6ecd47e4abd4d8e"  # the chart files the emulation below follows


def schema_folders() -> list[Path]:
    """Where the chart's schema may be: ../shared/schemas beside this checkout, and beside its main checkout."""
    folders = [REPO.parent / "shared" / "schemas"]
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
                          capture_output=True, text=True)
    if done.returncode == 0 and done.stdout.strip():
        main = Path(done.stdout.strip()).parent  # .../main/.git -> .../main
        folders.append(main.parent / "shared" / "schemas")
    return list(dict.fromkeys(folders))


def schema_folder() -> Path | None:
    """The first folder holding both chart files, or None."""
    return next((f for f in schema_folders() if (f / SCHEMA).is_file() and (f / DEFAULTS).is_file()), None)


def missing_reason() -> str | None:
    """Why the chart's schema cannot be used here, or None."""
    if schema_folder() is not None:
        return None
    where = ", ".join(str(f) for f in schema_folders())
    return (f"the Zero to JupyterHub chart's {SCHEMA} and {DEFAULTS} are not beside the checkout ({where}): "
            "they are the chart's own files, copied to shared/schemas for the tests")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def merge(defaults: Any, values: Any) -> Any:
    """Helm's merge of user values over the chart's defaults: maps recursively, anything else replaced,
    and a null in the user's values removes the default."""
    if not isinstance(defaults, dict) or not isinstance(values, dict):
        return copy.deepcopy(values)
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(defaults.get(key), value)
    return merged


def chart_folder() -> Path:
    """The folder of the chart's schema and defaults; the calling test skips (OUTSIDE_PROJECT) without it."""
    folder = schema_folder()
    if folder is None:
        pytest.skip(OUTSIDE_PROJECT + missing_reason())
    return folder


def merged_values(values: dict) -> dict:
    return merge(load_yaml(chart_folder() / DEFAULTS), values)


def get(values: dict, key: str, default: Any = None) -> Any:
    """z2jh.get_config: `a.b.c` from the values, or `default`."""
    value: Any = values
    for level in key.split("."):
        if not isinstance(value, dict) or level not in value:
            return default
        value = value[level]
    return value


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


# KubeSpawner traits the chart sets from singleuser.<key> (its jupyterhub_config.py, the same table).
_SINGLEUSER_TRAITS = {
    "pod_name_template": None, "start_timeout": None, "image_pull_policy": "image.pullPolicy",
    "events_enabled": "events", "extra_labels": None, "extra_annotations": None, "uid": None, "fs_gid": None,
    "service_account": "serviceAccountName", "storage_extra_labels": "storage.extraLabels",
    "node_selector": None, "node_affinity_required": "extraNodeAffinity.required",
    "node_affinity_preferred": "extraNodeAffinity.preferred",
    "pod_affinity_required": "extraPodAffinity.required", "pod_affinity_preferred": "extraPodAffinity.preferred",
    "pod_anti_affinity_required": "extraPodAntiAffinity.required",
    "pod_anti_affinity_preferred": "extraPodAntiAffinity.preferred", "lifecycle_hooks": None,
    "init_containers": None, "extra_containers": None, "mem_limit": "memory.limit",
    "mem_guarantee": "memory.guarantee", "cpu_limit": "cpu.limit", "cpu_guarantee": "cpu.guarantee",
    "extra_resource_limits": "extraResource.limits", "extra_resource_guarantees": "extraResource.guarantees",
    "environment": "extraEnv", "profile_list": None, "extra_pod_config": None,
}
# singleuser keys applied here (the table above, and the ones handled one by one below).
APPLIED_SINGLEUSER = ({(key or _camel(trait)).split(".")[0] for trait, key in _SINGLEUSER_TRAITS.items()}
                      | {"image", "allowPrivilegeEscalation", "extraTolerations", "storage", "cmd", "defaultUrl",
                         "cloudMetadata", "networkPolicy", "networkTools", "extraFiles"})


def chart_config(values: dict, secrets: dict[str, str]) -> Config:
    """The Config the chart's jupyterhub_config.py builds from merged `values` (release names as with
    fullnameOverride ""), up to, not including, hub.extraConfig. `secrets` holds what the chart's Secret
    would: hub.services.<name>.apiToken, the cookie secret, the CryptKeeper keys."""
    assert get(values, "fullnameOverride") == "" and get(values, "nameOverride") is None, \
        "the emulation names resources as with fullnameOverride: \"\""
    unknown = set(get(values, "singleuser", {})) - APPLIED_SINGLEUSER
    assert not unknown, f"chart_config does not apply singleuser.{sorted(unknown)}: extend it before using them"
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.ConfigurableHTTPProxy.api_url = "http://proxy-api:8001"
    c.ConfigurableHTTPProxy.should_start = False
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.last_activity_interval = 60
    c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}

    db_type = get(values, "hub.db.type")
    if db_type == "sqlite-pvc":
        c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
    elif db_type == "sqlite-memory":
        c.JupyterHub.db_url = "sqlite://"
    elif get(values, "hub.db.url") is not None:
        c.JupyterHub.db_url = get(values, "hub.db.url")

    for trait in ("concurrent_spawn_limit", "active_server_limit", "base_url", "allow_named_servers",
                  "named_server_limit_per_user", "authenticate_prometheus", "redirect_to_server",
                  "shutdown_on_logout", "template_paths", "template_vars"):
        value = get(values, "hub." + _camel(trait))
        if value is not None:
            setattr(c.JupyterHub, trait, copy.deepcopy(value))
    c.JupyterHub.hub_bind_url = "http://:8081"
    c.JupyterHub.hub_connect_url = "http://hub:8081"
    c.KubeSpawner.common_labels = {"app.kubernetes.io/name": "jupyterhub", "app": "jupyterhub",
                                   "app.kubernetes.io/managed-by": "kubespawner"}
    c.KubeSpawner.namespace = "tfcourse"
    if get(values, "hub.consecutiveFailureLimit") is not None:
        c.Spawner.consecutive_failure_limit = get(values, "hub.consecutiveFailureLimit")

    for trait, key in _SINGLEUSER_TRAITS.items():
        value = get(values, "singleuser." + (key or _camel(trait)))
        if value is not None:
            setattr(c.KubeSpawner, trait, copy.deepcopy(value))
    image = get(values, "singleuser.image.name")
    if image:
        tag = get(values, "singleuser.image.tag")
        c.KubeSpawner.image = f"{image}:{tag}" if tag else image
    c.KubeSpawner.allow_privilege_escalation = get(values, "singleuser.allowPrivilegeEscalation")
    if get(values, "singleuser.image.pullSecrets"):
        c.KubeSpawner.image_pull_secrets = list(get(values, "singleuser.image.pullSecrets"))
    if get(values, "scheduling.userScheduler.enabled"):
        c.KubeSpawner.scheduler_name = "user-scheduler"
    if get(values, "scheduling.podPriority.enabled"):
        c.KubeSpawner.priority_class_name = "priority"
    purpose = get(values, "scheduling.userPods.nodeAffinity.matchNodePurpose")
    selector = {"matchExpressions": [{"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user"]}]}
    if purpose == "prefer":
        preferred = list(c.KubeSpawner.node_affinity_preferred) if "node_affinity_preferred" in c.KubeSpawner else []
        c.KubeSpawner.node_affinity_preferred = [*preferred, {"weight": 100, "preference": selector}]
    elif purpose == "require":
        required = list(c.KubeSpawner.node_affinity_required) if "node_affinity_required" in c.KubeSpawner else []
        c.KubeSpawner.node_affinity_required = [*required, selector]
    tolerations = get(values, "scheduling.userPods.tolerations", []) + get(values, "singleuser.extraTolerations", [])
    if tolerations:
        c.KubeSpawner.tolerations = copy.deepcopy(tolerations)

    volumes: dict = {}
    mounts: dict = {}
    if get(values, "singleuser.storage.type") == "dynamic":
        name = get(values, "singleuser.storage.dynamic.volumeNameTemplate")
        if get(values, "singleuser.storage.dynamic.pvcNameTemplate"):
            c.KubeSpawner.pvc_name_template = get(values, "singleuser.storage.dynamic.pvcNameTemplate")
        c.KubeSpawner.storage_pvc_ensure = True
        for trait, key in (("storage_class", "dynamic.storageClass"),
                           ("storage_access_modes", "dynamic.storageAccessModes"), ("storage_capacity", "capacity")):
            if get(values, "singleuser.storage." + key) is not None:
                setattr(c.KubeSpawner, trait, copy.deepcopy(get(values, "singleuser.storage." + key)))
        volumes = {name: {"name": name, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
        mounts = {name: {"mountPath": get(values, "singleuser.storage.homeMountPath"), "name": name,
                         "subPath": get(values, "singleuser.storage.dynamic.subPath")}}
    assert get(values, "singleuser.storage.type") in ("dynamic", "none"), "only dynamic storage is emulated"
    assert not get(values, "singleuser.extraFiles"), "singleuser.extraFiles is not emulated"
    for volume in get(values, "singleuser.storage.extraVolumes") or []:
        volumes[volume["name"]] = volume
    for index, mount in enumerate(get(values, "singleuser.storage.extraVolumeMounts") or []):
        mounts[f"{index}-{mount['name']}"] = mount
    c.KubeSpawner.volumes = volumes
    c.KubeSpawner.volume_mounts = mounts

    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    if get(values, "cull.enabled", False):
        role = {"name": "jupyterhub-idle-culler", "services": ["jupyterhub-idle-culler"],
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}
        cmd = ["python3", "-m", "jupyterhub_idle_culler", "--url=http://localhost:8081/hub/api"]
        for flag, key in (("--timeout", "timeout"), ("--cull-every", "every"), ("--concurrency", "concurrency")):
            if get(values, f"cull.{key}"):
                cmd.append(f"{flag}={get(values, f'cull.{key}')}")
        if get(values, "cull.users"):
            cmd.append("--cull-users")
            role["scopes"].append("admin:users")
        if not get(values, "cull.adminUsers"):
            cmd.append("--cull-admin-users=false")
        if get(values, "cull.removeNamedServers"):
            cmd.append("--remove-named-servers")
        if get(values, "cull.maxAge"):
            cmd.append(f"--max-age={get(values, 'cull.maxAge')}")
        c.JupyterHub.services.append({"name": "jupyterhub-idle-culler", "command": cmd})
        c.JupyterHub.load_roles.append(role)
    for key, service in copy.deepcopy(get(values, "hub.services", {})).items():
        service.setdefault("name", key)
        service.pop("apiToken", None)
        service["api_token"] = secrets[f"hub.services.{key}.apiToken"]
        c.JupyterHub.services.append(service)
    for key, role in copy.deepcopy(get(values, "hub.loadRoles", {})).items():
        role.setdefault("name", key)
        c.JupyterHub.load_roles.append(role)

    c.Spawner.cmd = get(values, "singleuser.cmd")
    if get(values, "singleuser.defaultUrl") is not None:
        c.Spawner.default_url = get(values, "singleuser.defaultUrl")
    assert not get(values, "singleuser.cloudMetadata.blockWithIptables"), \
        "singleuser.cloudMetadata.blockWithIptables (a privileged init container) is not emulated"
    c.JupyterHub.cookie_secret = secrets["hub.config.JupyterHub.cookie_secret"]
    c.CryptKeeper.keys = secrets["hub.config.CryptKeeper.keys"].split(";")
    for section, cfg in copy.deepcopy(get(values, "hub.config", {})).items():
        assert section[:1].isupper(), f"hub.config.{section} is not a Configurable's name"
        for secret in ("proxy_auth_token", "cookie_secret", "services", "auth_token", "keys"):
            cfg.pop(secret, None)
        c[section].update(cfg)
    return c


def run_extra_config(c: Config, values: dict) -> None:
    """What the chart does last: exec every hub.extraConfig entry, in key order, with `c` in scope."""
    for _key, code in sorted(get(values, "hub.extraConfig", {}).items()):
        exec(compile(code, f"hub.extraConfig.{_key}", "exec"), {"c": c})
