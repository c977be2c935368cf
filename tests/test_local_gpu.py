"""Local mode's GPU policies, from the same assignment code as Docker mode: the real configuration
(`configure_common` + `configure_local`), a real CourseLocalSpawner per student on JupyterHub's own User
objects and an in-memory database, and its pre-spawn, environment, progress and post-stop steps. The
machine's GPU list is a fake (`machine_gpus` is replaced); nothing needs a GPU.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from jupyterhub import orm
from jupyterhub.objects import Hub, Server
from jupyterhub.user import User
from traitlets.config import Config

from hub import limits, local_spawner
from hub.common import configure_common
from hub.gpu_policy import STATE_FILENAME
from hub.local_spawner import CourseLocalSpawner, configure_local
from hub.prepare import gpu_line
from hub.settings import load_settings


class LocalHub:
    """The hub's local-mode configuration, plus JupyterHub's users and spawners for it."""

    def __init__(self, config: Config):
        self.config = config
        self.db = orm.new_session_factory("sqlite:///:memory:")()
        jh = config.JupyterHub
        hub = Hub(ip=jh.hub_ip, port=jh.hub_port, base_url="/hub/")
        self.settings = {"spawner_class": jh.spawner_class, "config": config, "hub": hub, "base_url": "/",
                         "domain": "", "statsd": None}
        self.users: dict[str, User] = {}

    @property
    def resources(self) -> local_spawner.LocalResources:
        return self.config.CourseLocalSpawner.resources

    def spawner(self, name: str) -> CourseLocalSpawner:
        if name not in self.users:
            orm_user = orm.User(name=name)
            self.db.add(orm_user)
            self.db.commit()
            self.users[name] = User(orm_user, self.settings)
        return self.users[name].spawners[""]

    def start(self, name: str) -> CourseLocalSpawner:
        """What User.spawn does up to the server's start: a server row, then the pre-spawn step."""
        spawner = self.spawner(name)
        orm_server = orm.Server(base_url=self.users[name].base_url)
        self.db.add(orm_server)
        self.db.commit()
        spawner.server = Server(orm_server=orm_server)
        asyncio.run(spawner.run_pre_spawn_hook())
        return spawner

    def stop(self, name: str, *, run_hook: bool = True) -> None:
        """What User.stop does after the process is gone: drop the server row, run the post-stop step."""
        spawner = self.users[name].spawners[""]
        spawner.server = None
        self.db.commit()
        if run_hook:
            asyncio.run(spawner.run_post_stop_hook())


@pytest.fixture
def load_hub(tmp_path, monkeypatch):
    """Load the local-mode configuration with extra settings and a fake list of this machine's GPUs."""
    monkeypatch.setattr(limits, "detect", lambda memory, cpu, **kw: limits.Means("none", memory, cpu))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")  # the hub's own: no server may inherit it
    monkeypatch.setenv("NVIDIA_VISIBLE_DEVICES", "all")

    def load(gpus: tuple[str, ...] = (), **env: str) -> LocalHub:
        monkeypatch.setattr(local_spawner, "machine_gpus", lambda: tuple(gpus))
        settings = load_settings({"COURSE_HUB_STATE_DIR": str(tmp_path / "state"),
                                  "COURSE_DATA_DIR": str(tmp_path / "data"), **env})
        c = Config()
        configure_common(c, settings)
        configure_local(c, settings)
        c.Spawner.env_keep = [*c.Spawner.get("env_keep", []), "PATH", "CUDA_VISIBLE_DEVICES"]  # even if kept
        return LocalHub(c)

    return load


def gpu_env(spawner) -> dict[str, str]:
    env = spawner.get_env()
    return {k: env[k] for k in sorted(env) if "GPU" in k or "VISIBLE" in k}


def progress_messages(spawner) -> list[str]:
    async def collect():
        return [event["message"] async for event in spawner.progress()]

    return asyncio.run(collect())


def test_policy_none_on_a_machine_without_gpus_hides_them_all(load_hub):
    hub = load_hub()
    env = gpu_env(hub.start("alice"))
    assert env == {"CUDA_VISIBLE_DEVICES": "", "NVIDIA_VISIBLE_DEVICES": "void", "COURSE_GPU_POLICY": "none"}
    assert hub.resources.host_gpus == ()  # `none` never asks the machine


def test_shared_without_ids_gives_everyone_the_machines_gpus_with_growth_and_cap(load_hub):
    hub = load_hub(gpus=("0", "1"), COURSE_GPU_POLICY="shared", COURSE_GPU_MEMORY_LIMIT_MB="6000")
    for name in ("alice", "bob", "carol"):
        env = gpu_env(hub.start(name))
        assert env["CUDA_VISIBLE_DEVICES"] == "0,1" and env["COURSE_GPU_POLICY"] == "shared"
        assert env["COURSE_GPU_MEMORY_GROWTH"] == "1" and env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert env["COURSE_GPU_MEMORY_LIMIT_MB"] == "6000" and "COURSE_GPU_NOTICE" not in env


def test_shared_on_a_machine_without_gpus_is_cpu_only_without_a_notice(load_hub):
    hub = load_hub(gpus=(), COURSE_GPU_POLICY="shared", COURSE_GPU_MEMORY_LIMIT_MB="6000")
    spawner = hub.start("alice")
    assert gpu_env(spawner) == {"CUDA_VISIBLE_DEVICES": "", "NVIDIA_VISIBLE_DEVICES": "void",
                                "COURSE_GPU_POLICY": "shared"}
    assert progress_messages(spawner) == ["Spawning server..."]


def test_shared_with_ids_gives_exactly_those(load_hub):
    hub = load_hub(gpus=("0", "1", "2"), COURSE_GPU_POLICY="shared", COURSE_GPU_IDS="2,1")
    assert gpu_env(hub.start("alice"))["CUDA_VISIBLE_DEVICES"] == "1,2"
    assert hub.resources.host_gpus == ()  # listed ids: the machine is not asked


def test_spread_balances_and_a_stopped_server_gives_its_gpu_back(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="spread", COURSE_GPU_IDS="0,1", COURSE_GPU_MEMORY_LIMIT_MB="8000")
    got = {name: gpu_env(hub.start(name))["CUDA_VISIBLE_DEVICES"] for name in ("alice", "bob", "carol")}
    assert got == {"alice": "0", "bob": "1", "carol": "0"}
    hub.stop("bob")  # GPU 1 now serves nobody
    assert gpu_env(hub.start("dave"))["CUDA_VISIBLE_DEVICES"] == "1"


def test_exclusive_when_every_gpu_is_taken_gives_cpu_only_and_says_why(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0", COURSE_GPU_MEMORY_LIMIT_MB="8000")
    alice = hub.start("alice")
    assert gpu_env(alice)["CUDA_VISIBLE_DEVICES"] == "0"
    assert progress_messages(alice) == ["Spawning server..."]

    bob = hub.start("bob")
    env = gpu_env(bob)
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["COURSE_GPU_POLICY"] == "exclusive"
    assert "runs on CPU only" in env["COURSE_GPU_NOTICE"] and "COURSE_GPU_MEMORY_LIMIT_MB" not in env
    messages = progress_messages(bob)  # on the student's screen while the server starts
    assert "The only GPU is in use by another student" in messages[0] and len(messages) == 2

    hub.stop("bob")
    hub.stop("alice")  # GPU 0 back
    env = gpu_env(hub.start("bob"))
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and "COURSE_GPU_NOTICE" not in env


def test_a_progress_page_opened_before_the_pre_spawn_step_still_shows_why(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0")
    hub.start("alice")
    bob = hub.spawner("bob")
    bob._spawn_pending = True  # the student's page asks for progress the moment the spawn begins

    async def page_then_step():
        page = asyncio.ensure_future(collect(bob))
        await asyncio.sleep(0.2)  # the page waits; nothing is shown yet
        assert not page.done()
        await bob.run_pre_spawn_hook()
        return await asyncio.wait_for(page, timeout=10)

    async def collect(spawner):
        return [event["message"] async for event in spawner.progress()]

    messages = asyncio.run(page_then_step())
    assert "The only GPU is in use by another student" in messages[0]
    hub.stop("bob")
    assert bob.gpu_assignment is None and not bob._resources_taken  # the next spawn's page waits again


def test_assignments_survive_a_hub_restart_and_stale_ones_are_dropped(load_hub, tmp_path):
    hub = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0,1")
    hub.start("alice")
    hub.start("bob")
    state = tmp_path / "state" / STATE_FILENAME
    assert json.loads(state.read_text())["assignments"] == {"alice": "0", "bob": "1"}

    restarted = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0,1")  # a fresh configuration
    assert restarted.resources.allocator.assignments == {"alice": "0", "bob": "1"}
    restarted.start("alice")  # alice's server kept running; bob's stopped while the hub was down
    assert gpu_env(restarted.start("carol"))["CUDA_VISIBLE_DEVICES"] == "1"
    assert restarted.resources.allocator.assignments == {"alice": "0", "carol": "1"}
    assert gpu_env(restarted.users["alice"].spawners[""])["CUDA_VISIBLE_DEVICES"] == "0"  # still hers


def test_a_crash_without_post_stop_is_reconciled_at_the_next_spawn(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0")
    hub.start("alice")
    hub.stop("alice", run_hook=False)
    assert gpu_env(hub.start("bob"))["CUDA_VISIBLE_DEVICES"] == "0"


def test_every_spawner_shares_one_allocator(load_hub):
    hub = load_hub(COURSE_GPU_POLICY="spread", COURSE_GPU_IDS="0,1")
    assert hub.spawner("alice").resources is hub.spawner("bob").resources is hub.resources


def test_the_start_up_line_says_what_students_get_on_this_machine(tmp_path):
    def line(gpus, **env):
        return gpu_line(load_settings({"COURSE_HUB_STATE_DIR": str(tmp_path), **env}), gpus)

    assert line(()) == "none for students (COURSE_GPU_POLICY=none; this machine has no GPU (nvidia-smi -L))"
    assert line(("0", "1"), COURSE_GPU_POLICY="shared") == "policy shared: every server gets all of them (0, 1)"
    assert line((), COURSE_GPU_POLICY="shared") == "policy shared: this machine has no GPU, servers run on CPU only"
    assert line(("0", "1"), COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0,1") == (
        "policy exclusive: one student per GPU of 0, 1, CPU only when all are taken")
    warned = line(("0",), COURSE_GPU_POLICY="spread", COURSE_GPU_IDS="0,3")
    assert warned.startswith("policy spread: one each of GPU 0, 3, least loaded first; WARNING: ")
    assert "COURSE_GPU_IDS lists 3, which nvidia-smi -L does not show here" in warned
