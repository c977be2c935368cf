"""The same compose file under Compose v2, which instructors run as `docker compose`: Debian trixie's
docker-compose 2.x (its plugin binary, run on its own) validates it and takes over the running deployment with
`up -d`; students' containers keep running and are routed again, and accounts still log in. Compose v1 then
takes it back, as the rest of the tier runs it."""
from __future__ import annotations

import re
import subprocess

import pytest

from testkit.compose_deployment import student_container
from testkit.docker_engine import compose_v2
from testkit.hub_client import HubClient

pytestmark = pytest.mark.docker


def test_compose_v2_runs_the_same_deployment(deployment, klass):
    v2 = compose_v2(deployment.engine)
    version = subprocess.run([str(v2), "version"], capture_output=True, text=True, env=deployment.engine.env())
    assert re.search(r"version v?2\.\d+", version.stdout), version.stdout + version.stderr
    ana = klass["ana"]
    if not (ana.api("GET", f"users/{ana.name}").json().get("servers") or {}):
        ana.start_server(300)  # an earlier module's idle culler may have stopped it
    before = deployment.inspect(student_container(ana.name))["State"]["StartedAt"]
    v1 = deployment.compose_command
    deployment.compose_command = str(v2)
    try:
        config = deployment.compose("config")
        assert "course-hub:latest" in config.stdout and "Warning" not in config.stderr, config.stderr
        deployment.compose("up", "-d", "--no-build")
        deployment.wait_for_hub()
        services = deployment.compose("ps", "--services", "--status", "running").stdout.split()
        assert "jupyterhub" in services
    finally:
        deployment.compose_command = v1
    assert deployment.inspect(student_container(ana.name))["State"]["StartedAt"] == before
    again = HubClient(deployment.url, timeout=120)
    again.login(ana.name, f"{ana.name}-password")
    again.new_token()
    assert again.run_cell(again.start_kernel(), "print(6 * 7)").stdout == "42\n"
    deployment.up()  # Compose v1 again, for whatever runs next
