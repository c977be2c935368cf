"""Recording graded attempts in progress.json, and summarising them per chapter.

The file (``course.config.progress_path()``) looks like::

    {"version": 1, "questions": {"03.cost_by_hand": {"chapter": "03", "kind": "exercise", "attempts": 2,
      "passed": true, "first_passed_at": "2025-03-01T10:00:00+00:00", "last_attempt_at": "2025-03-01T10:02:00+00:00"}}}

``kind`` is "exercise" (the student's own answer) or "result" (the chapter's own figure, e.g. a test accuracy);
files written before kinds existed have none, and the registry supplies it. The summaries keep the two apart:
a chapter result never counts as an answered exercise.

Every update holds an exclusive ``flock`` on ``progress.json.lock`` beside it and replaces the file
atomically (temp file in the same folder, fsync, ``os.replace``), so kernels writing at once never
corrupt it or lose an update. A corrupt file is moved aside to ``progress.json.corrupt-<timestamp>``.

On a course hub, each attempt also waits in the file's ``outbox`` (question, pass or fail, time and an id;
never the answer) until `course.checks.reporting` has delivered it to the hub's gradebook, so an attempt made
while the hub is away is sent later, even from another kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from course.checks.catalog import EXERCISE, RESULT, registry
from course.config import progress_path

try:
    import fcntl
except ImportError:  # not on Linux/macOS: no locking, writes stay atomic
    fcntl = None  # type: ignore[assignment]

VERSION = 1
OUTBOX_LIMIT = 5000  # attempts waiting for the gradebook; beyond it the oldest are dropped (they stay counted here)


class CorruptProgress(ValueError):
    """progress.json exists but is not a progress file we can read."""


def _path(path: str | os.PathLike | None) -> Path:
    if path is not None:
        return Path(path)
    return progress_path()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _empty() -> dict[str, Any]:
    return {"version": VERSION, "questions": {}}


def _parse(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorruptProgress(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), dict):
        raise CorruptProgress("not a progress file (no 'questions' table)")
    for qid, entry in data["questions"].items():
        attempts = entry.get("attempts") if isinstance(entry, dict) else None
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            raise CorruptProgress(f"bad entry for {qid!r}")
    return data


def load(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The recorded progress (an empty table when there is no file). Raises CorruptProgress on a bad file."""
    p = _path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _empty()
    except UnicodeDecodeError:
        raise CorruptProgress("not UTF-8 text") from None
    return _parse(text)


@contextlib.contextmanager
def _locked(p: Path) -> Iterator[None]:
    lock = p.with_name(p.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomic(p: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _move_aside(p: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = p.with_name(f"{p.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = p.with_name(f"{p.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(p, target)
    return target


def kind_of(question_id: str, entry: dict[str, Any] | None = None) -> str:
    """The kind of ``question_id``: the registry's, else the one recorded in ``entry``, else "exercise"."""
    q = registry().get(question_id)
    if q is not None:
        return q.kind
    recorded = entry.get("kind") if isinstance(entry, dict) else None
    return recorded if recorded in (EXERCISE, RESULT) else EXERCISE


def record_attempt(question_id: str, passed: bool, path: str | os.PathLike | None = None, *,
                   kind: str | None = None, outbox: bool = False) -> list[str]:
    """Count one attempt at ``question_id``; returns notes for the student (empty when all went well).

    ``kind`` ("exercise" or "result") is recorded with the entry; by default the registry's. With ``outbox``,
    the attempt also waits in the file's outbox for the hub's gradebook. Never raises: an unwritable folder
    gives the note that progress could not be saved.
    """
    p = _path(path)
    notes: list[str] = []
    kind = kind or kind_of(question_id)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with _locked(p):
            try:
                data = load(p)
            except CorruptProgress as exc:
                aside = _move_aside(p)
                notes.append(f"Your progress file was unreadable ({exc}); "
                             f"it was moved to {aside} and a fresh one started.")
                data = _empty()
            now = _now()
            entry = data["questions"].setdefault(
                question_id,
                {"chapter": question_id.split(".", 1)[0], "attempts": 0, "passed": False, "first_passed_at": None},
            )
            entry["kind"] = kind
            entry["attempts"] += 1
            entry["last_attempt_at"] = now
            if passed and not entry.get("passed"):
                entry["passed"] = True
                entry["first_passed_at"] = now
            if outbox:
                waiting = _outbox(data)
                waiting.append({"uid": uuid.uuid4().hex, "question": question_id, "passed": bool(passed), "at": now})
                data["outbox"] = waiting[-OUTBOX_LIMIT:]
            data["version"] = VERSION
            _write_atomic(p, data)
    except OSError as exc:
        notes.append(f"Progress could not be saved to {p} ({_why(exc, p)}).")
    return notes


def _outbox(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The attempts waiting for the gradebook (an unreadable outbox counts as empty)."""
    waiting = data.get("outbox")
    if not isinstance(waiting, list):
        return []
    return [a for a in waiting if isinstance(a, dict) and isinstance(a.get("uid"), str)]


def waiting_attempts(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The attempts not yet delivered to the gradebook, oldest first."""
    try:
        return _outbox(load(_path(path)))
    except (CorruptProgress, OSError):
        return []


def mark_delivered(uids: Iterable[str], path: str | os.PathLike | None = None) -> None:
    """Take delivered (or refused for good) attempts out of the outbox."""
    done = set(uids)
    if not done:
        return
    p = _path(path)
    with _locked(p):
        try:
            data = load(p)
        except CorruptProgress:
            return
        waiting = _outbox(data)
        kept = [a for a in waiting if a["uid"] not in done]
        if len(kept) != len(waiting):
            data["outbox"] = kept
            _write_atomic(p, data)


def _why(exc: OSError, p: Path) -> str:
    for folder in (p.parent, *p.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            break
    return f"{type(exc).__name__}: {exc.strerror or exc}"


# --------------------------------------------------------------------------------------------- summaries


def summary(path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """Per chapter, in order: the exercises and, apart from them, the chapter results::

        {"05": {"available": 6, "attempted": 2, "passed": 1,
                "results": {"available": 3, "reached": 3, "completed": True}}}

    ``available``/``attempted``/``passed`` count exercises only (questions in the registry; recorded ones);
    ``results`` counts the chapter's own figures: ``reached`` of ``available``, ``completed`` when all are.
    A chapter result never counts as an answered exercise. An unreadable progress file counts as no attempts.
    """
    try:
        recorded = load(path)["questions"]
    except (CorruptProgress, OSError):
        recorded = {}
    table: dict[str, dict[str, Any]] = {}

    def row(chapter: str) -> dict[str, Any]:
        return table.setdefault(chapter, {"available": 0, "attempted": 0, "passed": 0,
                                          "results": {"available": 0, "reached": 0, "completed": False}})

    questions = registry()
    for q in questions.values():
        if q.kind == RESULT:
            row(q.chapter)["results"]["available"] += 1
        else:
            row(q.chapter)["available"] += 1
    for qid, entry in recorded.items():
        chapter = str(entry.get("chapter") or qid.split(".", 1)[0])
        counts = row(chapter)
        if kind_of(qid, entry) == RESULT:
            if entry.get("passed"):
                counts["results"]["reached"] += 1
            continue
        if entry.get("attempts", 0) > 0:
            counts["attempted"] += 1
        if entry.get("passed"):
            counts["passed"] += 1
    for counts in table.values():
        results = counts["results"]
        results["completed"] = results["available"] > 0 and results["reached"] >= results["available"]
    return {chapter: table[chapter] for chapter in sorted(table)}


def _bar(done: int, total: int, width: int = 10) -> str:
    if total <= 0:
        return ""
    filled = round(width * min(done, total) / total)
    return "#" * filled + "." * (width - filled) + f" {100 * min(done, total) // total:3d}%"


def format_summary(path: str | os.PathLike | None = None) -> str:
    """Plain text of :func:`summary`: the exercises per chapter with a total, then the chapter results apart."""
    p = _path(path)
    rows = summary(p)
    lines = [f"Progress ({p})", ""]
    problem = None
    try:
        load(p)
    except CorruptProgress as exc:
        problem = f"The progress file is unreadable ({exc}); the next check will move it aside and start fresh."
    except OSError as exc:
        problem = f"The progress file cannot be read ({type(exc).__name__}: {exc.strerror or exc})."
    header = f"{'Chapter':<8} {'Questions':>9} {'Attempted':>9} {'Passed':>6}  Passed/questions"
    lines += ["Exercises (your own answers)", header, "-" * len(header)]
    totals = {"available": 0, "attempted": 0, "passed": 0}
    for chapter, row in rows.items():
        if not (row["available"] or row["attempted"] or row["passed"]):
            continue  # a chapter with chapter results only
        for key in totals:
            totals[key] += row[key]
        lines.append(
            f"{chapter:<8} {row['available']:>9} {row['attempted']:>9} {row['passed']:>6}  "
            f"{_bar(row['passed'], row['available'])}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'Total':<8} {totals['available']:>9} {totals['attempted']:>9} {totals['passed']:>6}  "
        f"{_bar(totals['passed'], totals['available'])}"
    )
    results = {chapter: row["results"] for chapter, row in rows.items() if row["results"]["available"]
               or row["results"]["reached"]}
    if results:
        lines += ["", "Figures reached by the chapters' own runs (chapter results, not answers)"]
        for chapter, r in results.items():
            figures = f"figures reached {r['reached']} of {r['available']}"
            lines.append(f"{chapter:<8} {'chapter completed (' + figures + ')' if r['completed'] else figures}")
    if problem:
        lines += ["", problem]
    elif totals["attempted"] == 0 and not any(r["reached"] for r in results.values()):
        lines += ["", "Nothing attempted yet: open a notebook and run its check(...) cells to record progress."]
    return "\n".join(lines)


def main_progress(args: Any = None) -> int:
    """``course progress``: print the table (or JSON with ``args.json``); ``args.path`` picks another file."""
    path = getattr(args, "path", None)
    if getattr(args, "json", False):
        print(json.dumps(summary(path), indent=2))
    else:
        print(format_summary(path))
    return 0
