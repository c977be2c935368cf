"""The gradebook's database: its own SQLite file in the hub's state folder, mode 0600, in WAL mode.

Two kinds of record, kept apart:
- **attempts**: what students' kernels report live from `check()` (question, passed or not, when; never the
  answer). Each attempt carries the kernel's own id (`uid`), so a report sent twice is stored once; uids are
  kept per student, so one student's uid can never shadow another's.
- **grading runs** and their **grades**: one run per student and chapter, executed by `course hub grade` on a
  copy of the student's notebook, with the notebook's SHA-256 and modification time, a status ("graded",
  "not started", "timed out after 300 s", ...) and the checks that passed in that run.

Every call opens its own connection, so the service's event loop, the grader's worker threads and the CLI
can use one `Gradebook` at once; WAL lets 30 kernels report while a page reads.
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

FILENAME = "gradebook.sqlite"
SCHEMA_VERSION = 1
RUNNING, GRADED, NOT_STARTED = "running", "graded", "not started"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    uid TEXT PRIMARY KEY,            -- the reporting kernel's id for this attempt
    user TEXT NOT NULL,
    question TEXT NOT NULL,
    kind TEXT NOT NULL,              -- exercise | result
    passed INTEGER NOT NULL,
    at TEXT NOT NULL,                -- when the student ran the check (ISO 8601, UTC)
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_user ON attempts (user, question);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    chapter TEXT NOT NULL,
    status TEXT NOT NULL,            -- running | graded | not started | timed out after ... | out of memory ...
    detail TEXT NOT NULL DEFAULT '',
    notebook TEXT,                   -- the student's file that was copied and run
    sha256 TEXT,
    mtime TEXT,
    full INTEGER NOT NULL DEFAULT 0, -- run in full mode rather than fast mode
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_user ON runs (user, chapter, id);
CREATE TABLE IF NOT EXISTS grades (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    user TEXT NOT NULL,
    question TEXT NOT NULL,
    kind TEXT NOT NULL,
    passed INTEGER NOT NULL,
    PRIMARY KEY (run_id, question)
);
"""


def now() -> str:
    """The current time as ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Attempt:
    """One reported check: which question, whether it passed, when (ISO 8601), and the kernel's id for it."""

    uid: str
    question: str
    passed: bool
    at: str


@dataclass(frozen=True)
class LiveRecord:
    """A student's live record of one question."""

    attempts: int
    passed: bool
    last_at: str


@dataclass(frozen=True)
class Run:
    """The latest grading run of one student's chapter, with the grade of every check that ran."""

    id: int
    user: str
    chapter: str
    status: str
    detail: str
    notebook: str | None
    sha256: str | None
    mtime: str | None
    full: bool
    started_at: str
    finished_at: str | None
    grades: dict[str, bool]


class Gradebook:
    """The database at `path` (created on first use, mode 0600, WAL)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        finally:
            db.close()
        for suffix in ("", "-wal", "-shm"):
            extra = Path(f"{self.path}{suffix}")
            if extra.exists():
                os.chmod(extra, 0o600)

    @contextmanager
    def _connect(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: a writer takes the lock at once (no deadlock on upgrade); readers never wait."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # -- live attempts ---------------------------------------------------------------------------------
    def record_attempts(self, user: str, attempts: Iterable[Attempt], kinds: dict[str, str]) -> int:
        """Store `user`'s attempts (their kinds from `kinds`, by question id); returns how many were new."""
        received = now()
        rows = [(f"{user}/{a.uid}", user, a.question, kinds[a.question], int(bool(a.passed)), a.at, received)
                for a in attempts]
        with self._connect() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            return db.total_changes - before

    def live(self, user: str | None = None) -> dict[str, dict[str, LiveRecord]]:
        """user -> question -> attempts, whether any passed, and the last attempt's time."""
        query = ("SELECT user, question, COUNT(*), MAX(passed), MAX(at) FROM attempts "
                 + ("WHERE user = ? " if user is not None else "") + "GROUP BY user, question")
        with self._connect(write=False) as db:
            rows = db.execute(query, (user,) if user is not None else ()).fetchall()
        found: dict[str, dict[str, LiveRecord]] = {}
        for name, question, count, passed, last in rows:
            found.setdefault(name, {})[question] = LiveRecord(count, bool(passed), last)
        return found

    # -- grading runs ------------------------------------------------------------------------------------
    def start_run(self, user: str, chapter: str, *, notebook: str | None = None, sha256: str | None = None,
                  mtime: str | None = None, full: bool = False) -> int:
        """Record that grading of `user`'s chapter started; returns the run's id."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO runs (user, chapter, status, notebook, sha256, mtime, full, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (user, chapter, RUNNING, notebook, sha256, mtime, int(full), now()))
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, status: str, *, detail: str = "", grades: dict[str, bool] | None = None,
                   kinds: dict[str, str] | None = None) -> None:
        """Record how run `run_id` ended and the checks that ran in it (their kinds from `kinds`)."""
        grades = grades or {}
        kinds = kinds or {}
        with self._connect() as db:
            row = db.execute("SELECT user FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no grading run {run_id}")
            db.execute("UPDATE runs SET status = ?, detail = ?, finished_at = ? WHERE id = ?",
                       (status, detail, now(), run_id))
            db.executemany("INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?)",
                           [(run_id, row[0], q, kinds.get(q, "exercise"), int(bool(p))) for q, p in grades.items()])

    def latest_runs(self, user: str | None = None, *, finished: bool = False) -> dict[str, dict[str, Run]]:
        """user -> chapter -> the latest run (finished or still running), with its grades.

        With `finished`, the latest run that has ended (so a run in progress does not hide the last grades).
        """
        done = " WHERE finished_at IS NOT NULL" if finished else ""
        query = ("SELECT id, user, chapter, status, detail, notebook, sha256, mtime, full, started_at, finished_at "
                 f"FROM runs WHERE id IN (SELECT MAX(id) FROM runs{done} GROUP BY user, chapter)"
                 + (" AND user = ?" if user is not None else ""))
        with self._connect(write=False) as db:
            runs = db.execute(query, (user,) if user is not None else ()).fetchall()
            ids = [r[0] for r in runs]
            grades: dict[int, dict[str, bool]] = {i: {} for i in ids}
            if ids:
                marks = ",".join("?" * len(ids))
                for run_id, question, passed in db.execute(
                        f"SELECT run_id, question, passed FROM grades WHERE run_id IN ({marks})", ids):
                    grades[run_id][question] = bool(passed)
        found: dict[str, dict[str, Run]] = {}
        for r in runs:
            run = Run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9], r[10], grades[r[0]])
            found.setdefault(run.user, {})[run.chapter] = run
        return found

    def users(self) -> set[str]:
        """Everyone with a live attempt or a grading run."""
        with self._connect(write=False) as db:
            rows = db.execute("SELECT user FROM attempts UNION SELECT user FROM runs").fetchall()
        return {r[0] for r in rows}
