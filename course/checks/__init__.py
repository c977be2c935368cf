"""Graded checks for the notebooks: ``from course.checks import check``; ``check("03.cost_by_hand", value)``.

The package in parts, each importing only those above it:

- ``feedback``: ``Feedback``, what a check returns (a coloured box in Jupyter);
- ``describe``: ``describe`` and ``short``, a student's value in words;
- ``authoring``: ``Wrong`` and the helpers for question authors (``expect_number``, ``expect_array``,
  ``close``, ``reject_slips``, ``call_student``, ...);
- ``catalog``: ``Question``, ``@question``, ``registry()`` (the question registry); it loads
  ``questions/chNN.py`` on first use;
- ``progress``: progress.json (it reads the registry for its summaries);
- ``grading``: ``check()``, which grades with the registry and records with progress.

Importing this package is fast: TensorFlow is never imported here.
"""

from course.checks.authoring import Wrong, call_student, expect_array, expect_number, expect_whole_number
from course.checks.catalog import Question, load_errors, question, registry
from course.checks.feedback import Feedback
from course.checks.grading import check

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
