"""Kubernetes mode without a cluster: deploy/kubernetes/values.yaml merged over the chart's defaults, the chart's
hub configuration applied to it (testkit.z2jh), then the values' own hub.extraConfig, which runs the course's
configuration (hub/kubernetes_mode.py). Real KubeSpawner objects for JupyterHub's own users build each pod
with KubeSpawner's own manifest builder, for every profile and choice under every GPU policy, and each pod
validates against the Kubernetes 1.32 API schema (kubernetes-validate, strict: no unknown field). Only the
cluster's API client is replaced: one that fails the test if anything calls it.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import kubernetes_validate
import kubespawner.spawner
import pytest
from jupyterhub import orm
from jupyterhub.objects import Hub
from jupyterhub.user import User
from kubernetes_asyncio.client import ApiClient
from traitlets.config.loader import PyFileConfigLoader

from course import settings as registry
from hub.kube_spawner import CourseKubeSpawner
from testkit import z2jh

pytestmark = pytest.mark.kubernetes_static

REPO = Path(__file__).resolve().parents[1]
VALUES = REPO / "deploy" / "kubernetes" / "values.yaml"
K8S = "1.32"
GIB = 1024 ** 3  # KubeSpawner reads 4G as 4 GiB, as COURSE_MEM_LIMIT does
POLICIES = ["none", "shared", "spread", "exclusive"]
SECRETS = {"hub.config.JupyterHub.cookie_secret": "ab" * 32, "hub.config.CryptKeeper.keys": "cd" * 32}


class NoCluster:
    """The Kubernetes API client: there is no cluster, and building a manifest must not need one."""

    def __getattr__(self, name):
        raise AssertionError(f"the Kubernetes API was called ({name}) while building a manifest")


class ChartHub:
    """The hub pod's configuration, and JupyterHub's users and spawners for it."""

    def __init__(self, config, values: dict):
        self.config = config
        self.values = values
        self.db = orm.new_session_factory("sqlite:///:memory:")()
        jh = config.JupyterHub
        hub = Hub(ip="", port=8081, base_url="/hub/")
        hub.connect_url = jh.hub_connect_url
        self.settings = {"spawner_class": jh.spawner_class, "config": config, "hub": hub, "base_url": "/",
                         "domain": "", "statsd": None}

    def spawner(self, name: str) -> CourseKubeSpawner:
        orm_user = orm.User(name=name)
        self.db.add(orm_user)
        self.db.commit()
        return User(orm_user, self.settings).spawners[""]

    def pod(self, name: str, **options: str) -> dict:
        """The pod KubeSpawner would create for `name` with these user options, as the API would receive it."""
        async def build():
            spawner = self.spawner(name)
            spawner.user_options = options
            await spawner.load_user_options()
            pod = await spawner.get_pod_manifest()
            async with ApiClient() as api:
                return {"apiVersion": "v1", "kind": "Pod", **api.sanitize_for_serialization(pod)}
        return asyncio.run(build())

    def pvc(self, name: str) -> dict:
        async def build():
            async with ApiClient() as api:
                return api.sanitize_for_serialization(self.spawner(name).get_pvc_manifest())
        return asyncio.run(build())


def chart_secrets(values: dict) -> dict[str, str]:
    return {**SECRETS, **{f"hub.services.{key}.apiToken": f"chart-token-{key}" for key in values["hub"]["services"]}}


@pytest.fixture
def load_chart(tmp_path, monkeypatch):
    """Load the values (optionally changed) with hub.extraEnv (plus `env`) as the hub pod's environment."""
    for name in list(os.environ):
        if name.startswith("COURSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(kubespawner.spawner, "load_config", lambda **kwargs: None)
    monkeypatch.setattr(kubespawner.spawner, "shared_client", lambda *args, **kwargs: NoCluster())

    def load(edit=None, **env: str) -> ChartHub:
        values = z2jh.load_yaml(VALUES)
        if edit:
            edit(values)
        merged = z2jh.merged_values(values)
        hub_env = {**merged["hub"]["extraEnv"], registry.HUB_STATE_DIR.name: str(tmp_path / "state"), **env}
        for key, value in hub_env.items():
            monkeypatch.setenv(key, value)
        config = z2jh.chart_config(merged, chart_secrets(merged))
        z2jh.run_extra_config(config, merged)
        return ChartHub(config, merged)

    return load


def valid(manifest: dict) -> dict:
    assert kubernetes_validate.validate(manifest, K8S, strict=True) == K8S
    return manifest


def container(pod: dict) -> dict:
    (notebook,) = pod["spec"]["containers"]
    return notebook


def env_of(pod: dict) -> dict[str, str]:
    return {item["name"]: item.get("value") for item in container(pod)["env"]}


def profile_choices(hub: ChartHub) -> list[dict]:
    """User options for every profile and every choice of its options that the hub offers."""
    found = []
    for profile in hub.config.KubeSpawner.profile_list:
        options = profile.get("profile_options", {})
        if not options:
            found.append({"profile": profile["slug"]})
        for option, spec in options.items():
            found += [{"profile": profile["slug"], option: choice} for choice in spec["choices"]]
    return found


# -- the hub's configuration ----------------------------------------------------------------------------
def test_the_chart_runs_the_course_hub_configuration(load_chart):
    hub = load_chart()
    jh = hub.config.JupyterHub
    assert jh.spawner_class is CourseKubeSpawner
    assert jh.authenticator_class == "hub.auth.CourseAuthenticator"  # not the chart's default `dummy`
    assert hub.config.NativeAuthenticator.allowed_failed_logins == 5 and jh.admin_access is False
    assert jh.cookie_secret == SECRETS["hub.config.JupyterHub.cookie_secret"]  # generated by the chart
    assert jh.hub_connect_url == "http://hub:8081" and hub.config.ConfigurableHTTPProxy.should_start is False
    assert jh.db_url == f"sqlite:///{Path(os.environ['COURSE_HUB_STATE_DIR']) / 'jupyterhub.sqlite'}"
    assert jh.cleanup_servers is False


def test_services_are_the_course_ones_with_the_charts_tokens_and_culler(load_chart):
    hub = load_chart()
    services = {s["name"]: s for s in hub.config.JupyterHub.services}
    assert sorted(services) == ["course-tools", "gradebook", "jupyterhub-idle-culler"]  # no second culler
    gradebook = services["gradebook"]
    assert gradebook["api_token"] == "chart-token-gradebook"
    assert gradebook["command"][1:] == ["-m", "hub.gradebook.service", "--ip", "0.0.0.0", "--port", "8003"]
    assert gradebook["url"] == "http://hub:8003"  # the proxy reaches it through the hub's Service
    assert hub.values["hub"]["service"]["extraPorts"] == [{"name": "gradebook", "port": 8003, "targetPort": 8003}]
    assert services["course-tools"]["api_token"] == "chart-token-course-tools"
    assert "--timeout=3600" in services["jupyterhub-idle-culler"]["command"]
    roles = {r["name"]: r for r in hub.config.JupyterHub.load_roles}
    assert {"user", "instructor", "gradebook", "course-tools", "jupyterhub-idle-culler"} <= set(roles)
    assert roles["instructor"]["users"] == ["admin"] and roles["admin"]["users"] == []
    assert "access:services!service=gradebook" in hub.config.Spawner.server_token_scopes


def test_the_first_admin_exists_before_anyone_can_sign_up(load_chart, capsys):
    load_chart()
    out = capsys.readouterr().out
    assert "course hub: admin login admin / " in out and "shown only this once" in out
    load_chart()  # a restart creates nothing and shows no password again
    assert "admin login" not in capsys.readouterr().out


# -- the pods, for every profile and policy ---------------------------------------------------------------
def test_each_policy_offers_its_gpu_kinds(load_chart):
    offered = {}
    for policy in POLICIES:
        hub = load_chart(**{registry.GPU_POLICY.name: policy})
        offered[policy] = sorted(tuple(sorted(o.items())) for o in profile_choices(hub))
    cpu = (("profile", "cpu"),)
    assert offered["none"] == [cpu]
    assert offered["shared"] == offered["spread"] == sorted(
        [cpu, (("gpu", "shared"), ("profile", "gpu")), (("gpu", "mig"), ("profile", "gpu"))])
    assert offered["exclusive"] == sorted(
        [cpu, (("gpu", "whole"), ("profile", "gpu")), (("gpu", "mig"), ("profile", "gpu"))])


@pytest.mark.parametrize("policy", POLICIES)
def test_every_pod_validates_and_gets_the_course_image_volumes_env_and_security(load_chart, policy):
    hub = load_chart(**{registry.GPU_POLICY.name: policy})
    choices = profile_choices(hub)
    assert choices
    for index, options in enumerate(choices):
        name = f"student{index}"
        pod = valid(hub.pod(name, **options))
        main = container(pod)
        env = env_of(pod)
        assert main["image"] == "registry.example.org/course/course-singleuser:0.1.0"
        # under the image's init (tini, its entrypoint), the server command: ~/course is synced first
        assert main["args"][:4] == ["python", "/opt/course/singleuser/server_command.py", "--", "jupyterhub-singleuser"]
        assert "command" not in main
        assert "--MappingKernelManager.cull_idle_timeout=1200" in main["args"]
        # the shared data: read-only in the volume and in the mount, at COURSE_DATA_DIR
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        mounts = {m["name"]: m for m in main["volumeMounts"]}
        assert volumes["course-data"]["persistentVolumeClaim"] == {"claimName": "course-data", "readOnly": True}
        assert mounts["course-data"] == {"name": "course-data", "mountPath": "/srv/data", "readOnly": True}
        assert volumes[f"volume-{name}"]["persistentVolumeClaim"] == {"claimName": f"claim-{name}"}
        assert mounts[f"volume-{name}"]["mountPath"] == "/home/jovyan" and not mounts[f"volume-{name}"].get("readOnly")
        assert env["COURSE_DATA_DIR"] == "/srv/data"
        assert env["TENSORBOARD_PROXY_URL"] == f"/user/{name}/proxy/%PORT%/"
        assert env["COURSE_GRADEBOOK_URL"] == "http://hub:8003/services/gradebook/"
        assert env["COURSE_CONTENT_REPO"] == "file:///srv/course-content" and env["COURSE_CONTENT_BRANCH"] == "main"
        assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
        # non-root, no privilege escalation, no capabilities
        assert main["securityContext"] == {"runAsUser": 1000, "allowPrivilegeEscalation": False,
                                           "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
        assert pod["spec"]["securityContext"] == {"fsGroup": 100, "runAsNonRoot": True,
                                                  "seccompProfile": {"type": "RuntimeDefault"}}
        assert not pod["spec"].get("initContainers")  # no privileged iptables container
        limits, requests = main["resources"]["limits"], main["resources"]["requests"]
        gpus = {k: v for k, v in limits.items() if k.startswith("nvidia.com/")}
        if options["profile"] == "cpu":
            assert (limits["cpu"], limits["memory"]) == (2.0, 4 * GIB)  # COURSE_CPU_LIMIT, COURSE_MEM_LIMIT
            assert (requests["cpu"], requests["memory"]) == (0.5, 2 * GIB)  # singleuser.cpu/memory.guarantee
            assert not gpus and "nodeSelector" not in pod["spec"]
            assert env["NVIDIA_VISIBLE_DEVICES"] == "void" and env["CUDA_VISIBLE_DEVICES"] == ""
            assert "COURSE_GPU_MEMORY_LIMIT_MB" not in env
        else:
            wanted = {"shared": "nvidia.com/gpu.shared", "mig": "nvidia.com/mig-1g.10gb", "whole": "nvidia.com/gpu"}
            assert gpus == {wanted[options["gpu"]]: "1"}
            assert (limits["cpu"], limits["memory"]) == (4.0, 16 * GIB)
            assert (requests["cpu"], requests["memory"]) == (2.0, 8 * GIB)
            assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
            assert env["COURSE_GPU_MEMORY_LIMIT_MB"] == "8000" and env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
            assert env["COURSE_GPU_MEMORY_GROWTH"] == "1"
            # the device plugin sets NVIDIA_VISIBLE_DEVICES to the devices it gave; `all` would show every GPU
            assert "NVIDIA_VISIBLE_DEVICES" not in env and "CUDA_VISIBLE_DEVICES" not in env


def test_home_volume_claim_validates(load_chart):
    pvc = valid(load_chart().pvc("alice"))
    assert pvc["metadata"]["name"] == "claim-alice"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_the_manifest_gate_is_not_vacuous(load_chart):
    pod = load_chart().pod("alice", profile="cpu")
    container(pod)["volumeMounts"][0]["readonly"] = True  # a misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S, strict=True)


def test_content_from_a_git_repository(load_chart):
    hub = load_chart(COURSE_CONTENT_REPO="https://git.example.org/course.git", COURSE_CONTENT_BRANCH="spring")
    env = env_of(hub.pod("alice", profile="cpu"))
    assert env["COURSE_CONTENT_REPO"] == "https://git.example.org/course.git"
    assert env["COURSE_CONTENT_BRANCH"] == "spring"


# -- what does not fit stops the hub with one line ---------------------------------------------------------
def stops(load_chart, match: str, edit=None, **env: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_chart(edit, **env)
    message = str(stopped.value)
    assert message.startswith("course hub: ") and "\n" not in message and match in message, message


def test_an_idle_timeout_other_than_the_culler_stops_the_hub(load_chart):
    stops(load_chart, "set cull.timeout to the same number of seconds", COURSE_IDLE_TIMEOUT="600")

    def no_culler(values):
        values["cull"]["enabled"] = False
    stops(load_chart, "the values say cull.enabled: false", no_culler)
    hub = load_chart(no_culler, COURSE_IDLE_TIMEOUT="0")  # both off
    assert not any("culler" in s["name"] for s in hub.config.JupyterHub.services)


def test_a_missing_service_token_stops_the_hub(load_chart):
    def no_gradebook(values):
        del values["hub"]["services"]["gradebook"]
    stops(load_chart, "add `gradebook: {}` under hub.services", no_gradebook)


def test_course_settings_belong_in_hub_extra_env(load_chart):
    def in_singleuser(values):
        values["singleuser"]["extraEnv"] = {"COURSE_DATA_DIR": "/elsewhere", "MY_OWN": "1"}
    stops(load_chart, "singleuser.extraEnv sets COURSE_DATA_DIR", in_singleuser)


def test_other_extra_env_reaches_the_pods(load_chart):
    def mine(values):
        values["singleuser"]["extraEnv"] = {"MY_OWN": "1"}
    assert env_of(load_chart(mine).pod("alice", profile="cpu"))["MY_OWN"] == "1"


def test_gpu_ids_and_the_wrong_mode_are_refused(load_chart):
    stops(load_chart, "COURSE_GPU_IDS is not used in kubernetes mode", COURSE_GPU_IDS="0,1")
    stops(load_chart, "set it to kubernetes in hub.extraEnv", COURSE_HUB_MODE="docker")


def test_spread_and_exclusive_need_no_gpu_ids_here(load_chart):
    for policy in ("spread", "exclusive"):
        assert load_chart(COURSE_GPU_POLICY=policy).config.CourseKubeSpawner.gpu_policy == policy


def test_the_course_config_file_says_where_kubernetes_mode_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_HUB_MODE", "kubernetes")
    monkeypatch.setenv("COURSE_HUB_STATE_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="^course hub: COURSE_HUB_MODE=kubernetes runs in the Zero to JupyterHub"):
        PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "hub")).load_config()


def test_a_hub_volume_it_cannot_write_stops_the_hub_with_one_line(load_chart, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    stops(load_chart, "cannot open the hub's database in", COURSE_HUB_STATE_DIR=str(blocked))
