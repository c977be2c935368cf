"""Grading a class: every (student, chapter) pair, up to `jobs` at once, each recorded in the gradebook.

For each pair: find the student's notebook (none: "not started"), record the run's start with the file's
SHA-256 and modification time, compare it with every version the course shipped (untouched: "not
started", nothing runs), then run a copy in the sandbox of the hub's mode and record the verdict. Every
failure ends in a status for that student, and grading goes on with the next one.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.gradebook.questions import EXERCISE, by_chapter, load_questions
from hub.gradebook.store import FILENAME, NOT_STARTED, Gradebook
from hub.grading import notebooks, statuses
from hub.grading.sandbox import Account, Means, SandboxRun, machine_means, run_local, work_root
from hub.settings import Settings
from hub.system_users import home_dir, running_as_root, system_username


@dataclass(frozen=True)
class Outcome:
    """One student's chapter, as graded (and recorded, unless `run_id` is None)."""

    user: str
    chapter: str
    status: str
    detail: str
    passed: int
    total: int
    run_id: int | None
    seconds: float


def open_gradebook(settings: Settings) -> Gradebook:
    return Gradebook(settings.state_dir / FILENAME)


@contextlib.contextmanager
def _exclusive(settings: Settings, user: str, chapter: str) -> Iterator[bool]:
    """True while this process alone grades `user`'s `chapter` (a CLI run and the page's button at once)."""
    folder = work_root(settings.state_dir) / ".locks"
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / f"{user}-{chapter}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class ClassGrader:
    """Grades pairs for one set of settings, sharing what every pair needs (the course's versions, the
    machine's sandbox means, the Docker client)."""

    def __init__(self, settings: Settings, gradebook: Gradebook, *, full: bool = False, means: Means | None = None,
                 docker_client: Any = None):
        self.settings = settings
        self.gradebook = gradebook
        self.full = full
        self.questions = load_questions()
        self._means = means
        self._docker_client = docker_client
        self._docker = None
        self._pristine: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    # -- shared, computed once ---------------------------------------------------------------------------
    @property
    def means(self) -> Means:
        if self._means is None:
            probe_dir = self.settings.homes_dir if self.settings.homes_dir.is_dir() else self.settings.state_dir
            self._means = machine_means(str(probe_dir))
        return self._means

    def limits_line(self) -> str:
        if self.settings.mode == "docker":
            return self.docker.limits_line()
        return self.means.describe(self.settings.grade_timeout, self.settings.grade_mem_limit_bytes)

    @property
    def docker(self):
        with self._lock:
            if self._docker is None:
                from hub.grading.docker_mode import DockerGrader

                self._docker = DockerGrader(self.settings, self._docker_client)
            return self._docker

    def pristine(self, name: str) -> set[str]:
        with self._lock:
            if name not in self._pristine:
                self._pristine[name] = notebooks.pristine_blobs(self.settings, name)
            return self._pristine[name]

    # -- one pair ---------------------------------------------------------------------------------------
    def grade(self, user: str, chapter: str) -> Outcome:
        started = time.monotonic()
        chapter_questions = {q.id: q for q in by_chapter(chapter, questions=self.questions)}
        total = sum(1 for q in chapter_questions.values() if q.kind == EXERCISE)
        run_id: int | None = None

        def outcome(verdict: statuses.Verdict) -> Outcome:
            passed = sum(1 for q, ok in verdict.grades.items() if ok and verdict.kinds.get(q) == EXERCISE)
            return Outcome(user, chapter, verdict.status, verdict.detail, passed, total, run_id,
                           round(time.monotonic() - started, 1))

        with _exclusive(self.settings, user, chapter) as mine:
            if not mine:
                return outcome(statuses.Verdict(statuses.SKIPPED_BUSY, "another grading run holds this pair"))
            runs: list[int] = []

            def start(found: notebooks.StudentNotebook | None) -> int:
                """Record the run's start (with the file's SHA-256 and mtime, before anything runs)."""
                runs.append(self.start(user, chapter, found))
                return runs[-1]

            try:
                if self.settings.mode == "docker":
                    verdict = self.docker.grade(self, user, chapter, chapter_questions, start)
                else:
                    verdict = self._grade_local(user, chapter, chapter_questions, start)
            except Exception as exc:  # noqa: BLE001 - one student's problem never stops the class
                verdict = statuses.Verdict(statuses.failed(f"the grader broke ({type(exc).__name__}: {exc})"))
            if not runs:
                start(None)
            run_id = runs[-1]
            self.gradebook.finish_run(run_id, verdict.status, detail=verdict.detail, grades=verdict.grades,
                                      kinds=verdict.kinds)
            return outcome(verdict)

    def start(self, user: str, chapter: str, found: notebooks.StudentNotebook | None) -> int:
        if found is None:
            return self.gradebook.start_run(user, chapter, full=self.full)
        return self.gradebook.start_run(user, chapter, notebook=str(found.path), sha256=found.sha256,
                                        mtime=found.mtime, full=self.full)

    def before_running(self, found: notebooks.StudentNotebook | None, chapter: str,
                       pristine: set[str] | None = None) -> statuses.Verdict | None:
        """The verdict when nothing needs to run: no notebook, the course's own, not a notebook."""
        if found is None:
            return statuses.not_started(f"no notebook for chapter {chapter} in ~/{notebooks.COURSE_FOLDER}")
        if found.git_blob in (self.pristine(found.name) if pristine is None else pristine):
            return statuses.not_started("the course's own version, never changed")
        problem = notebooks.notebook_problem(found.data)
        if problem:
            return statuses.Verdict(statuses.failed(problem))
        return None

    def notes(self, found: notebooks.StudentNotebook, limits: str, complete: bool) -> list[str]:
        notes = []
        reaches = notebooks.reaches_into_checks(found.data)
        if reaches:
            notes.append("look at this notebook: it reaches into the checks (" + "; ".join(reaches[:4])
                         + (" ..." if len(reaches) > 4 else "") + ")")
        if not complete:
            notes.append(limits)
        return notes

    def _grade_local(self, user: str, chapter: str, chapter_questions: dict,
                     start: Callable[[notebooks.StudentNotebook | None], int]) -> statuses.Verdict:
        settings = self.settings
        home = home_dir(settings.homes_dir, user)
        account = None
        if running_as_root():
            try:
                entry = pwd.getpwnam(system_username(user))
            except KeyError:
                if home.exists():
                    return statuses.Verdict(statuses.failed(f"{home} exists but there is no system user "
                                                            f"{system_username(user)}"))
                return statuses.not_started("no home yet (the student never started a server)")
            if Path(entry.pw_dir) != home or entry.pw_uid == 0:
                return statuses.Verdict(statuses.failed(f"system user {entry.pw_name} is not this course's "
                                                        f"(home {entry.pw_dir})"))
            account = Account(entry.pw_uid, entry.pw_gid, entry.pw_name)
        course_name = notebooks.course_notebook_name(settings.notebooks_dir, chapter)
        try:
            found = notebooks.find_student_notebook(home, chapter, course_name, account.uid if account else None)
        except notebooks.NotebookProblem as problem:
            return statuses.Verdict(statuses.failed(str(problem)))
        start(found)
        early = self.before_running(found, chapter)
        if early is not None:
            return early
        assert found is not None
        run: SandboxRun = run_local(notebook_name=found.name, data=found.data, label=f"{user}-{chapter}", home=home,
                                    account=account, state_dir=settings.state_dir, data_dir=settings.data_dir,
                                    timeout=settings.grade_timeout, memory_bytes=settings.grade_mem_limit_bytes,
                                    full=self.full, means=self.means)
        return statuses.verdict(run, chapter_questions=chapter_questions, timeout=settings.grade_timeout,
                                memory_bytes=settings.grade_mem_limit_bytes,
                                notes=self.notes(found, run.limits, run.complete))

def grade(settings: Settings, pairs: list[tuple[str, str]], *, full: bool = False, jobs: int | None = None,
          gradebook: Gradebook | None = None, on_outcome: Callable[[Outcome], None] | None = None,
          grader: ClassGrader | None = None) -> list[Outcome]:
    """Grade every (student, chapter) pair, `jobs` at once (default COURSE_GRADE_JOBS); outcomes in the
    order of `pairs`. `on_outcome` is called as each one finishes (from a worker thread)."""
    grader = grader or ClassGrader(settings, gradebook or open_gradebook(settings), full=full)
    jobs = max(1, jobs or settings.grade_jobs)

    def one(pair: tuple[str, str]) -> Outcome:
        found = grader.grade(*pair)
        if on_outcome is not None:
            on_outcome(found)
        return found

    if jobs == 1 or len(pairs) <= 1:
        return [one(p) for p in pairs]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="course-grade") as pool:
        return list(pool.map(one, pairs))


def pairs_for(students: list[str], chapters: list[str]) -> list[tuple[str, str]]:
    """Chapter by chapter, each for the whole class."""
    return [(user, chapter) for chapter in chapters for user in students]


def table(outcomes: list[Outcome]) -> str:
    """student, chapter, status, exercises passed / total."""
    rows = [("student", "chapter", "status", "exercises")]
    for o in outcomes:
        status = o.status if len(o.status) <= 70 else o.status[:69] + "…"
        rows.append((o.user, o.chapter, status, f"{o.passed} / {o.total}" if o.status != NOT_STARTED
                     else f"- / {o.total}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
