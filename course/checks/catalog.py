"""The catalog of questions: ``Question``, the ``@question`` decorator, ``registry()`` and ``load_errors()``.

Question modules (``course/checks/questions/chNN.py``) import this module to register their graders; the
registry imports the ``questions`` package (which imports every chapter module) on first use, and nothing
else of ``course.checks``: grading and progress import it, never the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# A chapter is two digits, or two digits and a lowercase letter for a chapter that sorts between two others
# ("00a", the primer, comes after "00" and before "01"); a question id is the chapter, a dot and a name.
_ID = re.compile(r"^(\d{2}[a-z]?)\.[A-Za-z0-9_]+$")

EXERCISE = "exercise"  # the student's own answer: graded
RESULT = "result"  # the chapter's own computation reaching its figure: "chapter completed", never an answer
KINDS = (EXERCISE, RESULT)


@dataclass(frozen=True)
class Question:
    """One graded question: ``id`` like "03.cost_by_hand", ``chapter`` "03" (or "00a" for the primer).

    ``kind`` is "exercise" (the student's own answer, checked in the one notebook cell that holds its ``None``
    placeholder) or "result" (the chapter's own computation reaching its figure, e.g. a test accuracy).
    ``hidden`` holds the hidden cases: callables that take the answer and raise ``Wrong`` like a grader; they
    run only when an instructor grades (``COURSE_GRADING``), after the public grader passed.
    """

    id: str
    title: str
    grader: Callable[[Any], Any]
    chapter: str
    hint: str | None = None
    module: str = ""
    kind: str = EXERCISE  # "exercise": the student's answer, graded; "result": the chapter's own figure
    hidden_cases: int = 0  # cases that run only when an instructor grades
    hidden: tuple[Callable[[Any], Any], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"question {self.id!r}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.hidden_cases != len(self.hidden):
            raise ValueError(f"question {self.id!r}: hidden_cases is {self.hidden_cases} but it has "
                             f"{len(self.hidden)} hidden case(s)")
        if self.hidden and self.kind != EXERCISE:
            raise ValueError(f"question {self.id!r}: only exercises have hidden cases (a result is the chapter's own "
                             "figure)")


_REGISTRY: dict[str, Question] = {}


def question(question_id: str, *, title: str, hint: str | None = None, kind: str = EXERCISE,
             hidden: Sequence[Callable[[Any], Any]] = ()) -> Callable:
    """Register the decorated function as the grader of ``question_id`` ("NN.snake_name" or "NNa.snake_name").

    ``hint`` is shown on a wrong answer when the grader's ``Wrong`` carries no hint of its own.
    ``kind="result"`` declares a chapter result (the chapter's own figure, not an answer of the student's).
    ``hidden`` is a sequence of hidden cases, each a callable that takes the answer and raises ``Wrong`` like
    a grader; they run only in grading mode, and the student sees only how many there are.
    """
    match = _ID.match(question_id or "")
    if not match:
        raise ValueError(f"question id {question_id!r} must look like '03.cost_by_hand' or "
                         "'00a.slicing' (a two-digit chapter, maybe a lowercase letter after it, a dot, a name)")
    cases = tuple(hidden)
    if not all(callable(case) for case in cases):
        raise ValueError(f"question {question_id!r}: every hidden case must be a callable taking the answer")

    def register(grader: Callable[[Any], Any]) -> Callable[[Any], Any]:
        module = getattr(grader, "__module__", "") or ""
        old = _REGISTRY.get(question_id)
        if old is not None and old.module != module:  # the same module reloaded may replace its own question
            raise ValueError(f"question id {question_id!r} is already defined in {old.module}")
        _REGISTRY[question_id] = Question(question_id, title, grader, match.group(1), hint, module, kind=kind,
                                          hidden_cases=len(cases), hidden=cases)
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
