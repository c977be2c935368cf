"""Chapter 05 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from course.checks import check


def test_xor():
    assert check("05.xor", np.array([[0], [1], [1], [0]])).passed
    assert check("05.xor", [0, 1, 1, 0]).passed
    probabilities = check("05.xor", [0.1, 0.9, 0.8, 0.2])
    assert not probabilities.passed and "Round" in probabilities.hint
    flat = check("05.xor", [0.5, 0.5, 0.5, 0.5])
    assert not flat.passed and "hidden layer" in flat.hint
    linear = check("05.xor", [0, 1, 1, 1])
    assert not linear.passed
    three = check("05.xor", [0, 1, 1])
    assert not three.passed and "all four" in three.hint


def test_param_count():
    model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(5), tf.keras.layers.Dense(3),
                                 tf.keras.layers.Dense(1)])
    assert check("05.param_count", model.count_params()).passed
    weights_only = check("05.param_count", 23)
    assert not weights_only.passed and "bias" in weights_only.hint
    units = check("05.param_count", 10)
    assert not units.passed and "connections" in units.hint


def test_sigmoid_slope():
    z = tf.linspace(-5.0, 5.0, 101)
    with tf.GradientTape() as tape:
        tape.watch(z)
        s = tf.sigmoid(z)
    assert check("05.sigmoid_slope", tf.reduce_max(tape.gradient(s, z))).passed
    value = check("05.sigmoid_slope", 0.5)
    assert not value.passed and "slope" in value.hint
    relu = check("05.sigmoid_slope", 1.0)
    assert not relu.passed and "σ(z)·(1 − σ(z))" in relu.hint


def test_vanishing_factor():
    assert check("05.vanishing_factor", 0.25**10).passed
    product = check("05.vanishing_factor", 2.5)
    assert not product.passed and "0.25 ** 10" in product.hint
    off_by_one = check("05.vanishing_factor", 0.25**9)
    assert not off_by_one.passed and "ten factors" in off_by_one.hint.lower()
    assert not check("05.vanishing_factor", 1e-3).passed


def test_lecun_std():
    assert check("05.lecun_std", np.sqrt(1 / 784)).passed
    init = tf.keras.initializers.LecunNormal(seed=0)
    assert check("05.lecun_std", 1 / 28).passed
    assert init is not None
    variance = check("05.lecun_std", 1 / 784)
    assert not variance.passed and "square root" in variance.hint
    he = check("05.lecun_std", np.sqrt(2 / 784))
    assert not he.passed and "without the 2" in he.hint
    glorot = check("05.lecun_std", np.sqrt(2 / (784 + 10)))
    assert not glorot.passed and "fan_in only" in glorot.hint


def test_lecun_std_refuses_the_measured_and_the_rounded_value():
    """Section 6 measures the std of LeCun weights (0.0357); the exercise asks for the exact value."""
    measured = float(tf.keras.initializers.LecunNormal(seed=0)((784, 256)).numpy().std())
    for near in (measured, 0.0357):
        feedback = check("05.lecun_std", near)
        assert not feedback.passed and "without rounding" in feedback.hint
    assert check("05.lecun_std", 0.035714).passed


def test_dropout_scale():
    layer = tf.keras.layers.Dropout(0.5, seed=0)
    out = layer(tf.ones((1, 1000)), training=True).numpy()
    assert check("05.dropout_scale", out.max()).passed
    rate = check("05.dropout_scale", 0.5)
    assert not rate.passed and "1 / (1 − 0.5)" in rate.hint
    test_time = check("05.dropout_scale", 1.0)
    assert not test_time.passed and "training" in test_time.hint


def test_sine_fit():
    assert check("05.sine_fit", (0.0105, 0.20)).passed
    swapped = check("05.sine_fit", (0.20, 0.0105))
    assert not swapped.passed and "(network, line)" in swapped.hint
    undertrained = check("05.sine_fit", (0.09, 0.20))
    assert not undertrained.passed and "more epochs" in undertrained.hint
    not_a_line = check("05.sine_fit", (0.01, 0.02))
    assert not not_a_line.passed
    assert not check("05.sine_fit", 0.01).passed


def test_takeoff_mae():
    assert check("05.takeoff_mae", 12.5).passed
    normalized = check("05.takeoff_mae", 0.08)
    assert not normalized.passed and "normalization" in normalized.hint
    poor = check("05.takeoff_mae", 120.0)
    assert not poor.passed and "Normalize" in poor.hint


def test_slips_are_matched_within_one_thousandth_relative():
    """ch05 matches a known slip within 1e-3 × |slip| (no absolute floor), so small slips need close answers."""
    assert "σ(0)" in check("05.sigmoid_slope", 0.5 * 1.0009).message
    assert "off by" in check("05.sigmoid_slope", 0.5 * 1.0011).message
    assert "variance" in check("05.lecun_std", 1 / 784 + 1e-6).message  # 1e-3 × 1/784 = 1.28e-6
    assert "variance" not in check("05.lecun_std", 1 / 784 + 2e-6).message
    assert "Off by one layer" in check("05.vanishing_factor", 0.25**9 * 1.0009).message
    assert "Off by one layer" not in check("05.vanishing_factor", 0.25**9 * 1.0011).message


def test_vanishing_factor_and_dropout_accept_edges():
    assert check("05.vanishing_factor", 0.25**10 * 1.0009).passed
    assert not check("05.vanishing_factor", 0.25**10 * 1.0011).passed
    assert check("05.dropout_scale", 2.0 + 9e-7).passed
    assert not check("05.dropout_scale", 2.0 + 1.1e-6).passed


def test_param_count_names_the_missing_output_bias():
    no_output_bias = check("05.param_count", 31)
    assert not no_output_bias.passed and "output unit" in no_output_bias.message
    assert check("05.param_count", 32.0).passed


def test_sigmoid_slope_refuses_where_for_how_much():
    where = check("05.sigmoid_slope", 0)
    assert not where.passed and "where the slope is largest" in where.message
    assert check("05.sigmoid_slope", 1 / 4).passed
    s = tf.sigmoid(0.0)
    assert check("05.sigmoid_slope", s * (1 - s)).passed


def test_vanishing_factor_forms_and_slips():
    for right in ((1 / 4) ** 10, 4.0**-10, 9.54e-7):
        assert check("05.vanishing_factor", right).passed
    value = check("05.vanishing_factor", 0.5**10)
    assert not value.passed and "not its slope" in value.message
    inverse = check("05.vanishing_factor", 4**10)
    assert not inverse.passed and "inverse" in inverse.message


def test_lecun_std_refuses_keras_truncated_normal_parameter():
    """Keras' LecunNormal passes stddev sqrt(1/784) / 0.8796 to a normal truncated at 2 stddevs; the weights' own
    standard deviation is sqrt(1/784)."""
    feedback = check("05.lecun_std", np.sqrt(1 / 784) / 0.87962566103423978)
    assert not feedback.passed and "truncated normal" in feedback.message
    assert check("05.lecun_std", 784**-0.5).passed
    assert check("05.lecun_std", tf.sqrt(1 / 784)).passed  # float32 is close enough


def test_sine_fit_hint_matches_the_chapter():
    """The chapter trains with Adam(0.1) on inputs scaled to [-1, 1): the hint must not send the student elsewhere."""
    feedback = check("05.sine_fit", (0.09, 0.20))
    assert "Adam(0.1)" in feedback.hint and "0.01-0.05" not in feedback.hint


def test_takeoff_mae_says_the_floor_of_the_noise():
    """Noise of standard deviation 15 m has a mean absolute size of 15·sqrt(2/π) ≈ 12 m."""
    feedback = check("05.takeoff_mae", 13.1)
    assert feedback.passed and "12 m" in feedback.message
    assert abs(15 * np.sqrt(2 / np.pi) - 12.0) < 0.05
