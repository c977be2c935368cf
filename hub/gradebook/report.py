"""What the gradebook shows: one row per student with live and graded results per chapter, and the CSV.

Pure functions over the store's records and the course's questions (no web server, no hub), shared by the
service (`hub.gradebook.service`) and `course hub grades export`:

- `Course`: the chapters and their questions; exercises (kind "exercise") are what a student answers and
  what the totals count; chapter results (kind "result", the chapter's own figures) are shown as
  "figures reached n of m" and never counted as answered exercises;
- `Snapshot`: the store's records at one moment (`Snapshot.read(book, students)`);
- `class_summary()`: the JSON the page draws (a student gets only their own row);
- `csv_text()`: one row per student, for a learning-management system.

A chapter is *completed* when every exercise of it passed and every figure was reached.
What a student answered is never stored, so it can never appear here.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hub.gradebook.questions import EXERCISE, RESULT, QuestionInfo, chapters, load_questions
from hub.gradebook.store import RUNNING, Gradebook, LiveRecord, Run, now

_NOTEBOOK = re.compile(r"^(\d\d[a-z]?)_(.+)\.ipynb$")  # 03_linear_regression.ipynb; 00a_python_primer.ipynb


@dataclass(frozen=True)
class Chapter:
    """One chapter: its exercises and its results (question ids, in id order)."""

    id: str
    title: str
    exercises: tuple[str, ...]
    results: tuple[str, ...]


@dataclass(frozen=True)
class Course:
    """The course's chapters and questions as the gradebook counts them."""

    chapters: tuple[Chapter, ...]
    questions: dict[str, QuestionInfo]

    @classmethod
    def load(cls, questions: dict[str, QuestionInfo] | None = None, notebooks_dir: Path | None = None) -> Course:
        """From questions.json; chapter titles from the notebooks' file names when the folder is here.

        Chapters and questions are in id order, as strings: "00", "00a" (the primer), "01", ...
        """
        questions = dict(sorted((questions if questions is not None else load_questions()).items()))
        titles = chapter_titles(notebooks_dir)
        found = []
        for chapter in chapters(questions):
            mine = [q for q in questions.values() if q.chapter == chapter]
            found.append(Chapter(chapter, titles.get(chapter, ""),
                                 tuple(q.id for q in mine if q.kind == EXERCISE),
                                 tuple(q.id for q in mine if q.kind == RESULT)))
        return cls(tuple(found), dict(questions))

    def chapter(self, chapter_id: str) -> Chapter | None:
        return next((c for c in self.chapters if c.id == chapter_id), None)

    @property
    def kinds(self) -> dict[str, str]:
        return {q.id: q.kind for q in self.questions.values()}


def chapter_titles(notebooks_dir: Path | None) -> dict[str, str]:
    """"03" -> "linear regression" from notebooks named like 03_linear_regression.ipynb, "00a" -> "python
    primer" from 00a_python_primer.ipynb (none if no folder)."""
    if notebooks_dir is None or not Path(notebooks_dir).is_dir():
        return {}
    titles = {}
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        found = _NOTEBOOK.match(path.name)
        if found:
            titles.setdefault(found.group(1), found.group(2).replace("_", " "))
    return titles


@dataclass
class Snapshot:
    """The store's records at one moment, for the students shown."""

    students: list[str]
    live: dict[str, dict[str, LiveRecord]] = field(default_factory=dict)
    latest: dict[str, dict[str, Run]] = field(default_factory=dict)  # may be a run in progress
    finished: dict[str, dict[str, Run]] = field(default_factory=dict)  # the last run that ended
    taken_at: str = ""
    stale_before: str = ""  # a run still "running" that started before this was interrupted

    @classmethod
    def read(cls, book: Gradebook, students: Iterable[str], only: str | None = None) -> Snapshot:
        """Everything the page needs, read once; `only` limits it to one student (a student's own view)."""
        names = sorted(set(students)) if only is None else [only]
        return cls(names, book.live(only), book.latest_runs(only), book.latest_runs(only, finished=True), now())


def student_names(hub_users: Iterable[tuple[str, bool]], store_users: Iterable[str],
                  instructors: Iterable[str]) -> set[str]:
    """The students: the hub's users (name, is admin) who are not instructors, plus anyone in the store
    (instructors and hub admins left out: their own trials are not the class's results)."""
    hub_users = list(hub_users)
    teachers = set(instructors) | {name for name, admin in hub_users if admin}
    return ({name for name, _ in hub_users} | set(store_users)) - teachers


# -- one student ---------------------------------------------------------------------------------------


def _live_chapter(chapter: Chapter, live: dict[str, LiveRecord]) -> dict:
    tried = [live[q] for q in (*chapter.exercises, *chapter.results) if q in live]
    passed = sum(1 for q in chapter.exercises if q in live and live[q].passed)
    reached = sum(1 for q in chapter.results if q in live and live[q].passed)
    return {
        "passed": passed, "total": len(chapter.exercises),
        "attempts": sum(live[q].attempts for q in chapter.exercises if q in live),
        "results_reached": reached, "results_total": len(chapter.results),
        "completed": _completed(chapter, passed, reached),
        "last_at": max((r.last_at for r in tried), default=None),
    }


def _completed(chapter: Chapter, passed: int, reached: int) -> bool:
    if not chapter.exercises and not chapter.results:
        return False
    return passed == len(chapter.exercises) and reached == len(chapter.results)


def _graded_chapter(chapter: Chapter, latest: Run | None, finished: Run | None, stale_before: str) -> dict | None:
    """The chapter's grading: the last run that ended (its grades and status), and whether one is running."""
    if latest is None and finished is None:
        return None
    unfinished = latest is not None and latest.status == RUNNING
    running = unfinished and not (stale_before and latest.started_at < stale_before)
    grades = finished.grades if finished is not None else {}
    passed = sum(1 for q in chapter.exercises if grades.get(q))
    reached = sum(1 for q in chapter.results if grades.get(q))
    return {
        "status": finished.status if finished is not None else None,
        "detail": finished.detail if finished is not None else "",
        "passed": passed if finished is not None else None, "total": len(chapter.exercises),
        "results_reached": reached if finished is not None else None, "results_total": len(chapter.results),
        "completed": finished is not None and _completed(chapter, passed, reached),
        "started_at": finished.started_at if finished is not None else None,
        "finished_at": finished.finished_at if finished is not None else None,
        "running": running,
        "running_since": latest.started_at if running else None,
        "interrupted": unfinished and not running,
    }


def student_row(course: Course, name: str, snapshot: Snapshot) -> dict:
    """One student's row: per chapter and per question, live and graded (never an answer)."""
    live = snapshot.live.get(name, {})
    latest = snapshot.latest.get(name, {})
    finished = snapshot.finished.get(name, {})
    per_chapter = {c.id: {**_live_chapter(c, live), "graded": _graded_chapter(c, latest.get(c.id), finished.get(c.id),
                                                                  snapshot.stale_before)}
                   for c in course.chapters}
    per_question = {}
    for q in course.questions.values():
        record = live.get(q.id)
        run = finished.get(q.chapter)
        graded = run.grades.get(q.id, False) if run is not None else None
        if record is None and graded is None:
            continue
        per_question[q.id] = {"attempts": record.attempts if record else 0,
                              "passed": bool(record and record.passed),
                              "last_at": record.last_at if record else None,
                              "graded": graded}
    chapters_ = per_chapter.values()
    return {
        "name": name,
        "passed": sum(c["passed"] for c in chapters_),
        "total": sum(c["total"] for c in chapters_),
        "attempts": sum(c["attempts"] for c in chapters_),
        "completed": sum(1 for c in chapters_ if c["completed"]),
        "last_at": max((c["last_at"] for c in chapters_ if c["last_at"]), default=None),
        "chapters": per_chapter,
        "questions": per_question,
    }


# -- the class ---------------------------------------------------------------------------------------------


def chapter_totals(course: Course, rows: list[dict]) -> dict[str, dict]:
    """Per chapter over the shown students: exercises only (figures are counted apart)."""
    found = {}
    for chapter in course.chapters:
        cells = [r["chapters"][chapter.id] for r in rows]
        active = [c for c in cells if c["last_at"]]
        graded = [c["graded"] for c in cells if c["graded"] and c["graded"]["passed"] is not None]
        found[chapter.id] = {
            "students": len(cells),
            "active": len(active),
            "completed": sum(1 for c in cells if c["completed"]),
            "passed": sum(c["passed"] for c in cells),
            "passed_mean": round(sum(c["passed"] for c in cells) / len(cells), 2) if cells else 0.0,
            "total": len(chapter.exercises),
            "attempts": sum(c["attempts"] for c in cells),
            "graded": len(graded),
            "graded_passed_mean": round(sum(g["passed"] for g in graded) / len(graded), 2) if graded else None,
            "last_at": max((c["last_at"] for c in active), default=None),
        }
    return found


def course_model(course: Course) -> dict:
    """The chapters and questions as the page reads them."""
    return {
        "chapters": [{"id": c.id, "title": c.title, "exercises": list(c.exercises), "results": list(c.results)}
                     for c in course.chapters],
        "questions": {q.id: {"chapter": q.chapter, "kind": q.kind, "title": q.title}
                      for q in course.questions.values()},
    }


def class_summary(course: Course, snapshot: Snapshot, *, viewer: str, instructor: bool) -> dict:
    """The page's data: every student's row for an instructor (with totals), only their own for a student."""
    names = snapshot.students if instructor else [viewer]
    rows = [student_row(course, name, snapshot) for name in names]
    summary = {"generated_at": snapshot.taken_at, "viewer": {"name": viewer, "instructor": instructor},
               **course_model(course), "students": rows}
    if instructor:
        summary["totals"] = chapter_totals(course, rows)
    return summary


# -- CSV for a learning-management system ------------------------------------------------------------------


def csv_columns(course: Course) -> list[str]:
    """student; per chapter its exercise count, live and graded results; per question live and graded."""
    columns = ["student"]
    for c in course.chapters:
        p = f"ch{c.id}"
        columns += [f"{p}_exercises", f"{p}_live_passed", f"{p}_live_completed", f"{p}_graded_passed",
                    f"{p}_graded_completed", f"{p}_graded_status", f"{p}_graded_at"]
    for q in course.questions.values():
        columns += [f"{q.id}_live", f"{q.id}_graded"]
    return columns


def _mark(value: bool | None) -> str:
    return "" if value is None else ("1" if value else "0")


def _cell(text: str) -> str:
    """A text cell no spreadsheet runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(course: Course, snapshot: Snapshot) -> list[list[str]]:
    """The CSV's rows (header first). Live per question: 1 passed, 0 tried, empty never tried; graded per
    question: 1 passed, 0 failed or not run in the last grading, empty never graded."""
    rows = [csv_columns(course)]
    for name in snapshot.students:
        row = student_row(course, name, snapshot)
        cells = [name]
        for c in course.chapters:
            live, graded = row["chapters"][c.id], row["chapters"][c.id]["graded"]
            done = graded is not None and graded["passed"] is not None
            cells += [str(len(c.exercises)), str(live["passed"]), _mark(live["completed"]),
                      str(graded["passed"]) if done else "", _mark(graded["completed"]) if done else "",
                      _cell(graded["status"] or "") if done else "", graded["finished_at"] or "" if done else ""]
        finished = snapshot.finished.get(name, {})
        for q in course.questions.values():
            record = row["questions"].get(q.id)
            tried = record is not None and record["attempts"] > 0
            run = finished.get(q.chapter)
            cells += [_mark(record["passed"]) if tried else "",
                      _mark(run.grades.get(q.id, False)) if run is not None else ""]
        rows.append(cells)
    return rows


def csv_text(course: Course, snapshot: Snapshot) -> str:
    """The whole CSV (UTF-8 text, CRLF line ends as RFC 4180 says)."""
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(course, snapshot))
    return out.getvalue()
