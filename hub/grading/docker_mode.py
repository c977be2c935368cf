"""Docker mode's sandbox: a throwaway container of the course image per run.

`container_definition()` turns the settings into the container (pure data, tested without an engine):
the course image, the student's home volume `course-home-<name>` mounted **read-only**, the shared data
volume read-only, `network_mode: none`, the memory cap with no swap (`COURSE_GRADE_MEM_LIMIT`), the
student's CPU limit (`COURSE_CPU_LIMIT`, when set), RLIMIT_CPU at twice the wall clock, a process cap, no
capabilities, no new privileges, no GPU, and as its command `singleuser/grade_notebook.py` from the image
(`/opt/course/singleuser/`) on a copy in the container's own scratch space (`/tmp/grading`, in its
writable layer). tini from the image is the entry point, so the image's start-up hooks (which sync
~/course) never run.

`DockerGrader` runs it with docker-py: it creates the container, reads the student's file out of the
read-only mount (`get_archive`: the tar member gives the bytes and the modification time; a link or a
missing file is never followed), records the run's start, compares the file with the course's own
version baked into the image (`/srv/course-content`), puts the copy into the scratch folder
(`put_archive`), starts it, waits at most `COURSE_GRADE_TIMEOUT` seconds (then kills it), reads the
result file the grader wrote (or, after a timeout, the progress file) from the stopped container, and
removes the container (never a volume).
"""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from course import settings as registry
from hub.docker_spawner import DATA_MOUNT, HOME, HOME_VOLUME  # where a student's own container mounts them
from hub.gradebook.questions import QuestionInfo
from hub.grading import notebooks, statuses
from hub.grading.sandbox import PROGRESS_NAME, RESULT_NAME, SandboxRun, format_bytes
from hub.settings import Settings

CONTENT_IN_IMAGE = "/srv/course-content"  # the notebooks baked into the image (docker/singleuser.Dockerfile)
SCRIPT = "/opt/course/singleuser/grade_notebook.py"
SCRATCH = "/tmp/grading"
NB_UID, NB_GID = 1000, 100  # the course image's jovyan:users (docker/singleuser.Dockerfile)
PIDS_LIMIT = 1024
LABEL = "org.course.grading"


def escape_username(name: str) -> str:
    """The student's name as DockerSpawner puts it into volume names (its default `escape`)."""
    from dockerspawner import DockerSpawner

    return DockerSpawner._escape(name)


def home_volume(name: str) -> str:
    return HOME_VOLUME.format(username=escape_username(name))


def container_definition(settings: Settings, user: str, chapter: str, notebook_name: str, *,
                         full: bool) -> dict[str, Any]:
    """Keyword arguments for docker-py's `create_container`, with `host_config` as the keyword arguments
    of `create_host_config` (so the tests can read them, and docker-py checks them when it builds the
    request)."""
    from docker.types import Mount, Ulimit

    cpu_seconds = 2 * settings.grade_timeout
    host_config: dict[str, Any] = {
        "network_mode": "none",
        "mem_limit": settings.grade_mem_limit_bytes,
        "memswap_limit": settings.grade_mem_limit_bytes,  # memory + swap = memory: no swap
        "pids_limit": PIDS_LIMIT,
        "ulimits": [Ulimit(name="cpu", soft=cpu_seconds, hard=cpu_seconds + 5), Ulimit(name="core", soft=0, hard=0)],
        "mounts": [Mount(target=HOME, source=home_volume(user), type="volume", read_only=True),
                   Mount(target=DATA_MOUNT, source=settings.data_volume, type="volume", read_only=True)],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "auto_remove": False,  # read the results out of the stopped container, then remove it
    }
    if settings.cpu_limit is not None:
        host_config["nano_cpus"] = int(settings.cpu_limit * 1e9)
    environment = {
        registry.GRADING.name: "true",
        registry.PROGRESS_FILE.name: f"{SCRATCH}/{PROGRESS_NAME}",
        registry.FAST.name: "0" if full else "1",
        registry.DATA_DIR.name: DATA_MOUNT,
        registry.OFFLINE.name: "1",
        "HOME": SCRATCH,
        registry.NVIDIA_VISIBLE_DEVICES.name: registry.HIDDEN_DEVICES,  # no GPU: grading never takes one
        registry.CUDA_VISIBLE_DEVICES.name: "",
        "MPLBACKEND": "agg",
    }
    return {
        "image": settings.singleuser_image,
        "name": f"course-grade-{escape_username(user)}-{chapter}-{secrets.token_hex(3)}",
        "entrypoint": ["tini", "-g", "--"],
        "command": ["python", SCRIPT, f"{SCRATCH}/{notebook_name}", "--result", f"{SCRATCH}/{RESULT_NAME}"],
        "user": f"{NB_UID}:{NB_GID}",
        "working_dir": SCRATCH,
        "environment": environment,
        "network_disabled": True,
        "labels": {LABEL: "1", f"{LABEL}.user": user, f"{LABEL}.chapter": chapter},
        "host_config": host_config,
        "use_config_proxy": False,
    }


def limits_line(settings: Settings) -> str:
    cpus = f", {settings.cpu_limit:g} CPUs" if settings.cpu_limit is not None else ""
    return (f"limits: wall clock {settings.grade_timeout} s, memory {format_bytes(settings.grade_mem_limit_bytes)}"
            f" (no swap), CPU time {2 * settings.grade_timeout} s per process{cpus}, no network, home read-only; "
            f"in a throwaway container of {settings.singleuser_image}")


def _member(stream: Any, limit: int) -> tuple[bytes, float] | None:
    """The one regular file in a tar stream from get_archive: (bytes, mtime); None for a link or folder."""
    raw = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
        if len(members) != 1 or not members[0].isreg():
            return None
        if members[0].size > limit:
            raise notebooks.NotebookProblem(f"{members[0].name} is larger than {limit // 2**20} MB")
        handle = tar.extractfile(members[0])
        return (handle.read() if handle else b""), float(members[0].mtime)


def _folder(stream: Any, limit: int = 64 * 1024 ** 2) -> dict[str, bytes]:
    """Regular files (name -> bytes) of a folder's tar stream, relative to the folder."""
    raw = b"".join(stream)
    if len(raw) > limit:
        return {}
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for member in tar.getmembers():
            if member.isreg() and "/" in member.name and "/.git/" not in f"/{member.name}":
                handle = tar.extractfile(member)
                found[member.name.split("/", 1)[1]] = handle.read() if handle else b""
    return found


def scratch_archive(notebook_name: str, data: bytes) -> bytes:
    """A tar of `grading/<notebook>` owned by the image's user, to unpack into /tmp. The modes let that user
    write there even if the engine unpacks as root (the container has no other user to keep out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo("grading")
        folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o777, NB_UID, NB_GID
        tar.addfile(folder)
        info = tarfile.TarInfo(f"grading/{notebook_name}")
        info.size, info.mode, info.uid, info.gid = len(data), 0o666, NB_UID, NB_GID
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class DockerGrader:
    """Runs grading containers through docker-py's low-level client (the engine's API, as DockerSpawner)."""

    def __init__(self, settings: Settings, client: Any = None):
        self.settings = settings
        if client is None:
            import docker

            client = docker.APIClient(**docker.utils.kwargs_from_env())
        self.client = client
        self._course: dict[str, bytes] | None = None
        self._lock = threading.Lock()

    def limits_line(self) -> str:
        return limits_line(self.settings)

    def course_notebooks(self) -> dict[str, bytes]:
        """The notebooks baked into the image (read once, from a container that never starts)."""
        with self._lock:
            if self._course is None:
                self._course = {}
                container = self.client.create_container(
                    image=self.settings.singleuser_image, entrypoint=["true"], network_disabled=True,
                    labels={LABEL: "1"}, host_config=self.client.create_host_config(network_mode="none"),
                    use_config_proxy=False)["Id"]
                try:
                    stream, _stat = self.client.get_archive(container, CONTENT_IN_IMAGE)
                    self._course = {n: d for n, d in _folder(stream).items() if "/" not in n and n.endswith(".ipynb")}
                except Exception:  # noqa: BLE001 - an image without the baked content: compare with nothing
                    pass
                finally:
                    self._remove(container)
            return self._course

    def notebook_name(self, chapter: str) -> str | None:
        """The course's file name for `chapter`: from the hub's notebooks folder, else from the image."""
        name = notebooks.course_notebook_name(self.settings.notebooks_dir, chapter)
        if name is None:
            candidates = sorted(n for n in self.course_notebooks() if n.startswith(f"{chapter}_"))
            name = candidates[0] if len(candidates) == 1 else None
        return name

    def _remove(self, container: str) -> None:
        try:
            self.client.remove_container(container, force=True, v=False)  # v=False: never a volume
        except Exception:  # noqa: BLE001 - already gone
            pass

    def _file(self, container: str, path: str) -> tuple[bytes, float] | None:
        import docker

        try:
            stream, _stat = self.client.get_archive(container, path)
        except docker.errors.NotFound:
            return None
        return _member(stream, notebooks.MAX_NOTEBOOK_BYTES)

    def _json(self, container: str, name: str) -> dict[str, Any] | None:
        try:
            found = self._file(container, f"{SCRATCH}/{name}")
            data = json.loads(found[0].decode("utf-8")) if found else None
        except Exception:  # noqa: BLE001 - no result is a status of its own
            return None
        return data if isinstance(data, dict) else None

    def grade(self, grader: Any, user: str, chapter: str, chapter_questions: dict[str, QuestionInfo],
              start: Callable[[notebooks.StudentNotebook | None], int]) -> statuses.Verdict:
        """One student's chapter in a throwaway container (see the module's docstring)."""
        import requests

        settings = self.settings
        name = self.notebook_name(chapter)
        if name is None:
            return statuses.Verdict(statuses.failed(f"the course has no single notebook for chapter {chapter}"))
        course = self.course_notebooks()
        definition = container_definition(settings, user, chapter, name, full=grader.full)
        host_config = self.client.create_host_config(**definition.pop("host_config"))
        container = self.client.create_container(**definition, host_config=host_config)["Id"]
        try:
            path = f"{HOME}/{notebooks.COURSE_FOLDER}/{name}"
            read = self._file(container, path)
            if read is None:
                start(None)
                return statuses.not_started(f"no notebook for chapter {chapter} in ~/{notebooks.COURSE_FOLDER} "
                                            "(or it is a link)")
            data, mtime = read
            found = notebooks.StudentNotebook(Path(path), data, hashlib.sha256(data).hexdigest(),
                                              notebooks.iso_mtime(mtime))
            start(found)
            pristine = set(grader.pristine(name))
            if name in course:
                pristine.add(notebooks.git_blob_id(course[name]))
            early = grader.before_running(found, chapter, pristine)
            if early is not None:
                return early
            self.client.put_archive(container, "/tmp", scratch_archive(name, data))
            run = SandboxRun(limits=self.limits_line())
            started = time.monotonic()
            self.client.start(container)
            try:
                status = self.client.wait(container, timeout=settings.grade_timeout)
                run.exit_code = int(status.get("StatusCode", -1))
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                run.timed_out = True
                try:
                    self.client.kill(container)
                except Exception:  # noqa: BLE001 - it may have ended meanwhile
                    pass
            run.seconds = round(time.monotonic() - started, 1)
            state = self.client.inspect_container(container).get("State", {})
            run.oom_kills = 1 if state.get("OOMKilled") else 0
            run.result = self._json(container, RESULT_NAME)
            run.progress = self._json(container, PROGRESS_NAME)
            try:
                run.output_tail = self.client.logs(container, tail=40).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001
                run.output_tail = ""
            return statuses.verdict(run, chapter_questions=chapter_questions, timeout=settings.grade_timeout,
                                    memory_bytes=settings.grade_mem_limit_bytes,
                                    notes=grader.notes(found, run.limits, True))
        finally:
            self._remove(container)
