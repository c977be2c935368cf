"""Chapter 04 (softmax regression on MNIST): softmax, cross-entropy, parameter count, updates per epoch, accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np

from course.checks.authoring import (
    NUMPY_ONLY,
    Wrong,
    call_student,
    expect_array,
    expect_number,
    hidden_case,
    reject_slips,
    to_array,
)
from course.checks.catalog import RESULT, question

_LOGITS = np.array([2.0, 1.0, 0.1])


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_PROBS = _softmax(_LOGITS)  # 0.659, 0.242, 0.099


@question(
    "04.softmax_probs",
    title="Softmax of the logits (2.0, 1.0, 0.1)",
    hint="p_i = exp(z_i) / Σ_j exp(z_j): tf.nn.softmax([2.0, 1.0, 0.1]).",
)
def softmax_probs(answer: Any) -> str:
    array = expect_array(answer, name="the probabilities").astype(np.float64)
    if array.size == 3 and array.shape != (3,):
        array = array.reshape(3)
    expect_array(array, shape=(3,), name="the probabilities")
    if np.allclose(array, [0.7, 0.2, 0.1], atol=1e-9):
        raise Wrong("Those are the rounded values (0.7, 0.2, 0.1).",
                    hint="Pass the computed probabilities, e.g. tf.nn.softmax(logits).")
    if np.allclose(array, _LOGITS / _LOGITS.sum(), atol=1e-3):
        raise Wrong("The logits were divided by their sum without exponentiating.",
                    hint="Exponentiate first: exp(z) / sum(exp(z)).")
    if np.allclose(array, np.log(_PROBS), atol=1e-3):
        raise Wrong("These are log-probabilities (log-softmax): they are negative.",
                    hint="Use tf.nn.softmax, not tf.nn.log_softmax.")
    if abs(array.sum() - 1.0) > 1e-2:
        raise Wrong(f"The values add up to {array.sum():.4g}; probabilities must add up to 1.",
                    hint="Divide each exp(z_i) by the sum of all of them.")
    # Right to two decimals (0.66, 0.24, 0.10), as a student working it out by hand writes them.
    expect_array(array, _PROBS, tol=5e-3, name="the probabilities")
    return ("Right: (0.659, 0.242, 0.099), about (0.66, 0.24, 0.10), i.e. (0.7, 0.2, 0.1) rounded. "
            "The largest logit gets the largest probability.")


def _call_softmax(answer: Any, z: np.ndarray, what: str) -> np.ndarray:
    result = call_student(answer, z.copy(), name="my_softmax", forbid=NUMPY_ONLY)
    if result is None:
        raise Wrong("my_softmax returned None.", hint="End the function with return ... .")
    return expect_array(result, shape=z.shape, name=what).astype(np.float64)


def _softmax_case(answer: Any, z: list[list[float]], what: str) -> None:
    batch = np.array(z, dtype=np.float32)
    got = _call_softmax(answer, batch, what)
    expect_array(got, _softmax(batch.astype(np.float64)), tol=1e-4, name=what)


_HIDDEN_SOFTMAX = [
    hidden_case(_softmax_case, [[-1000.0, -1001.0, -999.0]], "my_softmax([[-1000, -1001, -999]])"),
    hidden_case(_softmax_case, [list(np.linspace(-2.0, 2.5, 10))], "my_softmax of one row of 10 logits"),
    hidden_case(_softmax_case, [[0.5, -0.5], [3.0, 3.0], [-2.0, 7.0], [10.0, -10.0]],
                "my_softmax of 4 rows of 2 logits"),
]


@question(
    "04.softmax_fn",
    title="A numerically stable softmax(z) over the last axis of a batch, with NumPy",
    hint="Subtract each row's maximum before exp (it does not change the result), then divide by the row sum (axis=-1, "
         "keepdims=True).",
    hidden=_HIDDEN_SOFTMAX,
)
def softmax_fn(answer: Any) -> None:
    batch = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0], [-1.0, 3.0, 1.0]], dtype=np.float32)
    got = _call_softmax(answer, batch, "my_softmax(batch)")
    if np.allclose(got, np.exp(batch) / np.exp(batch).sum(axis=0, keepdims=True), atol=1e-4):
        raise Wrong("Each column adds up to 1, not each row: the sum runs over the wrong axis.",
                    hint="Sum over axis=-1 (one row per example) with keepdims=True.")
    if abs(got.sum() - 1.0) < 1e-4:
        raise Wrong("The whole batch adds up to 1: the sum ran over every value.",
                    hint="Sum over axis=-1 with keepdims=True, so each row adds up to 1.")
    expect_array(got, _softmax(batch.astype(np.float64)), tol=1e-4, name="my_softmax(batch)")
    big = np.array([[1000.0, 1001.0, 999.0]], dtype=np.float32)
    got = to_array(call_student(answer, big, name="my_softmax", forbid=NUMPY_ONLY),
                   name="my_softmax([[1000, 1001, 999]])").astype(np.float64)
    if not np.all(np.isfinite(got)):
        raise Wrong("my_softmax([[1000, 1001, 999]]) gives NaN: exp(1000) overflows.",
                    hint="Subtract the row maximum first: exp(z - max(z)) gives the same probabilities without "
                         "overflow.")
    expect_array(got, _softmax(big.astype(np.float64)), shape=(1, 3), tol=1e-4, name="my_softmax([[1000, 1001, 999]])")
    # Rows far apart: subtracting the whole batch's maximum (z - np.max(z)) leaves row 2 at exp(-1000) = 0.
    apart = np.array([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]], dtype=np.float32)
    what = "my_softmax([[1000, 1001, 999], [-5, 0, 5]])"
    got = to_array(call_student(answer, apart.copy(), name="my_softmax", forbid=NUMPY_ONLY), name=what)
    if got.shape == apart.shape and not np.all(np.isfinite(got[1])):
        raise Wrong(f"{what} gives NaN in row 2: it looks as if the whole batch's maximum (1001) was subtracted, "
                    "so every exp in row 2 underflows to 0 and 0 / 0 is NaN.",
                    hint="Subtract each row's own maximum: z - z.max(axis=-1, keepdims=True).")
    expect_array(got, _softmax(apart.astype(np.float64)), shape=(2, 3), tol=1e-4, name=what)


@question(
    "04.cross_entropy",
    title="Cross-entropy of the logits (2.0, 1.0, 0.1) when the true class is 0",
    hint="−Σ y_i log p_i with y = (1, 0, 0) leaves −ln p_0 (natural log).",
)
def cross_entropy(answer: Any) -> str:
    expected = float(-np.log(_PROBS[0]))  # 0.417
    value = expect_number(answer, expected, tol=1e12, name="the cross-entropy")
    reject_slips(value, [
        (-expected, "The cross-entropy came out negative.",
         "It is minus the log-probability: −ln p_0 (log p is negative)."),
        (expected / np.log(2), f"{value:.4g} is in bits (log base 2).",
         "Use the natural logarithm (np.log, tf.math.log)."),
        *[(float(-np.log(_PROBS[label])), f"{value:.4g} is −ln p_{label}: the loss for class {label}.",
           "The true class is 0: take −ln of the first probability.") for label in (1, 2)],
        (float(-np.log(_LOGITS[0] / _LOGITS.sum())), "The probabilities were made without exp.",
         "Softmax first (exp, then normalise), then −ln p_0."),
        (float(-np.log(0.7)), f"{value:.4g} is −ln 0.7: the rounded probability.",
         "Use the computed p_0 = 0.659 (section 1 prints it), not 0.7."),
        (float(-np.log10(_PROBS[0])), f"{value:.4g} uses log base 10.",
         "Use the natural logarithm (np.log, tf.math.log)."),
    ], tol=1e-3, rel=1e-3)  # ±1e-3, relative above 1
    # ±2e-3: −ln 0.66 (p_0 to two decimals) = 0.4155 is right too.
    expect_number(value, expected, tol=2e-3, name="the cross-entropy")
    return ("Right: −ln 0.659 ≈ 0.417. A perfect prediction (p_0 = 1) would cost 0; a confident wrong one costs a "
            "lot.")


@question(
    "04.param_count",
    title="Trainable numbers in the single-layer network (784 inputs, 10 classes)",
    hint="W is 784 x 10 and b has one value per class.",
)
def param_count(answer: Any) -> str:
    value = expect_number(answer, 7850, tol=1e12, name="the parameter count")
    added = (f"{value:g} adds the sizes instead of multiplying them.", "W has 784 × 10 entries.")
    reject_slips(value, [
        (7840, "7,840 counts W only.", "Add the 10 biases."),
        (794, *added), (785, *added), (784 + 10 * 2, *added),
        (78400, "78,400 is 784 × 100: 100 is the batch size, not a layer size.",
         "The batch size does not change the number of weights."),
    ])
    expect_number(value, 7850, tol=0, name="the parameter count")
    return "Right: 784 × 10 + 10 = 7,850, what model.count_params() reports."


@question(
    "04.updates_per_epoch",
    title="Updates per epoch on 55,000 examples: (batch, mini-batch of 100, stochastic)",
    hint="One update per batch: batch GD uses all examples at once, mini-batch 100 at a time, "
    "stochastic one at a time.",
)
def updates_per_epoch(answer: Any) -> str:
    array = expect_array(answer, shape=(3,), name="(batch, mini-batch, stochastic)").astype(np.float64)
    if np.array_equal(array, [55000, 550, 1]):
        raise Wrong("The order is reversed.",
                    hint="Give (batch, mini-batch, stochastic): batch gradient descent first.")
    if array[1] == 100:
        raise Wrong("100 is the batch size, not the number of batches.",
                    hint="55,000 examples / 100 per batch = ? updates.")
    if array[0] == 55000:
        raise Wrong("Batch gradient descent makes one update per epoch.",
                    hint="It averages the gradient over all 55,000 examples, then steps once.")
    expect_array(array, [1, 550, 55000], tol=0, name="(batch, mini-batch, stochastic)")
    return "Right: 1, 550 and 55,000 updates; mini-batches trade gradient noise for many cheap steps."


@question(
    "04.model_accuracy",
    title="Test accuracy of the single-layer softmax network",
    hint="model.evaluate(x_test, y_test) returns [loss, accuracy]; pass the accuracy as a fraction (0.91, not 91).",
    kind=RESULT,
)
def model_accuracy(answer: Any) -> str:
    value = expect_number(answer, 0.9, tol=1e12, name="the test accuracy")
    if 1.0 < value <= 100.0:
        raise Wrong(f"{value:.4g} looks like a percentage.", hint="Pass a fraction between 0 and 1 (divide by 100).")
    if not 0.0 <= value <= 1.0:
        raise Wrong(f"{value:.4g} is not an accuracy (a fraction between 0 and 1).")
    if value < 0.2:
        raise Wrong(f"{value:.1%} is near chance (10%): the model did not learn.",
                    hint="Check that labels and predictions line up (argmax over axis 1) and that the loss falls.")
    if value < 0.85:
        raise Wrong(f"{value:.1%} is low for softmax regression on MNIST (it reaches about 90% or more).",
                    hint="Train longer, or raise the learning rate (0.1-0.5 works for SGD here).")
    if value >= 0.909:
        return f"{value:.1%}: the classic tutorial's figure, about 91%, is reached."
    return (f"{value:.1%}: learning works; the classic tutorial's about 91% was measured with the full 55,000 "
            "training images.")
