"""The course's questions as the hub sees them: read from course/checks/questions.json, never imported.

The question modules need NumPy (and some TensorFlow); the hub's environment has neither, so the checks
package writes its registry to a JSON file that travels with the `course` package.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import course

MANIFEST = Path(course.__file__).resolve().parent / "checks" / "questions.json"
EXERCISE, RESULT = "exercise", "result"


@dataclass(frozen=True)
class QuestionInfo:
    """One question: `kind` is "exercise" (the student's answer) or "result" (the chapter's own figure)."""

    id: str
    chapter: str
    kind: str
    title: str
    hidden_cases: int = 0


@cache
def load_questions(path: Path = MANIFEST) -> dict[str, QuestionInfo]:
    """Every question by id, in id order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    questions = [QuestionInfo(q["id"], q["chapter"], q["kind"], q["title"], int(q.get("hidden_cases", 0)))
                 for q in data["questions"]]
    return {q.id: q for q in sorted(questions, key=lambda q: q.id)}


def chapters(questions: dict[str, QuestionInfo] | None = None) -> list[str]:
    """The chapters that have questions, in order ("00", "01", ...)."""
    return sorted({q.chapter for q in (questions or load_questions()).values()})


def by_chapter(chapter: str, kind: str | None = None,
               questions: dict[str, QuestionInfo] | None = None) -> list[QuestionInfo]:
    """The questions of one chapter, optionally of one kind."""
    return [q for q in (questions or load_questions()).values()
            if q.chapter == chapter and (kind is None or q.kind == kind)]
