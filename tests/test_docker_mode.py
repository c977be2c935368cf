"""Docker mode: the real hub/jupyterhub_config.py loaded with COURSE_HUB_MODE=docker, a real DockerSpawner
per student (JupyterHub's own User objects on an in-memory database), its pre-spawn and post-stop hooks,
and the container it would create, built by docker-py's real host-config code. Only the Docker engine is
replaced (it cannot run here): a client that records `create_container` instead of calling the daemon.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from jupyterhub import orm
from jupyterhub.objects import Hub, Server
from jupyterhub.user import User
from tornado.web import HTTPError
from traitlets.config.loader import PyFileConfigLoader

import docker
from hub.docker_spawner import CourseDockerSpawner
from hub.gpu_policy import STATE_FILENAME

pytestmark = pytest.mark.docker_static

REPO = Path(__file__).resolve().parents[1]
IMAGE = "course-singleuser:test"


class RecordingClient(docker.APIClient):
    """docker-py's client with a fixed API version (so it never asks a daemon) that records creations."""

    def __init__(self):
        super().__init__(base_url="unix:///nonexistent/docker.sock", version="1.45")
        self.created: list[dict] = []

    def create_container(self, **kwargs):
        self.created.append(kwargs)
        return {"Id": f"container{len(self.created):04d}"}


class DockerHub:
    """The hub's configuration in Docker mode, plus JupyterHub's users and spawners for it."""

    def __init__(self, config):
        self.config = config
        self.db = orm.new_session_factory("sqlite:///:memory:")()
        jh = config.JupyterHub
        hub = Hub(ip=jh.hub_ip, port=jh.hub_port, base_url="/hub/")
        hub.connect_ip = jh.hub_connect_ip
        self.settings = {"spawner_class": jh.spawner_class, "config": config, "hub": hub, "base_url": "/",
                         "domain": "", "statsd": None}
        self.users: dict[str, User] = {}

    def spawner(self, name: str):
        if name not in self.users:
            orm_user = orm.User(name=name)
            self.db.add(orm_user)
            self.db.commit()
            self.users[name] = User(orm_user, self.settings)
        return self.users[name].spawners[""]

    def start(self, name: str):
        """What User.spawn does up to the pre-spawn hook: a server row, then the hook."""
        spawner = self.spawner(name)
        orm_server = orm.Server(base_url=self.users[name].base_url)
        self.db.add(orm_server)
        self.db.commit()
        spawner.server = Server(orm_server=orm_server)
        spawner.run_pre_spawn_hook()
        return spawner

    def stop(self, name: str, *, run_hook: bool = True):
        """What User.stop does after the container is gone: drop the server row, run the post-stop hook."""
        spawner = self.users[name].spawners[""]
        spawner.server = None
        self.db.commit()
        if run_hook:
            spawner.run_post_stop_hook()


@pytest.fixture
def load_hub(tmp_path, monkeypatch):
    """Load hub/jupyterhub_config.py in Docker mode with extra settings; returns a DockerHub."""
    for name in list(os.environ):
        if name.startswith("COURSE_"):
            monkeypatch.delenv(name)
    client = RecordingClient()
    monkeypatch.setattr(CourseDockerSpawner, "_client", client)

    def load(**env: str) -> DockerHub:
        base = {"COURSE_HUB_MODE": "docker", "COURSE_HUB_STATE_DIR": str(tmp_path / "state"),
                "COURSE_HUB_BIND_URL": "http://0.0.0.0:8000", "COURSE_SINGLEUSER_IMAGE": IMAGE}
        for key, value in {**base, **env}.items():
            monkeypatch.setenv(key, value)
        config = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "hub")).load_config()
        hub = DockerHub(config)
        hub.client = client
        return hub

    return load


def created(hub: DockerHub, spawner) -> dict:
    """The keyword arguments DockerSpawner passes to docker's create_container for `spawner`."""
    asyncio.run(spawner.create_object())
    return hub.client.created[-1]


def test_hub_settings_for_containers(load_hub):
    hub = load_hub()
    jh = hub.config.JupyterHub
    assert jh.spawner_class is CourseDockerSpawner
    assert jh.hub_ip == "0.0.0.0" and jh.hub_connect_ip == "jupyterhub"
    assert jh.cleanup_servers is False  # a hub restart keeps the students' containers


def test_image_network_volumes_and_limits(load_hub):
    hub = load_hub(COURSE_CPU_LIMIT="2", COURSE_MEM_LIMIT="4G", COURSE_DATA_VOLUME="lab-data",
                   COURSE_DOCKER_NETWORK="lab-net")
    spawner = hub.start("alice")
    assert isinstance(spawner, CourseDockerSpawner)
    assert spawner.image == IMAGE
    assert spawner._get_allowed_images() == {IMAGE: IMAGE}
    with pytest.raises(HTTPError) as err:
        asyncio.run(spawner.check_allowed("quay.io/someone/else:latest"))
    assert err.value.status_code == 400
    assert spawner.network_name == "lab-net" and spawner.use_internal_ip
    assert spawner.remove is True
    assert spawner.volume_binds == {
        "course-home-alice": {"bind": "/home/jovyan", "mode": "rw"},
        "lab-data": {"bind": "/srv/data", "mode": "ro"},
        "course-content": {"bind": "/srv/course-content", "mode": "ro"},  # the hub's content repository
    }
    assert spawner.cpu_limit == 2.0 and spawner.mem_limit == 4 * 1024 ** 3
    assert spawner.pull_policy == "never"  # built on this machine: no registry holds it

    kwargs = created(hub, spawner)
    host = kwargs["host_config"]
    assert kwargs["image"] == IMAGE
    # the same command as local mode's (sync ~/course, then the server), under the image's init
    assert kwargs["command"][:4] == ["python", "/opt/course/singleuser/server_command.py", "--",
                                     "jupyterhub-singleuser"]
    assert "--MappingKernelManager.cull_idle_timeout=1200" in kwargs["command"]
    assert sorted(host["Binds"]) == ["course-content:/srv/course-content:ro", "course-home-alice:/home/jovyan:rw",
                                     "lab-data:/srv/data:ro"]
    assert host["NetworkMode"] == "lab-net" and "PortBindings" not in host
    assert host["Memory"] == host["MemorySwap"] == 4 * 1024 ** 3  # no swap past the limit
    assert host["CpuPeriod"] == 100_000 and host["CpuQuota"] == 200_000
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["CapDrop"] == ["ALL"] and host["PidsLimit"] == 4096
    assert not host.get("AutoRemove") and spawner.remove is True  # the spawner removes it when it stops
    assert "DeviceRequests" not in host  # COURSE_GPU_POLICY defaults to none


def test_each_student_has_their_own_home_volume(load_hub):
    hub = load_hub()
    binds = {name: hub.start(name).volume_binds for name in ("alice", "bob.kim")}
    assert "course-home-alice" in binds["alice"] and "course-home-bob-2ekim" in binds["bob.kim"]
    assert "course-home-alice" not in binds["bob.kim"]


def test_environment_of_a_student_container(load_hub):
    hub = load_hub(COURSE_CONTENT_REPO="https://example.org/course.git", COURSE_CONTENT_BRANCH="spring")
    spawner = hub.start("alice")
    env = spawner.get_env()
    assert env["COURSE_DATA_DIR"] == "/srv/data"
    assert env["COURSE_CONTENT_REPO"] == "https://example.org/course.git"
    assert env["COURSE_CONTENT_BRANCH"] == "spring"
    assert env["TENSORBOARD_PROXY_URL"] == "/user/alice/proxy/%PORT%/"
    assert env["JUPYTERHUB_API_URL"] == "http://jupyterhub:8002/hub/api"
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert "COURSE_GPU_MEMORY_GROWTH" not in env
    environment = created(hub, spawner)["environment"]
    assert environment["COURSE_DATA_DIR"] == "/srv/data" and environment["NVIDIA_VISIBLE_DEVICES"] == "void"


def test_the_gradebook_runs_in_the_hub_container_and_kernels_report_to_it(load_hub):
    hub = load_hub(COURSE_HUB_BIND_URL="http://0.0.0.0:9000/course/")
    services = {s["name"]: s for s in hub.config.JupyterHub.services}
    gradebook = services["gradebook"]
    assert gradebook["command"][1:] == ["-m", "hub.gradebook.service", "--ip", "0.0.0.0", "--port", "9003"]
    assert gradebook["url"] == "http://127.0.0.1:9003"  # the proxy runs in the hub's container too
    secrets = Path(os.environ["COURSE_HUB_STATE_DIR"]) / "secrets"
    assert gradebook["api_token"] == (secrets / "gradebook_token").read_text()
    assert {"course-tools", "idle-culler"} <= set(services)
    env = hub.start("alice").get_env()
    assert env["COURSE_GRADEBOOK_URL"] == "http://jupyterhub:9003/course/services/gradebook/"
    assert "access:services!service=gradebook" in hub.config.Spawner.server_token_scopes


def test_content_defaults_to_the_hubs_content_repository_in_its_volume(load_hub):
    hub = load_hub(COURSE_CONTENT_BRANCH="spring", COURSE_CONTENT_VOLUME="lab-content")
    spawner = hub.start("alice")
    env = spawner.get_env()
    assert env["COURSE_CONTENT_REPO"] == "file:///srv/course-content"
    assert env["COURSE_CONTENT_BRANCH"] == "main"  # the hub's repository has one branch
    assert spawner.volume_binds["lab-content"] == {"bind": "/srv/course-content", "mode": "ro"}
    # The hub keeps that repository where the compose file mounts the volume (and commits new versions there).
    from hub.content import content_source, local_repo_dir
    from hub.settings import load_settings

    settings = load_settings({"COURSE_HUB_MODE": "docker"})
    assert local_repo_dir(settings) == Path("/srv/course-content") == content_source(settings).local_repo


def test_shared_policy_gives_every_student_every_listed_gpu_with_a_cap(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="shared", COURSE_GPU_IDS="0,1", COURSE_GPU_MEMORY_LIMIT_MB="6000")
    for name in ("alice", "bob", "carol"):
        spawner = hub.start(name)
        env = spawner.get_env()
        assert env["NVIDIA_VISIBLE_DEVICES"] == "0,1"
        assert env["COURSE_GPU_MEMORY_GROWTH"] == "1" and env["COURSE_GPU_MEMORY_LIMIT_MB"] == "6000"
        host = created(hub, spawner)["host_config"]
        assert host["DeviceRequests"] == [
            {"Driver": "nvidia", "Count": 0, "DeviceIDs": ["0", "1"], "Capabilities": [["gpu"]], "Options": {}}]


def test_shared_policy_without_ids_requests_all_gpus(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="shared")
    spawner = hub.start("alice")
    assert spawner.get_env()["NVIDIA_VISIBLE_DEVICES"] == "all"
    host = created(hub, spawner)["host_config"]
    assert host["DeviceRequests"][0]["Count"] == -1 and not host["DeviceRequests"][0]["DeviceIDs"]


def test_spread_policy_balances_and_reuses_released_gpus(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="spread", COURSE_GPU_IDS="0,1", COURSE_GPU_MEMORY_LIMIT_MB="8000")
    got = {}
    for name in ("alice", "bob", "carol"):
        spawner = hub.start(name)
        got[name] = spawner.get_env()["NVIDIA_VISIBLE_DEVICES"]
        assert created(hub, spawner)["host_config"]["DeviceRequests"][0]["DeviceIDs"] == [got[name]]
    assert got == {"alice": "0", "bob": "1", "carol": "0"}
    hub.stop("bob")  # GPU 1 now serves nobody
    assert hub.start("dave").get_env()["NVIDIA_VISIBLE_DEVICES"] == "1"
    assert hub.start("erin").get_env()["NVIDIA_VISIBLE_DEVICES"] in ("0", "1")


def test_exclusive_exhaustion_gives_a_cpu_only_server_with_a_message(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0", COURSE_GPU_MEMORY_LIMIT_MB="8000")
    alice = hub.start("alice")
    assert created(hub, alice)["host_config"]["DeviceRequests"][0]["DeviceIDs"] == ["0"]

    bob = hub.start("bob")
    env = bob.get_env()
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert "runs on CPU only" in env["COURSE_GPU_NOTICE"] and env["COURSE_GPU_POLICY"] == "exclusive"
    assert "COURSE_GPU_MEMORY_LIMIT_MB" not in env
    assert "DeviceRequests" not in created(hub, bob)["host_config"]

    async def progress_messages():
        return [event["message"] async for event in bob.progress()]

    messages = asyncio.run(progress_messages())
    assert "runs on CPU only" in messages[0] and len(messages) == 2

    hub.stop("bob")
    hub.stop("alice")  # post-stop hook gives GPU 0 back
    bob = hub.start("bob")
    assert bob.get_env()["NVIDIA_VISIBLE_DEVICES"] == "0"
    assert "COURSE_GPU_NOTICE" not in bob.get_env()
    assert created(hub, bob)["host_config"]["DeviceRequests"][0]["DeviceIDs"] == ["0"]


def test_gpu_assignments_survive_a_hub_restart_and_stale_ones_are_dropped(load_hub, tmp_path):
    hub = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0,1")
    hub.start("alice")
    hub.start("bob")
    state = tmp_path / "state" / STATE_FILENAME
    assert state.exists()

    # The hub restarts: a fresh configuration reads the assignments back.
    restarted = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0,1")
    allocator = restarted.config.DockerSpawner.pre_spawn_hook.__self__.allocator
    assert allocator.assignments == {"alice": "0", "bob": "1"}
    # alice's container is still running; bob's stopped while the hub was down (no post-stop hook ran).
    restarted.start("alice")
    carol = restarted.start("carol")  # reconcile sees only alice and carol running: bob's GPU is free
    assert carol.get_env()["NVIDIA_VISIBLE_DEVICES"] == "1"
    assert allocator.assignments == {"alice": "0", "carol": "1"}


def test_a_crash_without_post_stop_is_reconciled_at_the_next_spawn(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0")
    hub.start("alice")
    hub.stop("alice", run_hook=False)
    assert hub.start("bob").get_env()["NVIDIA_VISIBLE_DEVICES"] == "0"


def test_bad_gpu_settings_stop_the_hub_with_one_line(load_hub):
    with pytest.raises(SystemExit, match="^course hub: COURSE_GPU_POLICY=spread needs COURSE_GPU_IDS"):
        load_hub(COURSE_GPU_POLICY="spread")

