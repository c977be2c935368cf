"""The docker tier: the course's compose deployment, built and run for real on a Docker engine the tests start.

`deployment` (session) starts dockerd with its own socket and data root (var/docker/: layers and the build
cache carry over between runs), makes the base image if the engine lacks it, builds the images through the
compose file from a copy of what git tracks (a clean clone's files: what an instructor builds, with the CPU
flavour, the one build argument), and brings the deployment up on a free port on 127.0.0.1 with a `.env` made
as an instructor makes it: `.env.example` with the test's settings in place of its values.
It starts from nothing (no accounts, homes or content left by an earlier run) and on the way out takes it all
down and stops the engine it started. When a test failed, the hub's and students' logs are kept in
test-artifacts/. The figures (base image, build and start-up seconds) go to test-artifacts/docker-figures.json.
"""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from hub.settings import REPO_ROOT
from testkit.compose_deployment import ComposeDeployment, free_port
from testkit.docker_engine import DockerEngine, ensure_base_image
from testkit.hub_client import HubClient

ARTIFACTS = REPO_ROOT / "test-artifacts"
ADMIN_PASSWORD = "instructor-pw-1"
# The test deployment's .env: the CPU flavour (no GPU here), limits, and no culling until a test asks for it.
SETTINGS = {
    "COURSE_IMAGE_FLAVOUR": "cpu",
    "COURSE_HUB_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "COURSE_MEM_LIMIT": "1G",
    "COURSE_CPU_LIMIT": "1",
    "COURSE_KERNEL_IDLE_TIMEOUT": "0",
    "COURSE_IDLE_TIMEOUT": "0",
    "COURSE_GRADE_TIMEOUT": "240",
    "COURSE_GRADE_MEM_LIMIT": "1G",
    "COURSE_GRADE_JOBS": "1",
    "COURSE_LOGIN_ATTEMPTS": "3",
}
_failed: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if outcome.get_result().failed:
        _failed.append(item.nodeid)


@pytest.fixture(scope="session")
def engine():
    started = DockerEngine().start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def deployment(engine):
    figures: dict[str, float | None] = {}
    base = ensure_base_image(engine)
    figures["base_image_s"] = round(base, 1) if base is not None else None
    deploy = ComposeDeployment(engine, REPO_ROOT / "var" / "docker-deploy", SETTINGS, port=free_port())
    deploy.prepare()
    deploy.remove_everything()  # whatever an earlier run left: accounts, homes, content
    figures["build_s"] = round(deploy.build(), 1)
    figures["up_s"] = round(deploy.up(), 1)
    deploy.figures = figures
    try:
        yield deploy
    finally:
        if _failed:
            keep_logs(deploy)
        deploy.remove_everything()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "docker-figures.json").write_text(json.dumps(figures, indent=1) + "\n")


def keep_logs(deploy: ComposeDeployment) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parts = [f"==== {deploy.project} hub ====\n{deploy.logs()}"]
    for name in deploy.student_containers(all_states=True):
        done = deploy.engine.docker("logs", "--tail", "200", name, check=False)
        parts.append(f"==== {name} ====\n{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}")
    (ARTIFACTS / f"docker-deployment-{stamp}.log").write_text("\n".join(parts))


@pytest.fixture(scope="session")
def admin(deployment) -> HubClient:
    client = HubClient(deployment.url, timeout=120)
    client.login("admin", ADMIN_PASSWORD)
    assert client.get("services/gradebook/").status_code == 200  # the gradebook's OAuth, once
    return client


@pytest.fixture(scope="session")
def unique():
    """User names not used by an earlier test in this session: unique("ana") -> "ana3f9c"."""
    import secrets

    return lambda prefix: f"{prefix}{secrets.randbelow(0x10000):04x}"


@pytest.fixture(scope="session")
def klass(deployment, admin, unique) -> dict:
    """Two students of the deployment, signed up, approved, logged in, each with a running server."""
    from testkit.hub_client import enroll

    ana, ben = enroll(admin, [unique("ana"), unique("ben")])
    spawn = {client.name: client.start_server(300) for client in (ana, ben)}
    deployment.figures["first_spawns_s"] = [round(seconds, 1) for seconds in spawn.values()]
    return {"ana": ana, "ben": ben}


@pytest.fixture(scope="module")
def instructor(deployment):
    """The deployment, for a module that changes it as an instructor does (`.env`, the notebooks, then
    `docker compose up -d`): put back as it was, from what git tracks, when the module is done."""
    settings = dict(deployment.settings)
    yield deployment
    deployment.settings.clear()
    deployment.settings.update(settings)
    deployment.prepare()
    deployment.compose("up", "-d", "--build")
    deployment.wait_for_hub()
