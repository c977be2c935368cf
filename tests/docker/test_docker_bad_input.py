"""Bad input to the compose deployment is one line, never a traceback: a wrong value in `.env` stops the hub with
one line in `docker compose logs`; a missing student image and a missing Docker socket each say so in one line.
Students' running containers are not touched meanwhile. The module puts the `.env` back as it found it."""
from __future__ import annotations

import time

import pytest

from testkit.compose_deployment import student_container
from testkit.hub_client import wait_for

pytestmark = pytest.mark.docker


def hub_lines_since(deployment, started: str) -> list[str]:
    """What the hub's container printed since `started` (an RFC 3339 time), line by line."""
    container = deployment.compose("ps", "-q", "jupyterhub").stdout.strip()
    done = deployment.engine.docker("logs", "--since", started, container, check=False)
    text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    return [line for line in text.splitlines() if line.strip()]


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))


def test_a_wrong_value_in_env_stops_the_hub_with_one_line(instructor, klass):
    running = instructor.inspect(student_container(klass["ana"].name))["State"]["StartedAt"]
    instructor.write_env(COURSE_LOGIN_ATTEMPTS="many")
    started = now_rfc3339()
    instructor.compose("up", "-d")
    lines = wait_for(lambda: hub_lines_since(instructor, started), 120, "the hub saying why it stopped")
    expected = "course hub: COURSE_LOGIN_ATTEMPTS='many' is not allowed: use a whole number >= 1"
    assert set(lines) == {expected}, lines  # the same one line at each restart; nothing else, no traceback
    logs = instructor.logs()
    assert expected in logs and "Traceback" not in logs
    assert instructor.inspect(student_container(klass["ana"].name))["State"]["StartedAt"] == running


def test_a_missing_student_image_is_one_line(instructor):
    instructor.write_env(COURSE_LOGIN_ATTEMPTS="3", COURSE_SINGLEUSER_IMAGE="course-singleuser:never-built")
    started = now_rfc3339()
    instructor.compose("up", "-d", "--no-deps", "--no-build", "jupyterhub")
    lines = wait_for(lambda: hub_lines_since(instructor, started), 120, "the hub saying why it stopped")
    assert set(lines) == {
        "course hub: the student image course-singleuser:never-built is not on this Docker engine: build it with "
        "`docker compose build` (or set COURSE_SINGLEUSER_IMAGE to the image you built)"}, lines


def test_a_missing_docker_socket_is_one_line(instructor):
    done = instructor.engine.docker("run", "--rm", "-e", "COURSE_HUB_MODE=docker", "course-hub:latest", check=False)
    out = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()
    assert done.returncode != 0 and out == [
        "course hub: the Docker socket /var/run/docker.sock is not in the hub's container: mount the engine's "
        "socket there (docker/docker-compose.yml mounts COURSE_DOCKER_SOCKET) and start the hub again"], out
