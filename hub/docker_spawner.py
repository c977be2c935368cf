"""Docker mode: one container per student through DockerSpawner, with the GPU policy applied.

`configure_docker(c, settings)` is called by `hub/jupyterhub_config.py` when COURSE_HUB_MODE=docker.
The hub runs in its own container (see docker/docker-compose.yml) on an internal Docker network; each
student gets a container from the course image with their own home volume, the shared data volume
mounted read-only, CPU and memory limits, and exactly the GPUs that `hub.gpu_policy` assigns.
"""
from __future__ import annotations

from typing import Any

from dockerspawner import DockerSpawner
from tornado.web import HTTPError

from course import settings as registry
from hub.common import IMAGE_SERVER_COMMAND, gradebook_service, gradebook_url
from hub.content import DOCKER_CONTENT_DIR, image_content_environment
from hub.gpu_policy import (
    GPU_VARIABLES,
    STATE_FILENAME,
    GpuAllocator,
    GpuAssignment,
    active_server_keys,
    gpu_environment,
    server_key,
)
from hub.gradebook import SERVICE_NAME
from hub.settings import Settings

HUB_HOSTNAME = "jupyterhub"  # the hub's service name in docker/docker-compose.yml
HOME = "/home/jovyan"  # jovyan's home in the course image (docker/singleuser.Dockerfile)
HOME_VOLUME = "course-home-{username}"  # one named volume per student ({username} is escaped by DockerSpawner)
DATA_MOUNT = "/srv/data"  # where the shared read-only data volume appears in every container


class SpawnRefused(HTTPError):
    """The engine would not start a student's container: the one line the student reads, on the spawn page and
    in its progress ("Spawn failed: ..."). An HTTPError, so JupyterHub relays it as it is (an error page with the
    line, not "Unhandled error starting server") and logs it in one line."""

    def __init__(self, message: str):
        super().__init__(503, "%s", message)
        self.jupyterhub_message = message


def refusal_message(exc: BaseException, image: str, assignment: GpuAssignment | None) -> str | None:
    """One line for a student whose container the engine refused, saying why; None for any other failure."""
    import docker
    from hub.docker_setup import one_line

    reason = one_line(exc)
    if isinstance(exc, docker.errors.ImageNotFound) or (
            isinstance(exc, docker.errors.NotFound) and "image" in reason.lower()):
        return (f"The course image {image} is not on this machine's Docker engine, so no server can start. "
                "Tell your instructor (they build it with `docker compose build`).")
    gpus = ", ".join(assignment.devices) if assignment is not None and assignment.devices else "all GPUs"
    wanted_gpu = assignment is not None and (assignment.all_gpus or bool(assignment.devices))
    if isinstance(exc, docker.errors.APIError) and wanted_gpu and (
            "device driver" in reason or "nvidia" in reason.lower() or "gpu" in reason.lower()):
        return (f"Your server was to get GPU {gpus}, but this machine's Docker engine cannot give containers a GPU "
                f"({reason}). Tell your instructor: the NVIDIA Container Toolkit is missing or not set up.")
    return None


class CourseDockerSpawner(DockerSpawner):
    """DockerSpawner that shows the GPU notice (e.g. "all GPUs are taken") while spawning, and says in one line
    why the engine refused a container (no GPU runtime, no image) instead of a traceback."""

    gpu_assignment: GpuAssignment | None = None
    refused: bool = False  # the engine would not start the container this spawner created last

    async def progress(self):
        assignment = self.gpu_assignment
        if assignment is not None and assignment.notice:
            yield {"progress": 40, "message": assignment.notice}
        async for event in super().progress():
            yield event

    async def start(self):
        self.refused = False
        try:
            return await super().start()
        except Exception as exc:
            message = refusal_message(exc, self.image, self.gpu_assignment)
            if message is None:
                raise
            self.refused = True
            self.log.error("Server for %s not started: %s (`docker inspect %s` shows what was asked)",
                           self.user.name, message, self.object_name)
            raise SpawnRefused(message) from None

    async def stop(self, now: bool = False):
        if self.refused:
            # Never started, so it holds nothing: leave it for the instructor's `docker inspect` (the device request
            # the engine refused). The student's next start removes it and creates a new one.
            self.refused = False
            self.clear_state()
            return
        await super().stop(now)


def device_requests(assignment: GpuAssignment) -> list[Any]:
    """Docker device requests for `assignment`: explicit GPU ids, all GPUs, or none (CPU only)."""
    from docker.types import DeviceRequest

    if assignment.all_gpus:
        return [DeviceRequest(driver="nvidia", count=-1, capabilities=[["gpu"]])]
    if assignment.devices:
        return [DeviceRequest(driver="nvidia", device_ids=list(assignment.devices), capabilities=[["gpu"]])]
    return []


def container_environment(settings: Settings, inherited: dict[str, Any] | None = None) -> dict[str, Any]:
    """The environment every student container starts with (GPU variables are set per spawn).

    `inherited` is what `hub.common` gave every spawner (TENSORBOARD_PROXY_URL, ...); paths of the
    hub's machine are replaced by the container's: the data volume, the content to pull into
    ~/course (COURSE_CONTENT_REPO, else the notebooks baked into the image), and the gradebook, which
    kernels reach at the hub container's name on the hub's network.
    """
    env: dict[str, Any] = dict(inherited or {})
    env.update({
        registry.DATA_DIR.name: DATA_MOUNT,
        registry.GRADEBOOK_URL.name: gradebook_url(settings, HUB_HOSTNAME),
        **image_content_environment(settings),
    })
    return env


PIDS_LIMIT = 4096  # processes and threads in one student's container (a TensorFlow kernel runs about a hundred)


def student_host_config(settings: Settings) -> dict[str, Any]:
    """What every student's container gets besides DockerSpawner's own: no new privileges, no capabilities,
    a process cap, and no swap beyond the memory limit (so the limit is the memory a student has).

    The engine does not remove a container by itself (`auto_remove` off): the spawner removes it when the server
    stops (DockerSpawner.remove), and one that crashed, or that the engine refused to start, stays for the
    instructor's `docker inspect` and `docker logs` until the student's next start replaces it."""
    host_config: dict[str, Any] = {"security_opt": ["no-new-privileges"], "cap_drop": ["ALL"],
                                   "pids_limit": PIDS_LIMIT, "auto_remove": False}
    if settings.mem_limit_bytes is not None:
        host_config["memswap_limit"] = settings.mem_limit_bytes
    return host_config


def gradebook_in_container(service: dict, settings: Settings) -> dict:
    """The gradebook service listening on all of the hub container's interfaces; other services unchanged."""
    if service.get("name") != SERVICE_NAME:
        return service
    return gradebook_service(settings, service["api_token"], listen="0.0.0.0")


class GpuHooks:
    """The pre-spawn and post-stop hooks that take and give back a server's GPUs."""

    def __init__(self, allocator: GpuAllocator, memory_limit_mb: int | None):
        self.allocator = allocator
        self.memory_limit_mb = memory_limit_mb

    def __deepcopy__(self, memo: dict) -> GpuHooks:
        # traitlets deep-copies config values into every spawner; all spawners must share one allocator.
        return self

    def pre_spawn(self, spawner: DockerSpawner) -> GpuAssignment:
        key = server_key(spawner.user.name, spawner.name or "")
        dropped = self.allocator.reconcile(active_server_keys(spawner.user.db) | {key})
        if dropped:
            spawner.log.info("GPU assignments dropped for servers no longer running: %s", ", ".join(dropped))
        assignment = self.allocator.assign(key)
        env = dict(spawner.environment)
        for name in GPU_VARIABLES:
            env.pop(name, None)
        env.update(gpu_environment(assignment, self.memory_limit_mb))
        spawner.environment = env
        host_config = dict(spawner.extra_host_config) if isinstance(spawner.extra_host_config, dict) else {}
        host_config.pop("device_requests", None)
        requests = device_requests(assignment)
        if requests:
            host_config["device_requests"] = requests
        spawner.extra_host_config = host_config
        spawner.gpu_assignment = assignment
        if assignment.notice:
            spawner.log.warning("GPU for %s: none (%s)", key, assignment.notice)
        else:
            spawner.log.info("GPU for %s (%s policy): %s", key, assignment.policy, assignment.visible_devices)
        return assignment

    def post_stop(self, spawner: DockerSpawner) -> None:
        key = server_key(spawner.user.name, spawner.name or "")
        if self.allocator.release(key):
            spawner.log.info("GPU released by %s", key)


def configure_docker(c: Any, settings: Settings) -> GpuAllocator:
    """Configure JupyterHub `c` for Docker mode; returns the GPU allocator the hooks use."""
    allocator = GpuAllocator(settings.gpu_policy, settings.gpu_ids, settings.state_dir / STATE_FILENAME)
    hooks = GpuHooks(allocator, settings.gpu_memory_limit_mb)

    # The hub listens on all interfaces inside its container; students' containers reach it by name.
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.JupyterHub.hub_connect_ip = HUB_HOSTNAME
    c.JupyterHub.spawner_class = CourseDockerSpawner
    # So does the gradebook, which runs in the hub's container too (it needs no TensorFlow).
    c.JupyterHub.services = [gradebook_in_container(s, settings) for s in c.JupyterHub.services]

    spawner = c.DockerSpawner
    spawner.image = settings.singleuser_image
    spawner.allowed_images = [settings.singleuser_image]
    spawner.network_name = settings.docker_network
    spawner.use_internal_ip = True
    spawner.remove = True
    spawner.cmd = IMAGE_SERVER_COMMAND
    spawner.notebook_dir = HOME
    spawner.volumes = {HOME_VOLUME: HOME}
    # The shared datasets, and the hub's content repository over the copy baked into the image.
    spawner.read_only_volumes = {settings.data_volume: DATA_MOUNT, settings.content_volume: str(DOCKER_CONTENT_DIR)}
    spawner.pull_policy = "never"  # the course image is built on this machine; no registry holds it
    if settings.cpu_limit is not None:
        spawner.cpu_limit = settings.cpu_limit
    if settings.mem_limit_bytes is not None:
        spawner.mem_limit = settings.mem_limit_bytes
    spawner.extra_host_config = student_host_config(settings)
    inherited = c.Spawner.environment if "environment" in c.Spawner else {}
    spawner.environment = container_environment(settings, inherited)
    spawner.pre_spawn_hook = hooks.pre_spawn
    spawner.post_stop_hook = hooks.post_stop
    return allocator
