"""The catalog of questions: ``Question``, the ``@question`` decorator, ``registry()`` and ``load_errors()``.

Question modules (``course/checks/questions/chNN.py``) import this module to register their graders; the
registry imports the ``questions`` package (which imports every chapter module) on first use, and nothing
else of ``course.checks``: grading and progress import it, never the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_ID = re.compile(r"^(\d{2})\.[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Question:
    """One graded question: ``id`` like "03.cost_by_hand", ``chapter`` "03"."""

    id: str
    title: str
    grader: Callable[[Any], Any]
    chapter: str
    hint: str | None = None
    module: str = ""
    kind: str = "exercise"  # "exercise": the student's answer, graded; "result": the chapter's own figure
    hidden_cases: int = 0  # cases that run only when an instructor grades


_REGISTRY: dict[str, Question] = {}


def question(question_id: str, *, title: str, hint: str | None = None) -> Callable:
    """Register the decorated function as the grader of ``question_id`` ("NN.snake_name").

    ``hint`` is shown on a wrong answer when the grader's ``Wrong`` carries no hint of its own.
    """
    match = _ID.match(question_id or "")
    if not match:
        raise ValueError(f"question id {question_id!r} must look like '03.cost_by_hand' (two-digit chapter, dot, name)")

    def register(grader: Callable[[Any], Any]) -> Callable[[Any], Any]:
        module = getattr(grader, "__module__", "") or ""
        old = _REGISTRY.get(question_id)
        if old is not None and old.module != module:  # the same module reloaded may replace its own question
            raise ValueError(f"question id {question_id!r} is already defined in {old.module}")
        _REGISTRY[question_id] = Question(question_id, title, grader, match.group(1), hint, module)
        return grader

    return register


def registry() -> dict[str, Question]:
    """All questions, by id (loads every module in ``course.checks.questions`` on first use)."""
    _load_questions()
    return dict(_REGISTRY)


def load_errors() -> dict[str, str]:
    """Question modules that failed to import: module name -> one-line error."""
    return dict(_load_questions().LOAD_ERRORS)


def _load_questions() -> Any:
    """Import the ``questions`` package once (it imports every chapter module) and return it.

    The import waits until the registry is first used: the chapter modules import this module, so it must
    be complete before they load.
    """
    import course.checks.questions as questions

    return questions
