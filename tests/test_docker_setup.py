"""Docker mode before JupyterHub starts (hub/docker_setup.py), and what a student reads when the engine refuses
their container (hub/docker_spawner.py): each against a stand-in engine here, and live in the docker tier."""
from __future__ import annotations

import socket

import pytest
import requests

import docker
from hub import docker_setup
from hub.docker_setup import DockerSetupError, ensure_network, join_network
from hub.docker_spawner import SpawnRefused, refusal_message
from hub.gpu_policy import GpuAssignment

pytestmark = pytest.mark.docker_static


class Engine:
    """The part of docker-py's APIClient the set-up uses, with networks and containers in memory."""

    def __init__(self, images=("course-singleuser:latest",)):
        self.images = set(images)
        self.nets: dict[str, dict] = {}
        self.attached: dict[str, dict] = {socket.gethostname(): {}}

    def inspect_image(self, image):
        if image not in self.images:
            raise docker.errors.ImageNotFound(f"No such image: {image}")
        return {"Id": "sha256:1"}

    def networks(self, names):
        return [{"Name": n, "Id": net["Id"]} for n, net in self.nets.items() if n in names]

    def create_network(self, name, driver, internal, labels, check_duplicate):
        self.nets[name] = {"Id": f"net-{name}", "Internal": internal, "Labels": labels}
        return {"Id": self.nets[name]["Id"]}

    def inspect_network(self, net_id):
        return next(net for net in self.nets.values() if net["Id"] == net_id)

    def inspect_container(self, name):
        if name not in self.attached:
            raise docker.errors.NotFound(f"No such container: {name}")
        return {"Id": name, "NetworkSettings": {"Networks": self.attached[name]}}

    def connect_container_to_network(self, container, net_id, aliases):
        self.attached[container][net_id] = {"NetworkID": net_id, "Aliases": list(aliases)}

    def disconnect_container_from_network(self, container, net_id):
        self.attached[container].pop(net_id)


def test_the_hub_creates_the_students_network_once_and_joins_it_under_its_name():
    engine = Engine()
    net = ensure_network(engine, "course-hub", internal=True)
    assert engine.nets["course-hub"]["Internal"] is True and engine.nets["course-hub"]["Labels"]
    assert ensure_network(engine, "course-hub", internal=True) == net  # a restart finds it
    me = docker_setup.own_container(engine)
    assert join_network(engine, me, net, "jupyterhub") is True
    assert join_network(engine, me, net, "jupyterhub") is False  # `docker compose restart`: already on it
    engine.attached[me][net]["Aliases"] = []  # on it, but not by the name students' containers use
    assert join_network(engine, me, net, "jupyterhub") is True and engine.attached[me][net]["Aliases"] == ["jupyterhub"]


def test_a_network_with_the_other_internal_setting_is_one_line_saying_what_to_do():
    engine = Engine()
    ensure_network(engine, "course-hub", internal=True)
    with pytest.raises(DockerSetupError) as err:
        ensure_network(engine, "course-hub", internal=False)
    assert str(err.value).startswith("the network course-hub is internal, but COURSE_DOCKER_INTERNAL=false: ")
    assert "docker network rm course-hub" in str(err.value) and "\n" not in str(err.value)


def test_a_missing_image_or_container_is_one_line():
    with pytest.raises(DockerSetupError, match=r"^the student image lab:1 is not on this Docker engine: build it "
                                               r"with `docker compose build`"):
        docker_setup.check_image(Engine(), "lab:1")
    engine = Engine()
    engine.attached.clear()
    with pytest.raises(DockerSetupError, match="does not run in a container of this Docker engine"):
        docker_setup.own_container(engine)


def test_no_socket_and_no_engine_are_one_line_each(monkeypatch, tmp_path):
    monkeypatch.setattr(docker_setup, "DEFAULT_SOCKET", str(tmp_path / "docker.sock"))
    with pytest.raises(DockerSetupError, match=r"^the Docker socket .*docker.sock is not in the hub's container: "
                                               r"mount the engine's socket there"):
        docker_setup.engine_client({})
    with pytest.raises(DockerSetupError) as err:  # a socket path where nothing listens
        docker_setup.engine_client({"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"})
    assert "does not answer" in str(err.value) and "\n" not in str(err.value)


def gpu(*devices: str) -> GpuAssignment:
    return GpuAssignment(policy="exclusive", devices=tuple(devices), all_gpus=False, notice=None)


def api_error(text: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = 500
    return docker.errors.APIError("500 Server Error", response=response, explanation=text)


def test_what_a_student_reads_when_the_engine_refuses_their_container():
    refused = api_error('could not select device driver "nvidia" with capabilities: [[gpu]]')
    line = refusal_message(refused, "course-singleuser:latest", gpu("0"))
    assert line == ("Your server was to get GPU 0, but this machine's Docker engine cannot give containers a GPU "
                    "(could not select device driver \"nvidia\" with capabilities: [[gpu]]). Tell your instructor: "
                    "the NVIDIA Container Toolkit is missing or not set up.")
    missing = docker.errors.ImageNotFound("No such image: course-singleuser:latest")
    assert refusal_message(missing, "course-singleuser:latest", None).startswith(
        "The course image course-singleuser:latest is not on this machine's Docker engine")
    # Anything else is JupyterHub's to report: never a message that names the wrong cause.
    assert refusal_message(api_error("port is already allocated"), "img", gpu("0")) is None
    assert refusal_message(refused, "img", None) is None  # no GPU was asked for: not a GPU refusal
    assert refusal_message(RuntimeError("boom"), "img", gpu("0")) is None
    error = SpawnRefused(line + " (100% sure)")
    assert error.status_code == 503 and error.jupyterhub_message.endswith("(100% sure)")
    assert str(error).endswith("(100% sure))")  # a % in the line never breaks tornado's formatting
