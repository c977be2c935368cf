"""Chapter 00a (the primer) questions: right answers pass, typical wrong ones get the hint, None fails."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course.checks import check, registry
from course.checks.questions import ch00a

WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SALES = np.array([[3, 0, 2], [1, 4, 1], [2, 2, 5], [0, 1, 3]])
IMAGES = np.arange(80).reshape(5, 4, 4)
X = np.array([[1, 0, 2], [0, 1, 1], [2, 1, 0], [1, 1, 1], [0, 0, 1]])
W = np.array([[1, -1], [0, 2], [3, 1]])
B = np.array([10, 20])
QUESTIONS = ["00a.axis_sum", "00a.broadcast_shape", "00a.layer", "00a.relu", "00a.reshape", "00a.slicing",
             "00a.stats"]


def failed(qid, answer, *parts):
    feedback = check(qid, answer)
    assert not feedback.passed, str(feedback)
    text = feedback.message + " " + (feedback.hint or "")
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    return feedback


def test_the_chapter_has_seven_exercises_in_chapter_00a():
    mine = {qid: q for qid, q in registry().items() if q.chapter == "00a"}
    assert sorted(mine) == QUESTIONS
    assert all(q.kind == "exercise" and q.module == "course.checks.questions.ch00a" for q in mine.values())


@pytest.mark.parametrize("qid", QUESTIONS)
def test_the_committed_none_is_not_an_answer(qid):
    feedback = check(qid, None)
    assert not feedback.passed and "None" in feedback.message


def test_the_exercise_data_is_the_notebooks():
    assert ch00a.WEEK == WEEK and np.array_equal(ch00a.SALES, SALES) and np.array_equal(ch00a.IMAGES, IMAGES)
    assert np.array_equal(ch00a.X, X) and np.array_equal(ch00a.W, W) and np.array_equal(ch00a.B, B)


# -- 1. slicing ---------------------------------------------------------------------------------------------


def test_slicing_accepts_every_way_to_write_it():
    for answer in (WEEK[:-4:-1], WEEK[-3:][::-1], WEEK[::-1][:3], WEEK[6:3:-1], tuple(WEEK[:-4:-1]),
                   np.array(WEEK)[:-4:-1]):
        assert check("00a.slicing", answer).passed, answer


@pytest.mark.parametrize(("answer", "parts"), [
    (WEEK[-3:], ("original order", "[::-1]")),
    (WEEK[::-1], ("whole week", "three")),
    (WEEK[:-5:-1], ("too many", "not included")),
    (WEEK[:-3:-1], ("Only 2", "one further")),
    (WEEK[-2:-5:-1], ("too early", "week[-1]")),
    ("week[:-4:-1]", ("as text", "quotes")),
    (3, ("list of day names",)),
    (["sun", "sat", "Fri"], ("'Fri' is not one of the days",)),
    (["sat", "sun", "fri"], ("not the last three days in reverse order",)),
])
def test_slicing_names_the_slip(answer, parts):
    failed("00a.slicing", answer, *parts)


# -- 2. stats -----------------------------------------------------------------------------------------------


def _loop_from_zero_max(values):
    smallest, largest = values[0], 0  # the slip: the largest starts at 0, wrong when every value is negative
    for v in values:
        smallest, largest = min(smallest, v), max(largest, v)
    return smallest, largest, sum(values) / len(values)


def test_stats_accepts_right_functions():
    assert check("00a.stats", lambda v: (min(v), max(v), sum(v) / len(v))).passed
    assert check("00a.stats", lambda v: [min(v), max(v), sum(v) / len(v)]).passed
    assert check("00a.stats", lambda v: (np.min(v), np.max(v), np.mean(v))).passed
    assert check("00a.stats", lambda v: np.array([np.min(v), np.max(v), np.mean(v)])).passed


@pytest.mark.parametrize(("fn", "parts"), [
    (lambda v: (max(v), min(v), sum(v) / len(v)), ("swapped", "(min, max, mean)")),
    (lambda v: (min(v), max(v), sum(v) // len(v)), ("rounded down", "Divide with /")),
    (lambda v: (min(v), max(v)), ("2 value(s)", "return smallest, largest, mean")),
    (lambda v: v.sort() or (v[0], v[-1], sum(v) / len(v)), ("changed the list", "sorted(values)")),
    (lambda v: None, ("returned None", "return")),
    (lambda v: (min(v), max(v), sorted(v)[len(v) // 2]), ("median",)),
    (lambda v: (min(v), max(v), sum(v) / (len(v) - 1)), ("one less",)),
    (lambda v: (0, max(v), sum(v) / len(v)), ("smallest value", "is 0", "min(values)")),
    (lambda v: f"{min(v)}, {max(v)}", ("three values",)),
    (lambda: (1, 2, 3), ("TypeError",)),
    ((1, 5, 2.8), ("should be a function",)),
])
def test_stats_names_the_slip(fn, parts):
    failed("00a.stats", fn, *parts)


def test_stats_hidden_cases_catch_a_loop_that_starts_from_zero(monkeypatch):
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert check("00a.stats", _loop_from_zero_max).passed  # the public lists all hold a positive number
    monkeypatch.setenv("COURSE_GRADING", "1")
    graded = failed("00a.stats", _loop_from_zero_max, "Hidden case 1 of 3", "all negative", "max(values)")
    assert graded.message.startswith("Hidden case ")


# -- 3. broadcasting ----------------------------------------------------------------------------------------


def test_broadcast_shape():
    assert check("00a.broadcast_shape", (4, 5, 3)).passed
    assert check("00a.broadcast_shape", [4, 5, 3]).passed
    assert check("00a.broadcast_shape", (np.zeros((4, 1, 3)) + np.zeros((5, 1))).shape).passed


@pytest.mark.parametrize(("answer", "parts"), [
    ((4, 1, 3), ("first array's shape", "stretches")),
    ((5, 4, 3), ("wrong places", "from the right")),
    ((4, 3), ("2 axes", "count as 1")),
    ("error", ("does broadcast",)),
    ("(4, 5, 3)", ("without quotes",)),
    (np.zeros((4, 5, 3)), ("an array of shape (4, 5, 3)", ".shape")),
    (60, ("one number",)),
    ((4.0, 5.0, 3.0), ("fractions", "decimal point")),
    ((4, 5, 2), ("not the broadcast shape",)),
])
def test_broadcast_shape_names_the_slip(answer, parts):
    failed("00a.broadcast_shape", answer, *parts)


# -- 4. axis sum --------------------------------------------------------------------------------------------


def test_axis_sum():
    assert check("00a.axis_sum", SALES.sum(axis=0)).passed
    assert check("00a.axis_sum", [6, 7, 11]).passed
    assert check("00a.axis_sum", SALES.sum(axis=0, keepdims=True)).passed
    failed("00a.axis_sum", SALES.sum(axis=1), "per day", "axis=0")
    failed("00a.axis_sum", SALES.sum(), "whole table", "axis=0")
    failed("00a.axis_sum", SALES.mean(axis=0), "averages")
    failed("00a.axis_sum", [6, 7, 12], "off by")
    failed("00a.axis_sum", SALES.T, "shape")


# -- 5. relu ------------------------------------------------------------------------------------------------


def _relu_in_place(x):
    x[x < 0] = 0
    return x


@pytest.mark.parametrize("fn", [lambda x: np.maximum(x, 0), lambda x: x * (x > 0), lambda x: np.clip(x, 0, None),
                                lambda x: np.where(x > 0, x, 0), lambda x: (np.abs(x) + x) / 2])
def test_relu_accepts_vectorised_functions_also_on_the_hidden_cases(fn, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    feedback = check("00a.relu", fn)
    assert feedback.passed, str(feedback)
    assert feedback.notes[-1] == "The 3 hidden cases passed too."


@pytest.mark.parametrize(("fn", "parts"), [
    (lambda x: max(0, x), ("truth value", "np.maximum(x, 0)")),
    (lambda x: np.max(x, 0), ("one number, the largest", "np.maximum")),
    (_relu_in_place, ("changed the array", "x.copy()")),
    (lambda x: None, ("returned None",)),
    (lambda x: np.abs(x), ("off by",)),
    (lambda x: np.maximum(x, 0).ravel()[:-1], ("shape",)),
])
def test_relu_names_the_slip(fn, parts):
    failed("00a.relu", fn, *parts)


def test_relu_is_numpy_only():
    import tensorflow as tf  # here only: the rest of this file runs without it
    failed("00a.relu", lambda x: tf.nn.relu(x).numpy(), "NumPy only")


def test_a_loop_over_the_elements_is_caught_by_the_hidden_2d_case(monkeypatch):
    def loop(x):
        return np.array([max(0.0, v) for v in x])

    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert check("00a.relu", loop).passed  # the public cases are 1-D
    monkeypatch.setenv("COURSE_GRADING", "1")
    failed("00a.relu", loop, "Hidden case 1 of 3", "2-D", "np.maximum(x, 0)")


# -- 6. reshape ---------------------------------------------------------------------------------------------


def test_reshape():
    assert check("00a.reshape", IMAGES.reshape(5, 16)).passed
    assert check("00a.reshape", IMAGES.reshape(len(IMAGES), -1)).passed
    assert check("00a.reshape", IMAGES.reshape(5, 16).tolist()).passed
    failed("00a.reshape", IMAGES.reshape(-1), "one long row", "reshape(5, -1)")
    failed("00a.reshape", IMAGES.reshape(16, 5), "one row per pixel", "reshape(5, 16)")
    failed("00a.reshape", IMAGES, "still has shape (5, 4, 4)")
    failed("00a.reshape", IMAGES.reshape(16, 5).T, "transpose")
    failed("00a.reshape", IMAGES.T.reshape(5, 16), "transpose")
    failed("00a.reshape", IMAGES.reshape(5, 16) + 1, "not the images' pixels")
    failed("00a.reshape", IMAGES.reshape(4, 20), "expected (5, 16)")


# -- 7. a layer ---------------------------------------------------------------------------------------------


def test_layer():
    assert check("00a.layer", X @ W + B).passed
    assert check("00a.layer", np.dot(X, W) + B).passed
    assert check("00a.layer", (X @ W + B).astype(np.float32)).passed
    failed("00a.layer", X @ W, "without the bias", "+ b")
    failed("00a.layer", (X @ W + B).T, "(2, 5)", "(5, 2)")
    failed("00a.layer", X @ W * B, "multiplied")
    failed("00a.layer", X @ W + B + 1, "off by")
    failed("00a.layer", X @ W[:, :1] + B[0], "shape")


def test_the_primers_checks_never_load_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "from course.checks import check\n"
        "assert check('00a.relu', lambda x: np.maximum(x, 0)).passed\n"
        "assert check('00a.stats', lambda v: (min(v), max(v), sum(v) / len(v))).passed\n"
        "assert check('00a.layer', np.zeros((5, 2))).passed is False\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
