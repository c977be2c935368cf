"""Docker mode's grading, without an engine: the throwaway container's definition from the settings, the
request docker-py builds from it (its real create_container and host-config code, at API version 1.45),
and the whole grading flow against a fake engine that serves the student's volume, the image's baked
notebooks and what the grader would write (graded, not started, timed out, out of memory, removed after).
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import requests

import docker
from hub import docker_spawner
from hub.gradebook.store import GRADED, NOT_STARTED, Gradebook
from hub.grading import docker_mode, runner
from hub.settings import REPO_ROOT, load_settings

pytestmark = pytest.mark.docker_static

NAME = "03_linear_regression.ipynb"
IMAGE = "course-singleuser:test"
COURSE_VERSION = (REPO_ROOT / "notebooks" / NAME).read_bytes()
ANSWERED = json.dumps({"cells": [{"cell_type": "code", "source": "check('03.cost_by_hand', 0.525)",
                                  "metadata": {}, "outputs": [], "execution_count": None}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def settings_for(tmp_path: Path, **extra: str):
    return load_settings({"COURSE_HUB_MODE": "docker", "COURSE_HUB_STATE_DIR": str(tmp_path / "state"),
                          "COURSE_HUB_NOTEBOOKS_DIR": str(tmp_path / "no-notebooks-in-the-hub-image"),
                          "COURSE_SINGLEUSER_IMAGE": IMAGE, **extra})


# -- the container's definition --------------------------------------------------------------------------------

def test_the_container_is_the_course_image_with_a_read_only_home_and_no_network(tmp_path):
    settings = settings_for(tmp_path, COURSE_GRADE_TIMEOUT="120", COURSE_GRADE_MEM_LIMIT="2G", COURSE_CPU_LIMIT="1.5",
                            COURSE_DATA_VOLUME="lab-data")
    d = docker_mode.container_definition(settings, "bob.kim", "03", NAME, full=False)
    assert d["image"] == IMAGE
    assert d["entrypoint"] == ["tini", "-g", "--"]  # the image's start.sh (and its content sync) never runs
    assert d["command"] == ["python", "/opt/course/singleuser/grade_notebook.py", f"/tmp/grading/{NAME}",
                            "--result", "/tmp/grading/grade-result.json"]
    assert d["working_dir"] == "/tmp/grading" and d["user"] == "1000:100" and d["network_disabled"]
    assert d["name"].startswith("course-grade-bob-2ekim-03-")
    assert d["labels"] == {"org.course.grading": "1", "org.course.grading.user": "bob.kim",
                           "org.course.grading.chapter": "03"}
    host = d["host_config"]
    assert host["network_mode"] == "none"
    assert [(m["Target"], m["Source"], m["Type"], m["ReadOnly"]) for m in host["mounts"]] == [
        ("/home/jovyan", "course-home-bob-2ekim", "volume", True), ("/srv/data", "lab-data", "volume", True)]
    assert host["mem_limit"] == host["memswap_limit"] == 2 * 1024 ** 3
    assert host["nano_cpus"] == 1_500_000_000 and host["pids_limit"] == docker_mode.PIDS_LIMIT
    assert [(u["Name"], u["Soft"], u["Hard"]) for u in host["ulimits"]] == [("cpu", 240, 245), ("core", 0, 0)]
    assert host["cap_drop"] == ["ALL"] and host["security_opt"] == ["no-new-privileges"]
    assert host["auto_remove"] is False and "device_requests" not in host
    env = d["environment"]
    assert env["COURSE_GRADING"] == "true" and env["COURSE_FAST"] == "1" and env["HOME"] == "/tmp/grading"
    assert env["COURSE_PROGRESS_FILE"] == "/tmp/grading/progress.json" and env["COURSE_DATA_DIR"] == "/srv/data"
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert not {"COURSE_GRADEBOOK_URL", "COURSE_CHECKS_STRICT", "JUPYTERHUB_API_TOKEN"} & set(env)
    full = docker_mode.container_definition(settings_for(tmp_path), "ana", "03", NAME, full=True)
    assert full["environment"]["COURSE_FAST"] == "0" and "nano_cpus" not in full["host_config"]


def test_the_home_volume_and_mounts_are_the_ones_the_students_server_uses():
    assert docker_mode.home_volume("bob.kim") == docker_spawner.HOME_VOLUME.format(username="bob-2ekim")
    assert (docker_mode.HOME, docker_mode.DATA_MOUNT) == (docker_spawner.HOME, docker_spawner.DATA_MOUNT)


def test_the_image_carries_the_grader_where_the_command_looks_for_it():
    dockerfile = (REPO_ROOT / "docker" / "singleuser.Dockerfile").read_text()
    assert "COPY singleuser/ /opt/course/singleuser/" in dockerfile
    assert "!singleuser/" in (REPO_ROOT / ".dockerignore").read_text()
    assert (REPO_ROOT / "singleuser" / "grade_notebook.py").is_file()
    assert "/srv/course-content" in dockerfile and docker_mode.CONTENT_IN_IMAGE == "/srv/course-content"


# -- a fake engine behind docker-py's own request building ------------------------------------------------

def tar_of(files: dict[str, tuple[bytes, float]], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mtime) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
            tar.addfile(info)
    return buffer.getvalue()


class FakeEngine(docker.APIClient):
    """docker-py's client at a fixed API version (it never asks a daemon). create_container runs docker-py's
    own config building and records the JSON body; the rest answers from the fake state below."""

    def __init__(self, behaviour):
        super().__init__(base_url="unix:///nonexistent/docker.sock", version="1.45")
        self.behaviour = behaviour  # copy bytes -> what the container does
        self.volumes: dict[str, dict[str, tuple[bytes, float]]] = {}
        self.links: dict[str, str] = {}  # volume -> a name there that is a symbolic link
        self.created: dict[str, dict] = {}
        self.copies: dict[str, bytes] = {}
        self.outputs: dict[str, dict] = {}
        self.removed: list[tuple[str, bool]] = []
        self.killed: list[str] = []

    def create_container_from_config(self, config, name=None, platform=None):
        container = f"c{len(self.created):03d}"
        self.created[container] = {"config": config, "name": name}
        return {"Id": container}

    def _mount(self, container: str, path: str) -> tuple[str, str] | None:
        for mount in self.created[container]["config"]["HostConfig"].get("Mounts", []):
            if path.startswith(mount["Target"] + "/"):
                return mount["Source"], path[len(mount["Target"]) + 1:]
        return None

    def get_archive(self, container, path, chunk_size=None, encode_stream=False):
        if path == docker_mode.CONTENT_IN_IMAGE:
            return iter([tar_of({f"course-content/{NAME}": (COURSE_VERSION, 0.0),
                                 "course-content/.git/HEAD": (b"ref: refs/heads/main\n", 0.0)})]), {}
        found = self._mount(container, path)
        if found is not None:
            volume, rel = found
            if self.links.get(volume) == rel:
                return iter([tar_of({}, link=Path(rel).name)]), {}
            if rel in self.volumes.get(volume, {}):
                return iter([tar_of({Path(rel).name: self.volumes[volume][rel]})]), {}
        name = Path(path).name
        if path.startswith("/tmp/grading/") and name in self.outputs.get(container, {}):
            return iter([tar_of({name: (json.dumps(self.outputs[container][name]).encode(), 0.0)})]), {}
        raise docker.errors.NotFound(f"{path} not found")

    def put_archive(self, container, path, data):
        assert path == "/tmp"
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = {m.name: m for m in tar.getmembers()}
            assert members["grading"].isdir() and (members["grading"].uid, members["grading"].gid) == (1000, 100)
            self.copies[container] = tar.extractfile(members[f"grading/{NAME}"]).read()
        return True

    def start(self, container, *args, **kwargs):
        self.state = self.behaviour(self.copies[container])
        self.outputs[container] = self.state.get("files", {})

    def wait(self, container, timeout=None, condition=None):
        assert timeout == self.expected_timeout
        if self.state.get("hang"):
            raise requests.exceptions.ReadTimeout("read timed out")
        return {"StatusCode": self.state.get("code", 0)}

    def kill(self, container, signal=None):
        self.killed.append(container)

    def inspect_container(self, container):
        return {"State": {"OOMKilled": bool(self.state.get("oom")), "ExitCode": self.state.get("code", 0)}}

    def logs(self, container, **kwargs):
        return b"course grading: done\n"

    def remove_container(self, container, v=False, link=False, force=False):
        self.removed.append((container, v))


def result(checks: dict, **extra) -> dict:
    return {"version": 1, "checks": checks, "attempts": {}, "cells": 1, "cells_failed": 0, "first_error": None,
            "error": None, **extra}


@pytest.fixture
def engine():
    def grade_with(behaviour, **env):
        def run(tmp_path: Path, students: dict[str, bytes | None], link: str | None = None):
            settings = settings_for(tmp_path, COURSE_GRADE_TIMEOUT="60", **env)
            client = FakeEngine(behaviour)
            client.expected_timeout = settings.grade_timeout
            for name, data in students.items():
                volume = docker_mode.home_volume(name)
                client.volumes[volume] = {} if data is None else {f"course/{NAME}": (data, 1_700_000_000.0)}
                if name == link:
                    client.links[volume] = f"course/{NAME}"
            book = Gradebook(settings.state_dir / "gradebook.sqlite")
            grader = runner.ClassGrader(settings, book, docker_client=client)
            outcomes = runner.grade(settings, runner.pairs_for(list(students), ["03"]), grader=grader, jobs=1)
            return {o.user: o for o in outcomes}, client, book, grader
        return run
    return grade_with


def test_a_notebook_is_graded_in_a_throwaway_container(tmp_path, engine):
    outcomes, client, book, grader = engine(
        lambda copy: {"files": {"grade-result.json": result({"03.cost_by_hand": True, "04.x": True})}})(
        tmp_path, {"ana": ANSWERED})
    found = outcomes["ana"]
    assert (found.status, found.passed, found.total) == (GRADED, 1, 5)
    assert "ignored checks of other chapters or unknown ids: 04.x" in found.detail
    grading = [c for c, info in client.created.items() if info["config"]["Labels"].get("org.course.grading.user")]
    assert len(grading) == 1
    config = client.created[grading[0]]["config"]
    assert client.copies[grading[0]] == ANSWERED  # the exact bytes that were hashed
    host = config["HostConfig"]
    assert host["NetworkMode"] == "none" and config["NetworkDisabled"] is True
    assert host["Mounts"] == [
        {"Target": "/home/jovyan", "Source": "course-home-ana", "Type": "volume", "ReadOnly": True},
        {"Target": "/srv/data", "Source": "course-data", "Type": "volume", "ReadOnly": True}]
    assert host["Memory"] == host["MemorySwap"] == 3 * 1024 ** 3
    assert host["PidsLimit"] == 1024 and host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Ulimits"] == [{"Name": "cpu", "Soft": 120, "Hard": 125}, {"Name": "core", "Soft": 0, "Hard": 0}]
    assert config["Entrypoint"] == ["tini", "-g", "--"] and config["Image"] == IMAGE
    assert "COURSE_GRADING=true" in config["Env"] and not any(e.startswith("HTTP_PROXY") for e in config["Env"])
    run = book.latest_runs("ana")["ana"]["03"]
    assert run.sha256 == hashlib.sha256(ANSWERED).hexdigest() and run.mtime == "2023-11-14T22:13:20+00:00"
    assert run.notebook == f"/home/jovyan/course/{NAME}" and run.grades == {"03.cost_by_hand": True}
    assert sorted(c for c, _v in client.removed) == sorted(client.created)  # every container removed ...
    assert not any(v for _c, v in client.removed)  # ... never a volume
    assert "in a throwaway container of course-singleuser:test" in grader.limits_line()


def test_missing_and_untouched_notebooks_never_start_a_container(tmp_path, engine):
    def never(copy):
        raise AssertionError("nothing should run")

    outcomes, client, book, _ = engine(never)(tmp_path, {"ana": None, "ben": COURSE_VERSION, "cleo": ANSWERED},
                                              link="cleo")
    assert {u: o.status for u, o in outcomes.items()} == dict.fromkeys(("ana", "ben", "cleo"), NOT_STARTED)
    assert outcomes["ben"].detail == "the course's own version, never changed"
    assert book.latest_runs("ben")["ben"]["03"].sha256 == hashlib.sha256(COURSE_VERSION).hexdigest()
    assert client.copies == {}


def test_a_timed_out_container_is_killed_and_keeps_its_recorded_checks(tmp_path, engine):
    progress = {"version": 1, "questions": {"03.cost_by_hand": {"attempts": 1, "passed": True}}}
    outcomes, client, book, _ = engine(lambda copy: {"hang": True, "files": {"progress.json": progress}})(
        tmp_path, {"ana": ANSWERED})
    assert outcomes["ana"].status == "timed out after 60 s"
    assert len(client.killed) == 1
    assert book.latest_runs("ana")["ana"]["03"].grades == {"03.cost_by_hand": True}


def test_an_oom_killed_container_is_out_of_memory(tmp_path, engine):
    outcomes, *_ = engine(lambda copy: {"oom": True, "code": 137}, COURSE_GRADE_MEM_LIMIT="512M")(
        tmp_path, {"ana": ANSWERED})
    assert outcomes["ana"].status == "out of memory (limit 512 MiB)"


def test_a_container_without_a_result_is_a_failure_with_its_exit_code(tmp_path, engine):
    outcomes, *_ = engine(lambda copy: {"code": 1})(tmp_path, {"ana": ANSWERED})
    assert outcomes["ana"].status == "failed: the grader ended without a result (exit code 1): course grading: done"
