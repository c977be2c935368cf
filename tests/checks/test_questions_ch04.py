"""Chapter 04 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from course.checks import check

LOGITS = [2.0, 1.0, 0.1]


def test_softmax_probs():
    assert check("04.softmax_probs", tf.nn.softmax(LOGITS)).passed
    assert check("04.softmax_probs", [0.659, 0.2424, 0.0986]).passed
    assert check("04.softmax_probs", tf.nn.softmax([LOGITS])).passed  # a batch of one is fine
    rounded = check("04.softmax_probs", [0.7, 0.2, 0.1])
    assert not rounded.passed and "computed" in rounded.hint
    no_exp = check("04.softmax_probs", np.array(LOGITS) / sum(LOGITS))
    assert not no_exp.passed and "Exponentiate" in no_exp.hint
    logs = check("04.softmax_probs", tf.nn.log_softmax(LOGITS))
    assert not logs.passed and "log_softmax" in logs.hint
    unnormalised = check("04.softmax_probs", np.exp(LOGITS))
    assert not unnormalised.passed and "add up to 1" in unnormalised.message


def test_softmax_probs_by_hand_to_two_decimals():
    """Worked out by hand, (0.66, 0.24, 0.10) is right; the order or percentages are not."""
    assert check("04.softmax_probs", [0.66, 0.24, 0.10]).passed
    assert check("04.softmax_probs", (0.659, 0.242, 0.099)).passed
    assert not check("04.softmax_probs", [0.0986, 0.2424, 0.659]).passed  # reversed
    assert not check("04.softmax_probs", [0.67, 0.23, 0.10]).passed
    percent = check("04.softmax_probs", [65.9, 24.24, 9.86])
    assert not percent.passed and "add up to 1" in percent.message


def _softmax(z):
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_fn():
    assert check("04.softmax_fn", _softmax).passed
    naive = check("04.softmax_fn", lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True))
    assert not naive.passed and "maximum" in naive.hint
    wrong_axis = check("04.softmax_fn", lambda z: np.exp(z) / np.exp(z).sum(axis=0, keepdims=True))
    assert not wrong_axis.passed and "axis=-1" in wrong_axis.hint
    all_values = check("04.softmax_fn", lambda z: np.exp(z) / np.exp(z).sum())
    assert not all_values.passed and "axis=-1" in all_values.hint
    nothing = check("04.softmax_fn", lambda z: None)
    assert not nothing.passed and "return" in nothing.hint


def test_softmax_fn_needs_each_rows_own_maximum():
    """z - np.max(z) is stable for one row, but a row far below the batch's maximum underflows to 0 / 0."""
    batch_max = check("04.softmax_fn", lambda z: (lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(z - np.max(z))))
    assert not batch_max.passed and "row 2" in batch_max.message and "keepdims=True" in batch_max.hint


def _softmax_loop(z):
    out = np.empty_like(z)
    for i, row in enumerate(z):
        e = np.exp(row - row.max())
        out[i] = e / e.sum()
    return out


def _softmax_logsumexp(z):
    m = z.max(axis=1, keepdims=True)
    return np.exp(z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)))


def test_softmax_fn_accepts_other_right_forms():
    assert check("04.softmax_fn", _softmax_loop).passed
    assert check("04.softmax_fn", _softmax_logsumexp).passed
    no_keepdims = check("04.softmax_fn", lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(
        z - z.max(-1, keepdims=True)).sum(-1))
    assert not no_keepdims.passed


def test_softmax_fn_is_numpy_only():
    """The exercise says "with NumPy": TensorFlow's softmax gives the right numbers but is refused."""
    for library in (lambda z: tf.nn.softmax(z, axis=-1), lambda z: tf.nn.softmax(z).numpy(),
                    lambda z: __import__("keras").ops.softmax(z)):
        feedback = check("04.softmax_fn", library)
        assert not feedback.passed and "NumPy only" in feedback.message


def test_cross_entropy():
    p = tf.nn.softmax(LOGITS)
    assert check("04.cross_entropy", -tf.math.log(p[0])).passed
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert check("04.cross_entropy", loss(tf.constant([0]), tf.constant([LOGITS]))).passed
    negative = check("04.cross_entropy", tf.math.log(p[0]))
    assert not negative.passed and "minus" in negative.hint
    bits = check("04.cross_entropy", -np.log2(0.659))
    assert not bits.passed and "natural" in bits.hint
    other_class = check("04.cross_entropy", -tf.math.log(p[1]))
    assert not other_class.passed and "true class is 0" in other_class.hint


def test_cross_entropy_from_rounded_probabilities():
    """p_0 to two decimals (0.66) gives a right answer; the rounded 0.7 or log base 10 do not."""
    assert check("04.cross_entropy", -np.log(0.66)).passed
    assert check("04.cross_entropy", np.log(1 / 0.659)).passed
    rounded = check("04.cross_entropy", -np.log(0.7))
    assert not rounded.passed and "0.659" in rounded.hint
    log10 = check("04.cross_entropy", -np.log10(0.659))
    assert not log10.passed and "natural" in log10.hint
    assert not check("04.cross_entropy", 0.4170 + 0.0021).passed


def test_param_count():
    model = tf.keras.Sequential([tf.keras.Input((784,)), tf.keras.layers.Dense(10)])
    assert check("04.param_count", model.count_params()).passed
    no_bias = check("04.param_count", 7840)
    assert not no_bias.passed and "biases" in no_bias.hint
    added = check("04.param_count", 794)
    assert not added.passed and "784 × 10" in added.hint
    assert not check("04.param_count", 7851).passed


def test_updates_per_epoch():
    assert check("04.updates_per_epoch", (1, 550, 55000)).passed
    reversed_ = check("04.updates_per_epoch", (55000, 550, 1))
    assert not reversed_.passed and "batch gradient descent first" in reversed_.hint
    batch_size = check("04.updates_per_epoch", (1, 100, 55000))
    assert not batch_size.passed and "55,000 examples / 100" in batch_size.hint
    full = check("04.updates_per_epoch", (55000, 550, 55000))
    assert not full.passed and "steps once" in full.hint


def test_model_accuracy():
    good = check("04.model_accuracy", 0.9093)
    assert good.passed and "about 91%" in good.message and "reached" in good.message
    subset = check("04.model_accuracy", np.float32(0.905))
    assert "reached" not in subset.message
    assert subset.passed and "55,000" in subset.message
    percent = check("04.model_accuracy", 90.5)
    assert not percent.passed and "fraction" in percent.hint
    chance = check("04.model_accuracy", 0.1)
    assert not chance.passed and "argmax" in chance.hint
    low = check("04.model_accuracy", 0.6)
    assert not low.passed and "learning rate" in low.hint


def test_cross_entropy_slip_edges():
    """A slip is matched within 1e-3 × max(1, |slip|): absolute below 1, relative above."""
    bits = float(-np.log(np.exp(2.0) / np.exp([2.0, 1.0, 0.1]).sum()) / np.log(2))  # 0.6017
    assert "bits" in check("04.cross_entropy", bits + 0.0009).message
    assert "off by" in check("04.cross_entropy", bits + 0.0011).message
    class_1 = float(-np.log(np.exp(1.0) / np.exp([2.0, 1.0, 0.1]).sum()))  # 1.417
    assert "p_1" in check("04.cross_entropy", class_1 * 1.0009).message
    assert "off by" in check("04.cross_entropy", class_1 * 1.0011).message
    assert check("04.cross_entropy", 0.4170 + 0.0009).passed
