"""Docker mode, before JupyterHub starts: the engine answers, the student image is there, and the students'
network exists with the hub on it.

The hub runs in a container that holds the engine's socket (docker/docker-compose.yml). It creates the
students' network itself (COURSE_DOCKER_NETWORK; internal unless COURSE_DOCKER_INTERNAL=false) and joins it
under the name students' containers use for it (`jupyterhub`). The network belongs to no compose project, so
`docker compose down` never has to remove a network that running students' containers are still on, and
their servers carry on through `down` and `up -d` as through `restart`.

Every problem is a `DockerSetupError` whose message is one line saying what to do.
"""
from __future__ import annotations

import os
import socket
from typing import Any

from course import settings as registry
from hub.settings import Settings

DEFAULT_SOCKET = "/var/run/docker.sock"
NETWORK_LABEL = "org.course.hub-network"


class DockerSetupError(RuntimeError):
    """Docker mode cannot start; the message is one line saying what to do."""


def engine_client(environ: dict[str, str] | None = None) -> Any:
    """A docker-py low-level client for the engine (DOCKER_HOST, else the mounted socket), checked to answer."""
    import docker

    environ = dict(os.environ if environ is None else environ)
    kwargs = docker.utils.kwargs_from_env(environment=environ)
    where = kwargs.get("base_url") or f"unix://{DEFAULT_SOCKET}"
    if "base_url" not in kwargs and not os.path.exists(DEFAULT_SOCKET):
        raise DockerSetupError(
            f"the Docker socket {DEFAULT_SOCKET} is not in the hub's container: mount the engine's socket there "
            f"(docker/docker-compose.yml mounts {registry.DOCKER_SOCKET.name}) and start the hub again")
    try:
        client = docker.APIClient(version="auto", timeout=60, **kwargs)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - docker-py raises several kinds; the reason is what matters
        raise DockerSetupError(f"the Docker engine at {where} does not answer ({one_line(exc)}): is dockerd "
                               "running, and is its socket the one mounted into the hub's container?") from None
    return client


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (docker-py's errors carry the engine's explanation)."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip() or type(exc).__name__
    return " ".join(text.split())


def check_image(client: Any, image: str) -> None:
    """The student image is on the engine (the hub never pulls: it starts only the course's own image)."""
    import docker

    try:
        client.inspect_image(image)
    except docker.errors.ImageNotFound:
        raise DockerSetupError(
            f"the student image {image} is not on this Docker engine: build it with `docker compose build` "
            f"(or set {registry.SINGLEUSER_IMAGE.name} to the image you built)") from None


def own_container(client: Any) -> str:
    """The id of the container this process runs in (its host name, which Docker sets to the short id)."""
    import docker

    name = socket.gethostname()
    try:
        return client.inspect_container(name)["Id"]
    except docker.errors.NotFound:
        raise DockerSetupError(
            f"this hub does not run in a container of this Docker engine (no container {name!r}): "
            "COURSE_HUB_MODE=docker runs inside the compose deployment (docker compose up -d)") from None


def ensure_network(client: Any, name: str, internal: bool) -> str:
    """The students' network `name`: created if missing; its id. One line if it exists with the other
    `internal` setting (a network cannot change that while containers are on it)."""
    found = [n for n in client.networks(names=[name]) if n.get("Name") == name]
    if not found:
        created = client.create_network(name, driver="bridge", internal=internal, labels={NETWORK_LABEL: "1"},
                                        check_duplicate=True)
        return created["Id"]
    network = client.inspect_network(found[0]["Id"])
    if bool(network.get("Internal")) != internal:
        now = "internal" if network.get("Internal") else "not internal"
        raise DockerSetupError(
            f"the network {name} is {now}, but {registry.DOCKER_INTERNAL.name}={'true' if internal else 'false'}: "
            f"stop every student's server (the admin page), run `docker network rm {name}`, then start the hub "
            "again, which creates it anew")
    return network["Id"]


def join_network(client: Any, container: str, network: str, alias: str) -> bool:
    """Connect `container` to `network` under `alias` unless it already is; True when it joined now."""
    networks = client.inspect_container(container)["NetworkSettings"]["Networks"] or {}
    for attached in networks.values():
        if attached.get("NetworkID") == network and alias in (attached.get("Aliases") or []):
            return False
    if any(attached.get("NetworkID") == network for attached in networks.values()):
        client.disconnect_container_from_network(container, network)  # on it, but not by the name students use
    client.connect_container_to_network(container, network, aliases=[alias])
    return True


def prepare_docker(settings: Settings, client: Any = None) -> Any:
    """Everything Docker mode needs before JupyterHub starts; returns the client (DockerSetupError otherwise)."""
    from hub.docker_spawner import HUB_HOSTNAME

    client = client or engine_client()
    check_image(client, settings.singleuser_image)
    network = ensure_network(client, settings.docker_network, settings.docker_internal)
    join_network(client, own_container(client), network, HUB_HOSTNAME)
    return client
