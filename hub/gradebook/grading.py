"""Grading runs started from the gradebook page: `course hub grade CHAPTER... [--students NAME...]` in the
background, one at a time, each with a one-line status the page shows.

The command runs in the hub's environment (its settings, its Python) without the service's own JupyterHub
token: the grader runs students' code. It records its results in the gradebook's store itself; here we only
follow the process. A command that is missing, cannot start or fails becomes a one-line status, never a hang.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass, field

from hub.gradebook.store import now
from hub.settings import REPO_ROOT

GRADE_COMMAND = (sys.executable, "-m", "hub.cli", "grade")
RUNNING, FINISHED, FAILED, CANCELLED = "running", "finished", "failed", "cancelled"
_TAIL = 20
_WIDTH = 240

log = logging.getLogger("gradebook.grading")


class GradingBusy(RuntimeError):
    """A grading run is already going on; the message says which."""


@dataclass
class Job:
    """One `course hub grade` process and what the page shows of it."""

    id: int
    chapters: list[str]
    students: list[str]
    command: list[str]
    started_at: str = field(default_factory=now)
    state: str = RUNNING
    message: str = "starting"
    finished_at: str | None = None
    output: deque = field(default_factory=lambda: deque(maxlen=_TAIL))
    process: asyncio.subprocess.Process | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "chapters": self.chapters, "students": self.students, "state": self.state,
                "message": self.message, "started_at": self.started_at, "finished_at": self.finished_at}


def grader_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The hub's environment for the grader, without the service's JupyterHub variables (its token)."""
    env = dict(os.environ if environ is None else environ)
    return {k: v for k, v in env.items() if not k.startswith("JUPYTERHUB_")}


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _WIDTH else line[: _WIDTH - 1] + "…"


def outcome(returncode: int, output: list[str]) -> tuple[str, str]:
    """(state, one-line message) for a finished grader with its last lines of output."""
    last = next((_one_line(line) for line in reversed(output) if line.strip()), "")
    if returncode == 0:
        return FINISHED, last or "finished"
    if returncode < 0:
        return FAILED, f"stopped by signal {-returncode}" + (f": {last}" if last else "")
    return FAILED, f"failed (exit {returncode})" + (f": {last}" if last else "")


class GradingJobs:
    """Starts grading runs, one at a time, and keeps the last few for the page."""

    def __init__(self, command: tuple[str, ...] | list[str] = GRADE_COMMAND, *, environ: dict[str, str] | None = None,
                 cwd: str | os.PathLike = REPO_ROOT, keep: int = 10):
        self.command = list(command)
        self.environ = environ
        self.cwd = str(cwd)
        self.jobs: deque[Job] = deque(maxlen=keep)
        self._next = 1
        self._tasks: set[asyncio.Task] = set()

    def running(self) -> Job | None:
        return next((j for j in self.jobs if j.state == RUNNING), None)

    def find(self, job_id: int) -> Job | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def snapshot(self) -> list[dict]:
        """The jobs, newest first."""
        return [j.as_dict() for j in reversed(self.jobs)]

    async def start(self, chapters: list[str], students: list[str]) -> Job:
        """Start grading `chapters` (of `students`, or everyone); raises GradingBusy while one runs."""
        busy = self.running()
        if busy is not None:
            raise GradingBusy(f"a grading run is already in progress (chapter {', '.join(busy.chapters)}, "
                              f"started {busy.started_at}); wait for it or cancel it")
        command = [*self.command, *chapters, *(["--students", *students] if students else [])]
        job = Job(self._next, list(chapters), list(students), command)
        self._next += 1
        self.jobs.append(job)
        try:
            job.process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, cwd=self.cwd, env=grader_environment(self.environ),
                start_new_session=True)
        except OSError as exc:
            job.state, job.message, job.finished_at = FAILED, _one_line(
                f"could not start the grader: {exc.strerror or exc}"), now()
            log.warning("grading run %d: %s", job.id, job.message)
            return job
        job.message = "grading"
        log.info("grading run %d started: chapter(s) %s, %s", job.id, " ".join(chapters),
                 f"students {' '.join(students)}" if students else "every student")
        task = asyncio.ensure_future(self._follow(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _follow(self, job: Job) -> None:
        assert job.process is not None and job.process.stdout is not None
        try:
            async for raw in job.process.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    job.output.append(line)
                    job.message = _one_line(line)
                    log.info("grading run %d: %s", job.id, line)
            returncode = await job.process.wait()
        except Exception as exc:  # noqa: BLE001 - the page must get a status, whatever happened
            job.state, job.message = FAILED, _one_line(f"lost track of the grader: {exc}")
        else:
            if job.state != CANCELLED:
                job.state, job.message = outcome(returncode, list(job.output))
        job.finished_at = now()
        log.info("grading run %d %s: %s", job.id, job.state, job.message)

    def cancel(self, job_id: int) -> Job | None:
        """Stop a running job (its whole process group); None when there is no such job."""
        job = self.find(job_id)
        if job is None:
            return None
        if job.state == RUNNING and job.process is not None and job.process.returncode is None:
            job.state, job.message = CANCELLED, "cancelled by an instructor"
            try:
                os.killpg(job.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return job
