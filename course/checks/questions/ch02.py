"""Chapter 02 (the MNIST data): one-hot encoding, argmax back, per-class counts, and the chapter's own pixel
statistics (a chapter result: the data loaded as the course expects)."""

from __future__ import annotations

from typing import Any

import numpy as np

from course.checks.authoring import Wrong, call_student, expect_array, expect_number, hidden_case
from course.checks.catalog import RESULT, question

_LABELS = [3, 0, 9]


@question(
    "02.one_hot",
    title="One-hot encode the labels 3, 0 and 9",
    hint="One row per label, 10 columns (one per digit), a single 1 in the label's column.",
)
def one_hot(answer: Any) -> None:
    array = expect_array(answer, name="the one-hot array")
    if array.shape == (10, 3):
        raise Wrong("The array is 10x3: one column per label.", hint="Put one row per label: transpose it (.T).")
    if array.ndim == 2 and array.shape[0] == 3 and array.shape[1] != 10:
        raise Wrong(f"The rows have {array.shape[1]} columns; MNIST has 10 classes.",
                    hint="Use depth=10 (or num_classes=10).")
    expected = np.eye(10, dtype=np.float32)[_LABELS]
    if array.shape == (3, 10) and np.array_equal(np.argmax(array, axis=1), [2, 9, 8]):
        raise Wrong("Each 1 sits one column too early.", hint="Labels are already 0-based: digit 3 goes in column 3.")
    expect_array(array, expected, shape=(3, 10), tol=1e-6, name="the one-hot array")


@question(
    "02.argmax",
    title="Decode one-hot rows back to labels",
    hint="The label is the column of the largest value in each row: argmax along axis 1.",
)
def argmax(answer: Any) -> None:
    array = expect_array(answer, name="your label array")
    if array.shape == (10,):
        raise Wrong("You got 10 values: that is argmax down each column (axis 0).",
                    hint="Take the argmax along axis=1, across each row.")
    if array.shape == ():
        raise Wrong("You got a single number: argmax over the whole flattened array.", hint="Pass axis=1.")
    if array.shape == (5,) and np.allclose(array, 1):
        raise Wrong("Every value is 1: that is the largest value of each row (max), not where it is.",
                    hint="argmax gives the position (the column) of the largest value: np.argmax(rows, axis=1).")
    expect_array(array, [7, 2, 1, 0, 4], dtype_kind="iu", name="your label array")


@question(
    "02.pixel_mean",
    title="Mean pixel value of the training images",
    hint="np.mean(ds.train.images) over every pixel of every image; the images are already scaled to [0, 1].",
    kind=RESULT,
)
def pixel_mean(answer: Any) -> str:
    value = expect_number(answer, 0.131, tol=1e12, name="the mean pixel")  # only converts
    if value > 1.0:
        raise Wrong(
            f"The mean is {value:.4g}, which is on the 0-255 scale.",
            hint="The course loader already divides by 255: use ds.train.images as they are.",
        )
    expect_number(value, 0.131, tol=0.012, name="the mean pixel")
    return "Right: most pixels are the black background (0), so the mean is small, about 0.13."


def _expect_counts(answer: Any, labels: np.ndarray, what: str) -> None:
    result = call_student(answer, labels.copy(), name="count_classes")
    expect_array(result, np.bincount(labels, minlength=10), shape=(10,), tol=0, name=f"count_classes({what})")


_HIDDEN_COUNTS = [
    hidden_case(_expect_counts, np.array([], dtype=np.int64), "no labels at all"),
    hidden_case(_expect_counts, np.full(5, 9, dtype=np.uint8),
                "five 9s as uint8, the dtype of the original MNIST files"),
    hidden_case(_expect_counts, np.random.default_rng(2).integers(0, 10, 1000), "1,000 random labels"),
]


@question(
    "02.count_classes",
    title="A function that counts the examples of each digit",
    hint="np.bincount(labels, minlength=10) counts every digit, including those that never occur.",
    hidden=_HIDDEN_COUNTS,
)
def count_classes(answer: Any) -> None:
    labels = np.array([0, 1, 1, 9, 9, 9, 4], dtype=np.int64)
    result = call_student(answer, labels.copy(), name="count_classes")
    counts = expect_array(result, name="count_classes(labels)")
    if counts.shape == (4,):
        raise Wrong(
            "count_classes returned 4 counts for labels that use only 4 digits; digits that never occur are missing.",
            hint="Always return 10 counts, e.g. np.bincount(labels, minlength=10).",
        )
    if counts.shape == (7,):
        raise Wrong("count_classes returned one value per example, not one per digit.",
                    hint="Count how often each digit occurs.")
    expect_array(counts, np.bincount(labels, minlength=10), shape=(10,), tol=0, name="count_classes(labels)")
    _expect_counts(answer, labels[:3], "labels[:3]")
