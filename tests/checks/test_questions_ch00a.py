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
MODELS = {"VGG-16": 0.934, "LeNet-5": 0.912, "ResNet": 0.941, "AlexNet": 0.925}
QUESTIONS = ["00a.axis_sum", "00a.broadcast_shape", "00a.layer", "00a.relu", "00a.report", "00a.reshape",
             "00a.slicing", "00a.stats"]


def failed(qid, answer, *parts):
    feedback = check(qid, answer)
    assert not feedback.passed, str(feedback)
    text = feedback.message + " " + (feedback.hint or "")
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    return feedback


def test_the_chapter_has_eight_exercises_in_chapter_00a():
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
    assert ch00a.MODELS == MODELS and list(ch00a.MODELS) == list(MODELS)  # the order matters: a slip keeps it


# -- 1. slicing ---------------------------------------------------------------------------------------------


def test_slicing_accepts_every_way_to_write_it():
    for answer in (WEEK[:-4:-1], WEEK[-3:][::-1], WEEK[::-1][:3], WEEK[6:3:-1], tuple(WEEK[:-4:-1]),
                   np.array(WEEK)[:-4:-1], WEEK[-1:-4:-1], list(reversed(WEEK[-3:]))):
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
    (" ".join(WEEK[:-4:-1]), ("one string", "no join")),
    (reversed(WEEK[-3:]), ("iterator", "[::-1]")),
    (WEEK[-3::-1], ("starts at 'fri'", "week[:-4:-1]")),
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


# -- 3. a ranked report ------------------------------------------------------------------------------------


def _report(results):
    ranked = sorted(results, key=lambda name: results[name], reverse=True)
    lines = []
    for rank, name in enumerate(ranked, start=1):
        lines.append(f"{rank}. {name:<8} {results[name]:.1%}")
    return lines


def _ranked(results):
    return sorted(results, key=lambda name: results[name], reverse=True)


def test_report_accepts_every_way_to_write_it(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    assert _report(MODELS) == ["1. ResNet   94.1%", "2. VGG-16   93.4%", "3. AlexNet  92.5%", "4. LeNet-5  91.2%"]
    for fn in (
        _report,
        lambda r: [f"{i}. {n:<8} {a:.1%}" for i, (n, a) in
                   enumerate(sorted(r.items(), key=lambda item: item[1], reverse=True), start=1)],
        lambda r: tuple(_report(r)),
        lambda r: [f"{i}. {n.ljust(8)} {r[n] * 100:.1f}%" for i, n in enumerate(sorted(r, key=r.get)[::-1], 1)],
        lambda r: [f"{i}. {n:8} {r[n]:.1%}" for i, n in enumerate(_ranked(r), 1)],
    ):
        feedback = check("00a.report", fn)
        assert feedback.passed, str(feedback)
        assert feedback.notes[-1] == "The 3 hidden cases passed too."


def _printer(results):
    for line in _report(results):
        print(line)


def _pop_the_best(results):
    lines, rank = [], 1
    while results:
        best = max(results, key=results.get)
        lines.append(f"{rank}. {best:<8} {results.pop(best):.1%}")
        rank += 1
    return lines


@pytest.mark.parametrize(("fn", "parts"), [
    (_printer, ("returned None", "printing them is not returning")),
    (lambda r: "\n".join(_report(r)), ("one string", "lines.append")),
    (lambda r: [f"{i}. {n:<8} {r[n]:.1%}" for i, n in enumerate(sorted(r, key=lambda n: r[n]), 1)],
     ("worst model first", "reverse=True")),
    (lambda r: [f"{i}. {n:<8} {r[n]:.1%}" for i, n in enumerate(sorted(r), 1)], ("sorted by name", "key=lambda")),
    (lambda r: [f"{i}. {n:<8} {r[n]:.1%}" for i, n in enumerate(r, 1)], ("dictionary's own order", "sorted(")),
    (lambda r: [f"{i}. {n:<8} {r[n]:.1%}" for i, n in enumerate(_ranked(r))], ("start at 0", "start=1")),
    (lambda r: [f"{i}. {n} {r[n]:.1%}" for i, n in enumerate(_ranked(r), 1)], ("not padded", "{name:<8}")),
    (lambda r: [f"{i}. {n:>8} {r[n]:.1%}" for i, n in enumerate(_ranked(r), 1)], ("right-aligned", "<")),
    (lambda r: [f"{i}. {n:<8} {r[n]}" for i, n in enumerate(_ranked(r), 1)], ("not as a percentage", ".1%")),
    (lambda r: [f"{i}. {n:<8} {r[n]:.1f}" for i, n in enumerate(_ranked(r), 1)], ("not a percentage", ".1%")),
    (lambda r: [f"{i}. {n:<8} {r[n]:%}" for i, n in enumerate(_ranked(r), 1)], ("six decimals", ".1%")),
    (lambda r: [f"{i}. {n:<8} {r[n]:.0%}" for i, n in enumerate(_ranked(r), 1)], ("no decimal",)),
    (lambda r: [f"{i} {n:<8} {r[n]:.1%}" for i, n in enumerate(_ranked(r), 1)], ("no dot",)),
    (lambda r: [line + "\n" for line in _report(r)], ("newline",)),
    (lambda r: _report(MODELS), ("returned 4 line(s) for 3 model(s)",)),  # hard-coded to the notebook's models
    (_pop_the_best, ("changed the dictionary", "sorted(")),
    (lambda r: [f"{i}. {a:.1%}" for i, a in enumerate(sorted(r.values(), reverse=True), 1)],
     ("Line 1", "expected '1. ResNet   94.1%'")),
    (lambda r: _ranked(r), ("Line 1", "'ResNet'")),
    (lambda r: [1, 2, 3, 4], ("holds a int", "string")),
    (lambda: [], ("TypeError",)),
    (_report(MODELS), ("should be a function",)),
])
def test_report_names_the_slip(fn, parts):
    failed("00a.report", fn, *parts)


def test_report_hidden_cases_catch_a_percentage_made_by_hand(monkeypatch):
    def by_hand(results):
        return [f"{i}. {n:<8} {results[n] * 100}%" for i, n in enumerate(_ranked(results), 1)]

    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert check("00a.report", by_hand).passed  # 0.934 * 100 prints as 93.4: the public cases cannot tell
    monkeypatch.setenv("COURSE_GRADING", "1")
    failed("00a.report", by_hand, "Hidden case 3 of 3", "not rounded", "99.96000000000001%", "{accuracy:.1%}")


def test_report_hidden_cases_catch_a_loop_over_four_models(monkeypatch):
    def four(results):
        ranked = _ranked(results)
        return [f"{i + 1}. {ranked[i]:<8} {results[ranked[i]]:.1%}" for i in range(min(4, len(results)))]

    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert check("00a.report", four).passed
    monkeypatch.setenv("COURSE_GRADING", "1")
    failed("00a.report", four, "Hidden case 2 of 3", "4 line(s) for 12 model(s)")


# -- 4. broadcasting ----------------------------------------------------------------------------------------


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


# -- 5. axis sum --------------------------------------------------------------------------------------------


def test_axis_sum():
    assert check("00a.axis_sum", SALES.sum(axis=0)).passed
    assert check("00a.axis_sum", [6, 7, 11]).passed
    assert check("00a.axis_sum", SALES.sum(axis=0, keepdims=True)).passed
    failed("00a.axis_sum", SALES.sum(axis=1), "per day", "axis=0")
    failed("00a.axis_sum", SALES.sum(), "whole table", "axis=0")
    failed("00a.axis_sum", SALES.mean(axis=0), "averages")
    failed("00a.axis_sum", [6, 7, 12], "off by")
    failed("00a.axis_sum", SALES.T, "shape")


# -- 6. relu ------------------------------------------------------------------------------------------------


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


def _for_loop(x):
    out = np.empty_like(x)
    for i, v in enumerate(x.flat):
        out.flat[i] = v if v > 0 else 0
    return out


def _loop_with_append(x):
    out = []
    for v in x.flatten():
        out.append(max(v, 0.0))
    return np.array(out).reshape(x.shape)


def _loop_over_rows(x):
    return np.array([np.maximum(row, 0) for row in x])


@pytest.mark.parametrize(("fn", "parts"), [
    (_for_loop, ("loops over the elements", "lines of Python", "np.maximum(x, 0)")),
    (_loop_with_append, ("loops over the elements", "no loop")),
    (_loop_over_rows, ("loops over the elements",)),  # on a 1-D array each row is one element
    (lambda x: np.array([max(0.0, v) for v in x.flat]).reshape(x.shape), ("loops over the elements",)),
    (lambda x: np.array([v if v > 0 else 0.0 for v in x.flat]).reshape(x.shape), ("loops over the elements",)),
    (lambda x: np.vectorize(lambda v: max(v, 0.0))(x), ("np.vectorize", "loop in disguise", "np.maximum(x, 0)")),
    (lambda x: np.vectorize(max)(x, 0.0), ("np.vectorize",)),
    (lambda x: np.fromiter((v if v > 0 else 0.0 for v in x.flat), float, x.size).reshape(x.shape),
     ("loops over the elements",)),  # a generator's frame runs its line per element
    (lambda x: np.frompyfunc(max, 2, 1)(x, 0.0).astype(x.dtype), ("np.frompyfunc", "one at a time")),
    (lambda x: np.array(list(map(max, x.ravel().tolist(), [0.0] * x.size))).reshape(x.shape), ("uses map",)),
    (lambda x: np.fromiter(map(max, x.flat, [0.0] * x.size), float, x.size).reshape(x.shape), ("uses map",)),
])
def test_relu_refuses_a_loop_over_the_elements(fn, parts, monkeypatch):
    """Issue #16: "no loop" is checked; each of these gives the right values (np.vectorize(lambda) too, as floats)."""
    x = np.array([[-1.5, 2.0], [3.0, -4.0]])
    assert np.array_equal(fn(x), np.maximum(x, 0))
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    failed("00a.relu", fn, *parts)


def test_the_loop_verdict_does_not_depend_on_timing(monkeypatch):
    """It counts Python line events, so a slow machine cannot turn a right answer into a loop or back."""
    import time

    def slow_but_vectorised(x):
        time.sleep(0.05)
        return np.maximum(x, 0)

    assert check("00a.relu", slow_but_vectorised).passed
    assert check("00a.relu", lambda x: np.piecewise(x, [x < 0], [0, lambda v: v])).passed  # numpy's own Python
    assert check("00a.relu", lambda x: np.maximum(np.array(x.tolist()), 0)).passed  # a detour, not a loop


def test_a_flattened_answer_is_caught_by_the_hidden_2d_case(monkeypatch):
    def flattened(x):
        return np.maximum(x.ravel(), 0)

    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert check("00a.relu", flattened).passed  # the public cases are 1-D
    monkeypatch.setenv("COURSE_GRADING", "1")
    failed("00a.relu", flattened, "Hidden case 1 of 3", "2-D", "shape")


# -- 7. reshape ---------------------------------------------------------------------------------------------


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


# -- 8. a layer ---------------------------------------------------------------------------------------------


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
