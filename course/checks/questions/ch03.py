"""Chapter 03 (linear regression): the cost by hand, a cost function, its gradient, trained W and b, normalization."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from course.checks.authoring import (
    Wrong,
    call_student,
    close,
    expect_array,
    expect_number,
    hidden_case,
    reject_slips,
    to_array,
)
from course.checks.catalog import question

# Costs and slips are compared within ±1e-3, relative above 1 (the tolerance of expect_number(tol=, rel=)).
_TOL = {"tol": 1e-3, "rel": 1e-3}


@functools.cache
def _points() -> tuple[np.ndarray, np.ndarray]:
    """The chapter's four points, course.datasets.regression_points(), in float64: (1,6), (2,5), (3,7), (4,10)."""
    from course.datasets import regression_points  # on first use: loading the questions stays light

    x, y = regression_points()
    return x.astype(np.float64), y.astype(np.float64)


# Exercise 4 (03.trained_params) trains on new points with the same x, so that its answer is the student's own
# run: the chapter itself only ever fits the four points above (their line is (1.4, 3.5)).
NEW_Y = np.array([3.0, 4.0, 7.0, 8.0])


def _new_points() -> tuple[np.ndarray, np.ndarray]:
    """The new points of exercise 4: the chapter's x (1, 2, 3, 4) with y = 3, 4, 7, 8."""
    return _points()[0], NEW_Y


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(W, b) of the least-squares line through (x, y)."""
    w = float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))
    return w, float(y.mean() - w * x.mean())


@functools.cache
def _line() -> tuple[float, float]:
    """(W, b) of the least-squares line through the chapter's four points: (1.4, 3.5)."""
    return _fit(*_points())


@functools.cache
def _new_line() -> tuple[float, float]:
    """(W, b) of the least-squares line through the new points of exercise 4: (1.8, 1.0)."""
    return _fit(*_new_points())


def _cost(w: float, b: float, x: np.ndarray | None = None, y: np.ndarray | None = None) -> float:
    """J(W, b) = 1/(2m) · Σ (W·x + b − y)², the convention of this chapter (on the four points by default)."""
    if x is None or y is None:
        x, y = _points()
    return float(np.sum((w * x + b - y) ** 2) / (2 * len(x)))


def _min_cost() -> float:
    """The cost of the least-squares line, 0.525 (rounded: the float noise of 0.5249999999999998 would move
    the ±1e-3 edge of 03.cost_by_hand)."""
    return round(_cost(*_line()), 12)


def _reject_cost_slips(value: float, expected: float, m: int) -> None:
    """Name the usual slip (1/m, plain sum, square root) when ``value`` matches one."""
    root = (f"The cost is {value:.4g}: it looks like a square root was taken.",
            "Do not take the root: J averages the squares.")
    reject_slips(value, [
        (2 * expected, f"The cost is {value:.4g}: that is the mean squared error, 1/m · Σ(error²).",
         "This chapter uses J = 1/(2m) · Σ(error²): halve the mean (the 1/2 makes the gradient neater)."),
        (2 * m * expected, f"The cost is {value:.4g}: that is the plain sum of squared errors.",
         f"Divide the sum by 2m = {2 * m}."),
        (np.sqrt(2 * expected), *root),
        (np.sqrt(expected), *root),
    ], **_TOL)


@question(
    "03.cost_by_hand",
    title="Cost of y = 1.4x + 3.5 on the four points",
    hint="Errors are 4.9−6, 6.3−5, 7.7−7, 9.1−10; square them, add them up and divide by 2m = 8.",
)
def cost_by_hand(answer: Any) -> str:
    expected = _min_cost()
    value = expect_number(answer, expected, tol=1e12, name="the cost")  # converts and rejects non-numbers only
    if value < 0:
        raise Wrong(f"The cost is {value:.4g}, but a sum of squares cannot be negative.",
                    hint="Square each error before adding.")
    _reject_cost_slips(value, expected, len(_points()[0]))
    if close(value, 0.0, tol=1e-9):
        raise Wrong("The cost is 0: that would mean the line goes through all four points.",
                    hint="Compute each error ŷ − y first.")
    expect_number(value, expected, tol=1e-3, name="the cost")
    return "Right: J = 4.2 / 8 = 0.525. No other straight line has a smaller cost on these points."


def _cost_case(answer: Any, w: float, b: float, x: np.ndarray, y: np.ndarray, what: str | None = None) -> None:
    """Call the student's cost(W, b, x, y) on one case (float32 data) and compare with J."""
    expected = _cost(w, b, x, y)
    name = what or f"cost({w}, {b}, x, y)"
    result = call_student(answer, w, b, x.astype(np.float32), y.astype(np.float32), name="cost")
    if result is None:
        raise Wrong("cost(...) returned None.", hint="End the function with return ... .")
    value = expect_number(result, expected, tol=1e12, name=name)
    if not close(value, expected, **_TOL):
        _reject_cost_slips(value, expected, len(x))
        if len(x) != 4:  # the notebook's four points instead of the arguments
            reject_slips(value, [(_cost(w, b), "cost ignores the x and y it is given.",
                                  "Use the arguments x and y, not the notebook's global data.")], **_TOL)
        expect_number(value, expected, name=name, **_TOL)


_RNG_X = np.random.default_rng(3).uniform(-5.0, 5.0, 100).round(3)
_HIDDEN_COST = [
    hidden_case(_cost_case, 3.0, -1.0, np.array([2.0]), np.array([0.5]), "cost on a single point (m = 1)"),
    hidden_case(_cost_case, -0.5, 2.0, np.array([-3.0, -1.0, 0.0, 2.0, 8.0]), np.array([4.0, 2.0, 2.0, 1.0, -2.0]),
                "cost with a negative slope"),
    hidden_case(_cost_case, 1.5, 0.25, _RNG_X.copy(), 1.5 * _RNG_X + 0.3, "cost on 100 points near the line"),
]


@question(
    "03.cost_function",
    title="A function cost(W, b, x, y) returning J = 1/(2m) Σ (Wx + b − y)²",
    hint="With NumPy: np.sum((W * x + b - y) ** 2) / (2 * len(x)); "
    "with TensorFlow: tf.reduce_mean(tf.square(...)) / 2.",
    hidden=_HIDDEN_COST,
)
def cost_function(answer: Any) -> None:
    x4, y4 = _points()
    cases = [(*_line(), x4, y4), (0.0, 0.0, x4, y4), (2.0, -1.0, x4, y4),
             (0.5, 1.0, np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 0.0, 2.0, 3.0, 1.0, 4.0]))]
    for w, b, x, y in cases:
        _cost_case(answer, w, b, x, y)


@question(
    "03.gradient",
    title="The gradient (dJ/dW, dJ/db) at W = 0, b = 0",
    hint="dJ/dW = 1/m · Σ (Wx + b − y)·x and dJ/db = 1/m · Σ (Wx + b − y); at W = b = 0 the error is just −y.",
)
def gradient(answer: Any) -> str:
    x, y = _points()
    expected = np.array([np.mean(-y * x), np.mean(-y)])  # (−19.25, −7): the error at W = b = 0 is −y
    array = to_array(answer, name="(dJ/dW, dJ/db)")
    if array.shape in {(2, 1), (1, 2)}:  # W and b made as tf.Variable([0.0]), as the classic code did: same numbers
        array = array.reshape(2)
    array = expect_array(array, shape=(2,), name="(dJ/dW, dJ/db)")
    values = array.astype(np.float64)
    if np.allclose(values, -expected, atol=1e-3):
        raise Wrong("Both signs are flipped.",
                    hint="The error is prediction − y = 0 − y, which is negative here: the cost falls as W and b grow.")
    if np.allclose(values, 2 * expected, atol=1e-3):
        raise Wrong("Both values are twice too large: that is the gradient of the mean squared error (1/m).",
                    hint="For J = 1/(2m) Σ error², the 2 from the square cancels the 1/2.")
    if np.allclose(values, expected[::-1], atol=1e-3):
        raise Wrong("The two values are swapped.", hint="Give dJ/dW first, then dJ/db.")
    if np.allclose(values, 4 * expected, atol=1e-3):
        raise Wrong("The values are 4 times too large: a sum instead of a mean.", hint="Divide by m = 4.")
    if np.all(np.abs(values) < 0.05):
        raise Wrong("Both values are close to 0: that is the gradient near the minimum, where a trained W and b are.",
                    hint="Compute it at W = 0, b = 0: start from W = tf.Variable(0.0) and b = tf.Variable(0.0).")
    expect_array(values, expected, tol=1e-3, name="(dJ/dW, dJ/db)")
    return "Right: both are negative, so gradient descent increases W and b."


@question(
    "03.trained_params",
    title="W and b after gradient descent",
    hint="Train on the new points (x_new, y_new) of exercise 4 until W and b stop changing in the second decimal "
         "(learning rate 0.1 gets there within 2,000 steps), and pass (W, b).",
)
def trained_params(answer: Any) -> str:
    if isinstance(answer, (list, tuple)) and len(answer) > 2:
        raise Wrong(
            f"The answer has {len(answer)} parts; expected two, (W, b). gradient_descent returns "
            "(W, b, steps, history).",
            hint="Keep only the first two: W_new, b_new, *_ = gradient_descent(...), then pass (W_new, b_new).",
        )
    array = expect_array(answer, shape=(2,), name="(W, b)").astype(np.float64)
    w, b = float(array[0]), float(array[1])
    x, y = _new_points()
    slope, intercept = _new_line()
    old_slope, old_intercept = _line()
    if abs(w - intercept) < 0.05 and abs(b - slope) < 0.05:
        raise Wrong("W and b are swapped.", hint="Pass (W, b): the slope first, then the intercept.")
    if abs(w - slope) < 0.005 and abs(b - intercept) < 0.005:
        return (f"Converged: W = {w:.2f}, b = {b:.2f}, the least-squares line of the new points. The same x gives "
                "the same valley shape, so the same learning rates work as on the chapter's points.")
    if abs(w - old_slope) < 0.05 and abs(b - old_intercept) < 0.05:
        raise Wrong(
            f"(W, b) = ({w:.3f}, {b:.3f}) is the line through the chapter's own four points, trained in sections 4 "
            "and 7.",
            hint="Exercise 4 trains on new points with the same x: (1, 3), (2, 4), (3, 7), (4, 8) "
                 "(x_new, y_new in the notebook). Run gradient_descent on those.",
        )
    if abs(w - slope) < 0.005 and abs(b - (intercept + slope * x.mean())) < 0.005:
        raise Wrong(
            f"W = {w:.2f} is right, but b = {b:.2f} is the intercept at x = {x.mean():g}: training on centred x.",
            hint=f"Convert it back as in section 7: b = b_c − W · {x.mean():g}.",
        )
    if not np.all(np.isfinite(array)) or abs(w) > 1e3 or abs(b) > 1e3:
        raise Wrong(f"(W, b) = ({w:.4g}, {b:.4g}): training diverged.",
                    hint="Lower the learning rate: 0.1 is stable here, 0.3 is not.")
    cost, best = _cost(w, b, x, y), _cost(slope, intercept, x, y)
    if cost < best + 0.05 and abs(b - intercept) > abs(w - slope):
        raise Wrong(
            f"(W, b) = ({w:.3f}, {b:.3f}) is close (cost {cost:.4f}) but not there yet: b is still moving.",
            hint="b is the slow direction when x is not centred: run more steps, or use the larger learning rate 0.1.",
        )
    raise Wrong(f"(W, b) = ({w:.3f}, {b:.3f}) is not the minimum on the new points; "
                f"its cost is {cost:.4f}, the minimum is {best:.4g}.",
                hint="Train on (x_new, y_new) with gradient_descent and check that it ran enough steps.")


def _standardize_case(answer: Any, x: np.ndarray, what: str | None = None) -> None:
    name = what or f"standardize({x.tolist()})"
    result = call_student(answer, x.astype(np.float32), name="standardize")
    if result is None:
        raise Wrong("standardize(...) returned None.", hint="End the function with return ... .")
    got = expect_array(result, shape=x.shape, name=name).astype(np.float64)
    population = (x - x.mean()) / x.std()
    sample = (x - x.mean()) / x.std(ddof=1)  # either spread is fine: both centre and scale the data
    if np.allclose(got, population, atol=1e-4) or np.allclose(got, sample, atol=1e-4):
        return
    if np.allclose(got, (x - x.min()) / (x.max() - x.min()), atol=1e-4):
        raise Wrong("That is min-max scaling to [0, 1], not standardization.",
                    hint="Subtract the mean and divide by the standard deviation.")
    if np.allclose(got, x - x.mean(), atol=1e-4):
        raise Wrong("The values are centred but not scaled.", hint="Also divide by the standard deviation.")
    if np.allclose(got, x / x.std(), atol=1e-4):
        raise Wrong("The values are scaled but not centred.", hint="Subtract the mean first.")
    expect_array(got, population, tol=1e-4, name=name)


_HIDDEN_STANDARDIZE = [
    hidden_case(_standardize_case, np.array([-5.0, 0.0, 5.0, 10.0]), "standardize of values below zero"),
    hidden_case(_standardize_case, np.array([2.0, 10.0]), "standardize of two values"),
    hidden_case(_standardize_case, np.random.default_rng(4).normal(50.0, 8.0, 200).round(2),
                "standardize of 200 values"),
]


@question(
    "03.standardize",
    title="A function standardize(x) returning (x − mean) / std",
    hint="(x - np.mean(x)) / np.std(x): the result has mean 0 and standard deviation 1.",
    hidden=_HIDDEN_STANDARDIZE,
)
def standardize(answer: Any) -> None:
    for x in (np.array([1.0, 2.0, 3.0, 4.0]), np.array([300.0, 310.0, 305.0, 320.0, 302.0])):
        _standardize_case(answer, x)
