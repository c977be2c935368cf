"""Graded checks for the notebooks: ``from course.checks import check``; ``check("03.cost_by_hand", value)``.

Question authors: see ``course.checks.core`` (``question``, ``Wrong``, ``expect_number``, ``expect_array``,
``call_student``). Importing this package is fast: TensorFlow is never imported here.
"""

from course.checks.core import (
    Question,
    Wrong,
    call_student,
    check,
    expect_array,
    expect_number,
    expect_whole_number,
    load_errors,
    question,
    registry,
)
from course.checks.feedback import Feedback

__all__ = [
    "Feedback",
    "Question",
    "Wrong",
    "call_student",
    "check",
    "expect_array",
    "expect_number",
    "expect_whole_number",
    "load_errors",
    "question",
    "registry",
]
