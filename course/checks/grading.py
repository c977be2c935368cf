"""``check()``: grade a student's answer, record the attempt in progress.json, and return the feedback."""

from __future__ import annotations

import difflib
import warnings
from typing import Any

import numpy as np

from course.checks import reporting
from course.checks.authoring import Wrong
from course.checks.catalog import Question, load_errors, registry
from course.checks.describe import describe, short
from course.checks.feedback import ERROR, FAILED, PASSED, UNANSWERED, UNKNOWN, Feedback
from course.checks.progress import record_attempt
from course.config import grading_mode, strict_checks


def check(question_id: str, answer: Any = None) -> Feedback:
    """Grade ``answer`` for ``question_id``, record the attempt, and return the feedback to show.

    Never raises for a wrong answer, unless ``COURSE_CHECKS_STRICT=1`` (CI): then a wrong answer that is
    not None raises AssertionError with the feedback text.
    """
    feedback = _grade(question_id, answer)
    if feedback.status in (PASSED, FAILED, ERROR):
        live = reporting.enabled()
        feedback.notes.extend(record_attempt(question_id, feedback.passed, kind=feedback.kind, outbox=live))
        if live:
            reporting.report_soon()
    if strict_checks() and answer is not None and not feedback.passed:
        raise AssertionError(str(feedback))
    return feedback


def _grade(question_id: Any, answer: Any) -> Feedback:
    if not isinstance(question_id, str):
        return Feedback(
            short(question_id),
            "",
            UNKNOWN,
            f"The question id must be a string like '03.cost_by_hand', not {describe(question_id)}.",
            hint="Copy the check(...) line from the notebook as it is.",
        )
    questions = registry()
    q = questions.get(question_id)
    if q is None:
        return _unknown(question_id, questions)
    if answer is None:
        return Feedback(q.id, q.title, UNANSWERED, "Your answer is still None.",
                        hint="Replace None with your answer, then run the cell again.", kind=q.kind)
    result, failed = _run(q, q.grader, answer)
    if failed is not None:
        return failed
    message = result if isinstance(result, str) and result.strip() else "Correct, well done!"
    notes: list[str] = []
    if q.hidden:
        n = len(q.hidden)
        if grading_mode():
            for i, case in enumerate(q.hidden, 1):
                _, failed = _run(q, case, answer, prefix=f"Hidden case {i} of {n}: ")
                if failed is not None:
                    return failed
            notes.append("The hidden case passed too." if n == 1 else f"The {n} hidden cases passed too.")
        else:
            more = "1 more case" if n == 1 else f"{n} more cases"
            notes.append(f"{more} will be checked when your instructor grades this notebook.")
    return Feedback(q.id, q.title, PASSED, message, notes=notes, kind=q.kind)


def _run(q: Question, grader: Any, answer: Any, prefix: str = "") -> tuple[Any, Feedback | None]:
    """Call one grader (the public one or a hidden case): (what it returned, None) when it passed, else
    (None, the feedback to show)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return grader(answer), None
    except Wrong as wrong:
        return None, Feedback(q.id, q.title, FAILED, prefix + wrong.message, hint=wrong.hint or q.hint, kind=q.kind)
    except Exception as exc:  # a bug in the grader: report it, never show a traceback
        text = " ".join(str(exc).split())[:200]
        return None, Feedback(
            q.id,
            q.title,
            ERROR,
            f"{prefix}The check itself failed ({type(exc).__name__}: {text}). This is a problem in the course, "
            "not necessarily in your answer.",
            hint=f"Tell your instructor, mentioning the question id {q.id!r}.",
            kind=q.kind,
        )


def _unknown(question_id: str, questions: dict[str, Question]) -> Feedback:
    matches = difflib.get_close_matches(question_id, list(questions), n=3, cutoff=0.5)
    if matches:
        message = f"There is no question {question_id!r}. Did you mean: " + ", ".join(matches) + "?"
    else:
        chapter = question_id.split(".", 1)[0]
        same = sorted(q for q in questions if q.startswith(chapter + "."))
        message = f"There is no question {question_id!r}."
        if same:
            more = "..." if len(same) > 8 else ""
            message += " Questions in chapter " + chapter + ": " + ", ".join(same[:8]) + more
    feedback = Feedback(question_id, "", UNKNOWN, message, hint="Copy the check(...) line from the notebook as it is.")
    for module, error in sorted(load_errors().items()):
        feedback.notes.append(f"question module {module} failed to load ({error}).")
    return feedback
