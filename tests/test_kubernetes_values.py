"""The Kubernetes deployment's files, checked offline: deploy/kubernetes/values.yaml merged over the chart's
defaults against the chart's own values schema, the data volume's manifests against the Kubernetes 1.32 API
schema, and what the files must agree on (settings, images, ports, names, network policy). Each schema gate
is also shown a broken file, so a gate that passes everything would be caught.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from course.settings import REGISTRY
from hub.settings import load_settings
from testkit import z2jh

pytestmark = pytest.mark.kubernetes_static

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "kubernetes"
VALUES = DEPLOY / "values.yaml"
K8S = "1.32"


def chart_errors(values: dict) -> list[str]:
    schema = z2jh.load_yaml(z2jh.chart_folder() / z2jh.SCHEMA)
    validator = jsonschema.validators.validator_for(schema)(schema)
    merged = z2jh.merged_values(values)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(merged)]


@pytest.fixture
def values() -> dict:
    return z2jh.load_yaml(VALUES)


def manifests(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


# -- the chart's schema ------------------------------------------------------------------------------------
def test_values_validate_against_the_charts_schema(values):
    assert chart_errors(values) == []


def test_the_schema_gate_is_not_vacuous(values):
    typo = copy.deepcopy(values)
    typo["singleuser"]["profilList"] = typo["singleuser"].pop("profileList")
    assert any("profilList" in e for e in chart_errors(typo))
    wrong_type = copy.deepcopy(values)
    wrong_type["cull"]["timeout"] = "an hour"
    assert any(e.startswith("cull.timeout") for e in chart_errors(wrong_type))


# -- one source of settings --------------------------------------------------------------------------------
def test_the_hubs_settings_are_registered_and_valid(values):
    env = values["hub"]["extraEnv"]
    assert all(isinstance(v, str) for v in env.values())  # the chart renders them as env values
    text = "".join(p.read_text() for p in DEPLOY.glob("*.yaml"))
    used = set(re.findall(r"\b(COURSE_[A-Z_]*[A-Z])\b", text))
    assert used and used <= set(REGISTRY), f"not registered: {sorted(used - set(REGISTRY))}"
    settings = load_settings(env)
    assert settings.mode == "kubernetes"
    assert str(settings.state_dir) == "/srv/jupyterhub"  # the chart mounts the hub's PVC there


def test_the_culler_and_the_gradebook_port_agree_with_the_settings(values):
    settings = load_settings(values["hub"]["extraEnv"])
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == settings.idle_timeout
    assert values["hub"]["service"]["extraPorts"] == [
        {"name": "gradebook", "port": settings.gradebook_port, "targetPort": settings.gradebook_port}]
    assert values["hub"]["extraConfig"]["course"].split() == [
        "from", "hub.kubernetes_mode", "import", "configure_from_chart", "configure_from_chart(c)"]
    assert set(values["hub"]["services"]) == {"gradebook", "course-tools"}  # the chart generates their tokens


def test_images_are_the_course_images(values):
    hub, student = values["hub"]["image"], values["singleuser"]["image"]
    assert hub["name"].endswith("/course-hub") and student["name"].endswith("/course-singleuser")
    assert hub["tag"] == student["tag"]
    (job,) = [d for d in manifests("data-job.yaml") if d["kind"] == "Job"]
    (fill,) = job["spec"]["template"]["spec"]["containers"]
    assert fill["image"] == f"{student['name']}:{student['tag']}"  # the data comes from the student image
    dockerfile = (REPO / "docker" / "hub.Dockerfile").read_text()
    assert '"/tmp/course-src[docker,kubernetes]"' in dockerfile and "PYTHONPATH=/srv/course-platform" in dockerfile


# -- network, storage, security ----------------------------------------------------------------------------
def test_servers_reach_only_the_hub_proxy_dns_and_gradebook(values):
    policy = values["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    rules = policy["egressAllowRules"]
    assert rules["nonPrivateIPs"] is False and rules["privateIPs"] is False and rules["cloudMetadataServer"] is False
    (gradebook,) = policy["egress"]
    selector = gradebook["to"][0]["podSelector"]["matchLabels"]
    assert selector.items() <= values["hub"]["labels"].items()  # it selects the hub pod
    port = gradebook["ports"][0]["port"]
    (ingress,) = values["hub"]["networkPolicy"]["ingress"]
    assert ingress["ports"] == [{"port": port}]
    # students' servers carry the label the hub's ingress rule admits (the chart's default extraLabels)
    label = ingress["from"][0]["podSelector"]["matchLabels"]
    assert label.items() <= z2jh.merged_values(values)["singleuser"]["extraLabels"].items()


def test_storage_homes_hub_database_and_shared_data(values):
    storage = values["singleuser"]["storage"]
    assert storage["type"] == "dynamic" and storage["homeMountPath"] == "/home/jovyan"
    db = values["hub"]["db"]
    assert db["type"] == "sqlite-pvc" and db["pvc"]["accessModes"] == ["ReadWriteOnce"]
    settings = load_settings(values["hub"]["extraEnv"])
    (claim,) = manifests("data-pvc.yaml")
    assert claim["metadata"]["name"] == settings.data_volume and claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (job,) = manifests("data-job.yaml")
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "course-data", "persistentVolumeClaim": {"claimName": settings.data_volume}}]
    (fill,) = pod["containers"]
    assert "course data fetch --quiet --to /mnt/course-data" in fill["command"][-1]
    assert fill["volumeMounts"] == [{"name": "course-data", "mountPath": "/mnt/course-data"}]


def test_nothing_runs_as_root_or_privileged(values):
    assert values["singleuser"]["allowPrivilegeEscalation"] is False
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False  # a privileged init container
    assert values["singleuser"]["uid"] == 1000
    assert values["hub"]["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    (job,) = manifests("data-job.yaml")
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert pod["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False,
                                                       "capabilities": {"drop": ["ALL"]}}


# -- the manifests against Kubernetes' schema --------------------------------------------------------------
@pytest.mark.parametrize("name", ["data-pvc.yaml", "data-job.yaml"])
def test_manifests_validate_against_kubernetes(name):
    docs = manifests(name)
    assert docs
    for doc in docs:
        assert kubernetes_validate.validate(doc, K8S, strict=True) == K8S


def test_the_kubernetes_gate_is_not_vacuous():
    (job,) = manifests("data-job.yaml")
    job["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []  # a misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S, strict=True)
    assert K8S in kubernetes_validate.utils.all_versions() or f"{K8S}.0" in kubernetes_validate.utils.all_versions()
