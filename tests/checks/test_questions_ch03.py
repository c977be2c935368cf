"""Chapter 03 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course.checks import check

X = np.array([1.0, 2.0, 3.0, 4.0])
Y = np.array([6.0, 5.0, 7.0, 10.0])


def test_cost_by_hand_accepts_the_right_cost():
    assert check("03.cost_by_hand", 0.525).passed
    assert check("03.cost_by_hand", np.float32(4.2 / 8)).passed
    assert check("03.cost_by_hand", tf.constant(0.525)).passed


@pytest.mark.parametrize(
    ("answer", "part"),
    [(1.05, "1/(2m)"), (4.2, "2m = 8"), (-0.525, "Square each error"), (1.0247, "root"), ("0.525", "quotes")],
)
def test_cost_by_hand_names_the_slip(answer, part):
    feedback = check("03.cost_by_hand", answer)
    assert not feedback.passed
    assert part in (feedback.hint or "") + feedback.message


def test_cost_by_hand_plain_wrong_number_fails():
    feedback = check("03.cost_by_hand", 0.6)
    assert not feedback.passed and "off by" in feedback.message


def test_cost_function_numpy_and_tensorflow_versions_pass():
    assert check("03.cost_function", lambda W, b, x, y: np.sum((W * x + b - y) ** 2) / (2 * len(x))).passed
    assert check("03.cost_function", lambda W, b, x, y: tf.reduce_mean(tf.square(W * x + b - y)) / 2).passed


def test_cost_function_wrong_versions_get_hints():
    mse = check("03.cost_function", lambda W, b, x, y: np.mean((W * x + b - y) ** 2))
    assert not mse.passed and "1/(2m)" in mse.hint
    total = check("03.cost_function", lambda W, b, x, y: np.sum((W * x + b - y) ** 2))
    assert not total.passed and "2m" in total.hint
    globals_only = check("03.cost_function", lambda W, b, x, y: np.sum((W * X + b - Y) ** 2) / 8)
    assert not globals_only.passed and "arguments x and y" in globals_only.hint
    no_return = check("03.cost_function", lambda W, b, x, y: None)
    assert not no_return.passed and "return" in no_return.hint
    crash = check("03.cost_function", lambda W, b, x: 0.0)
    assert not crash.passed and "TypeError" in crash.message
    called = check("03.cost_function", 0.525)
    assert not called.passed and "function" in called.message


def test_gradient():
    with tf.GradientTape() as tape:
        W, b = tf.Variable(0.0), tf.Variable(0.0)
        cost = tf.reduce_mean(tf.square(W * X.astype(np.float32) + b - Y.astype(np.float32))) / 2
    assert check("03.gradient", tape.gradient(cost, [W, b])).passed
    assert check("03.gradient", (-19.25, -7.0)).passed
    flipped = check("03.gradient", (19.25, 7.0))
    assert not flipped.passed and "negative" in flipped.hint
    doubled = check("03.gradient", (-38.5, -14.0))
    assert not doubled.passed and "cancels" in doubled.hint
    swapped = check("03.gradient", (-7.0, -19.25))
    assert not swapped.passed and "dJ/dW first" in swapped.hint
    summed = check("03.gradient", (-77.0, -28.0))
    assert not summed.passed and "m = 4" in summed.hint
    assert not check("03.gradient", -19.25).passed


def test_trained_params():
    """Exercise 4 trains on new points with the chapter's x: (1, 3), (2, 4), (3, 7), (4, 8), whose line is 1.8x + 1."""
    assert check("03.trained_params", (1.8016, 0.9953)).passed
    assert check("03.trained_params", [tf.Variable(1.80), tf.Variable(1.00)]).passed
    early = check("03.trained_params", (1.806, 0.983))  # 2,000 steps at 0.01: b is still moving
    assert not early.passed and "still moving" in early.message and "more steps" in early.hint
    swapped = check("03.trained_params", (1.0, 1.8))
    assert not swapped.passed and "slope first" in swapped.hint
    diverged = check("03.trained_params", (1e8, -3e7))
    assert not diverged.passed and "learning rate" in diverged.hint
    far = check("03.trained_params", (0.0, 0.0))
    assert not far.passed and "minimum is 0.1" in far.message


@pytest.mark.parametrize("pair", [(1.4, 3.5), (1.4016, 3.4953), (1.4034, 3.4899)])
def test_trained_params_refuses_the_pairs_the_chapter_computes(pair):
    """The chapter's own runs (sections 4 and 7) fit the four points: their (W, b) is not the exercise's answer."""
    feedback = check("03.trained_params", pair)
    assert not feedback.passed and "chapter's own four points" in feedback.message
    assert "(1, 3), (2, 4), (3, 7), (4, 8)" in feedback.hint


def test_trained_params_accepts_the_students_own_run():
    """Gradient descent as the chapter writes it, on the new points: 0.1 converges within 2,000 steps."""
    from course.checks.questions import ch03

    x, y = (a.astype(np.float32) for a in ch03._new_points())
    W = b = np.float32(0.0)
    for _ in range(2000):
        error = W * x + b - y
        W, b = W - np.float32(0.1) * np.mean(error * x), b - np.float32(0.1) * np.mean(error)
    assert check("03.trained_params", (W, b)).passed
    assert ch03._new_line() == pytest.approx((1.8, 1.0))


def test_standardize():
    assert check("03.standardize", lambda x: (x - np.mean(x)) / np.std(x)).passed
    assert check("03.standardize", lambda x: (x - tf.reduce_mean(x)) / tf.math.reduce_std(x)).passed
    assert check("03.standardize", lambda x: (x - x.mean()) / x.std(ddof=1)).passed
    minmax = check("03.standardize", lambda x: (x - x.min()) / (x.max() - x.min()))
    assert not minmax.passed and "min-max" in minmax.message
    centred = check("03.standardize", lambda x: x - x.mean())
    assert not centred.passed and "standard deviation" in centred.hint
    scaled = check("03.standardize", lambda x: x / x.std())
    assert not scaled.passed and "mean first" in scaled.hint


# --- tolerance edges: a known slip is matched within 1e-3 × max(1, |slip|), the answer within ±1e-3 ------------


@pytest.mark.parametrize(("answer", "passed"), [(0.5259, True), (0.5241, True), (0.5261, False), (0.5239, False)])
def test_cost_by_hand_accepts_within_one_thousandth(answer, passed):
    assert check("03.cost_by_hand", answer).passed is passed


@pytest.mark.parametrize(
    ("answer", "part"),
    [
        (np.sqrt(0.525) + 0.0009, "root"),  # below 1: an absolute 1e-3
        (np.sqrt(0.525) + 0.0011, "off by"),
        (4.2 * 1.0009, "2m = 8"),  # above 1: relative, 1e-3 × 4.2
        (4.2 * 1.0011, "off by"),
        (1e-10, "goes through all four points"),
        (2e-9, "off by"),
    ],
)
def test_cost_by_hand_slip_edges(answer, part):
    feedback = check("03.cost_by_hand", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


def test_cost_function_accepts_within_one_thousandth_relative():
    def scaled(factor):
        return lambda W, b, x, y: factor * np.sum((W * x + b - y) ** 2) / (2 * len(x))

    assert check("03.cost_function", scaled(1.0009)).passed
    assert not check("03.cost_function", scaled(1.0011)).passed


@pytest.mark.parametrize(
    ("answer", "passed"),
    [((1.8049, 1.0049), True), ((1.7951, 0.9951), True), ((1.8051, 1.0), False), ((1.8, 0.9949), False)],
)
def test_trained_params_accepts_within_half_a_hundredth(answer, passed):
    assert check("03.trained_params", answer).passed is passed


def test_trained_params_swapped_edge():
    assert "swapped" in check("03.trained_params", (1.0 - 0.049, 1.8 + 0.049)).message
    assert "swapped" not in check("03.trained_params", (1.0 - 0.051, 1.8)).message


@pytest.mark.parametrize("answer", [0.524, 0.526])
def test_cost_by_hand_rejects_a_thousandth_away(answer):
    """In floating point, 0.525 ± 0.001 is just beyond the tolerance: the expected cost must be 0.525 exactly."""
    assert not check("03.cost_by_hand", answer).passed


def test_line_and_cost_come_from_the_chapter_data():
    from course.checks.questions import ch03

    assert ch03._line() == (1.4, 3.5)
    assert ch03._min_cost() == 0.525
    assert check("03.gradient", (float(np.mean(-Y * X)), float(-np.mean(Y)))).passed


# --- found on a re-read (issue #16): answers a student gives, right and wrong ---------------------------------


def test_gradient_accepts_variables_of_shape_one():
    """The classic code made W and b as tf.Variable(tf.random_normal([1])): the gradient then comes as two (1,)
    arrays; the numbers are right."""
    W, b = tf.Variable([0.0]), tf.Variable([0.0])
    with tf.GradientTape() as tape:
        cost = tf.reduce_mean(tf.square(W * X.astype(np.float32) + b - Y.astype(np.float32))) / 2
    assert check("03.gradient", tape.gradient(cost, [W, b])).passed
    assert not check("03.gradient", [[-19.25, -7.0], [0.0, 0.0]]).passed


def test_gradient_names_the_gradient_at_the_minimum():
    feedback = check("03.gradient", (0.0004, -0.0012))
    assert not feedback.passed and "minimum" in feedback.message and "W = 0, b = 0" in feedback.hint


def test_trained_params_names_the_whole_return_value():
    feedback = check("03.trained_params", (1.8, 1.0, 2000, np.zeros((101, 4))))
    assert not feedback.passed and "(W, b, steps, history)" in feedback.message and "*_" in feedback.hint


def test_trained_params_names_the_centred_intercept():
    """Trained on x_new - 2.5 without converting b back: b is mean(y_new) = 5.5."""
    feedback = check("03.trained_params", (1.8, 5.5))
    assert not feedback.passed and "intercept at x = 2.5" in feedback.message and "b_c" in feedback.hint
