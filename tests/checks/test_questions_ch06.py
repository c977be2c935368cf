"""Chapter 06 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course.checks import check
from course.checks.questions import ch06


def test_the_classic_examples_hold():
    """The constants the graders use are the classic figures, recomputed here."""
    img, k = ch06.CLASSIC_IMAGE, ch06.CLASSIC_FILTER
    by_hand = np.array([[np.sum(img[i:i + 3, j:j + 3] * k) for j in range(3)] for i in range(3)])
    assert by_hand.tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    assert ch06.POOL_INPUT.reshape(2, 2, 2, 2).max(axis=(1, 3)).tolist() == [[3, 4], [6, 8]]
    assert (5 - 3 + 2 * 1) // 2 + 1 == 3


# --- 06.output_size ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [3, 3.0, np.int64(3), tf.constant(3)])
def test_output_size_accepts_three(answer):
    assert check("06.output_size", answer).passed


@pytest.mark.parametrize(
    ("answer", "part"),
    [(2, "padding"), (5, "stride"), (2.5, "whole number"), ("3", "quotes")],
)
def test_output_size_names_the_slip(answer, part):
    feedback = check("06.output_size", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


# --- 06.output_size_fn -------------------------------------------------------------------------------------


def test_output_size_fn_accepts_the_formula():
    assert check("06.output_size_fn", lambda W, K, P, S: (W - K + 2 * P) // S + 1).passed
    assert check("06.output_size_fn", lambda W, K, P, S: (W - K + 2 * P) / S + 1).passed  # 3.0 is fine


@pytest.mark.parametrize(
    ("fn", "part"),
    [
        (lambda W, K, P, S: (W - K) // S + 1, "padding"),
        (lambda W, K, P, S: W - K + 2 * P + 1, "stride"),
        (lambda W, K, P, S: (W - K + 2 * P) // S, "Add 1"),
        (lambda W, K, P, S: None, "return"),
        (lambda W, K, P: W, "TypeError"),
    ],
)
def test_output_size_fn_wrong_versions_get_hints(fn, part):
    feedback = check("06.output_size_fn", fn)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


def test_output_size_fn_rejects_a_number():
    feedback = check("06.output_size_fn", 3)
    assert not feedback.passed and "function" in feedback.message


# --- 06.conv_by_hand ---------------------------------------------------------------------------------------


def test_conv_by_hand_accepts_numpy_and_tensorflow_results():
    assert check("06.conv_by_hand", [[4, 3, 4], [2, 4, 3], [2, 3, 4]]).passed
    tf_result = tf.nn.conv2d(
        tf.constant(ch06.CLASSIC_IMAGE.reshape(1, 5, 5, 1), tf.float32),
        tf.constant(ch06.CLASSIC_FILTER.reshape(3, 3, 1, 1), tf.float32),
        strides=1,
        padding="VALID",
    )
    assert check("06.conv_by_hand", tf_result).passed  # (1, 3, 3, 1) is accepted


def test_conv_by_hand_names_the_slips():
    same = tf.nn.conv2d(
        tf.constant(ch06.CLASSIC_IMAGE.reshape(1, 5, 5, 1), tf.float32),
        tf.constant(ch06.CLASSIC_FILTER.reshape(3, 3, 1, 1), tf.float32),
        strides=1,
        padding="SAME",
    ).numpy()[0, :, :, 0]
    feedback = check("06.conv_by_hand", same)
    assert not feedback.passed and "same" in feedback.message.lower() and "valid" in feedback.hint
    transposed = check("06.conv_by_hand", ch06.CLASSIC_FEATURE.T)
    assert not transposed.passed and "transposed" in transposed.message
    off = check("06.conv_by_hand", [[4, 3, 4], [2, 4, 3], [2, 3, 3]])
    assert not off.passed and "index (2, 2)" in off.message
    flat = check("06.conv_by_hand", [4, 3, 4, 2])
    assert not flat.passed and "shape" in flat.message


# --- 06.curve_response -------------------------------------------------------------------------------------


def test_curve_response_accepts_6600():
    assert check("06.curve_response", 6600).passed
    assert check("06.curve_response", np.float32(6600.0)).passed


@pytest.mark.parametrize(("answer", "part"), [(0, "without the curve"), (7500, "20"), (6000, "non-zero")])
def test_curve_response_wrong_answers(answer, part):
    feedback = check("06.curve_response", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


# --- 06.max_pool -------------------------------------------------------------------------------------------


def _numpy_pool(x):
    h, w = x.shape
    return x.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))


def _loop_pool(x):
    out = np.empty((x.shape[0] // 2, x.shape[1] // 2), dtype=x.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = x[2 * i:2 * i + 2, 2 * j:2 * j + 2].max()
    return out


@pytest.mark.parametrize("fn", [_numpy_pool, _loop_pool])
def test_max_pool_accepts_a_numpy_function(fn):
    assert check("06.max_pool", fn).passed


def _tf_pool(x):
    return tf.nn.max_pool2d(x[None, :, :, None], 2, 2, "VALID").numpy()[0, :, :, 0]


def _keras_pool(x):
    import keras

    return np.asarray(keras.layers.MaxPooling2D(2)(x[None, :, :, None]))[0, :, :, 0]


def _tf_under_another_name(x):
    from tensorflow import nn as numpy_helpers

    return numpy_helpers.max_pool2d(x[None, :, :, None], 2, 2, "VALID").numpy()[0, :, :, 0]


@pytest.mark.parametrize("fn", [_tf_pool, _keras_pool, _tf_under_another_name])
def test_max_pool_refuses_the_librarys_result(fn):
    """"NumPy only": a function that gives the right numbers through TensorFlow or Keras fails."""
    np.testing.assert_array_equal(fn(ch06.POOL_INPUT.astype(np.float32)), ch06.POOL_MAX)  # it is right...
    feedback = check("06.max_pool", fn)
    assert not feedback.passed and "NumPy only" in feedback.message  # ...and refused


def test_max_pool_refuses_an_array_even_the_right_one():
    pooled = tf.nn.max_pool2d(tf.constant(ch06.POOL_INPUT.reshape(1, 4, 4, 1), tf.float32), 2, 2, "VALID")
    for answer in (pooled, pooled.numpy()[0, :, :, 0], ch06.POOL_MAX):
        feedback = check("06.max_pool", answer)
        assert not feedback.passed and "pooled 4x4 example itself" in feedback.message
        assert "max_pool_2x2" in feedback.hint
    assert "should be your function" in check("06.max_pool", [[1, 2, 3]]).message


def test_max_pool_refuses_a_function_that_returns_the_example():
    feedback = check("06.max_pool", lambda x: ch06.POOL_MAX)
    assert not feedback.passed and "4x6" in feedback.message


def test_max_pool_names_the_slips():
    average = check("06.max_pool", lambda x: x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3)))
    assert not average.passed and "average" in average.message
    overlapping = check("06.max_pool", lambda x: np.array(
        [[x[i:i + 2, j:j + 2].max() for j in range(x.shape[1] - 1)] for i in range(x.shape[0] - 1)]))
    assert not overlapping.passed and "stride 2" in overlapping.hint
    transposed = check("06.max_pool", lambda x: _numpy_pool(x).T)
    assert not transposed.passed and "transposed" in transposed.message
    nothing = check("06.max_pool", lambda x: None)
    assert not nothing.passed and "return" in nothing.hint


# --- 06.flatten_size and 06.conv1_params -------------------------------------------------------------------


def test_flatten_size():
    assert check("06.flatten_size", 3136).passed
    assert check("06.flatten_size", 7 * 7 * 64.0).passed
    one_pool = check("06.flatten_size", 14 * 14 * 64)
    assert not one_pool.passed and "two" in one_pool.hint
    channels = check("06.flatten_size", 7 * 7 * 32)
    assert not channels.passed and "64" in channels.hint
    dense_width = check("06.flatten_size", 1024)
    assert not dense_width.passed and "dense layer's width" in dense_width.hint


def test_conv1_params_matches_keras():
    import keras

    layer = keras.layers.Conv2D(32, 5)
    layer.build((None, 28, 28, 1))
    assert check("06.conv1_params", layer.count_params()).passed
    no_bias = check("06.conv1_params", 800)
    assert not no_bias.passed and "bias" in no_bias.hint
    per_pixel = check("06.conv1_params", 28 * 28 * 32)
    assert not per_pixel.passed and "image size" in per_pixel.hint


# --- 06.batchnorm_params ----------------------------------------------------------------------------------


def test_batchnorm_params_matches_keras_trainable_weights():
    import keras

    layer = keras.layers.BatchNormalization()
    layer.build((None, 11, 11, 48))
    trained = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    assert check("06.batchnorm_params", trained).passed
    every = check("06.batchnorm_params", layer.count_params())  # 192: the running statistics counted too
    assert not every.passed and "not trained" in every.hint
    one = check("06.batchnorm_params", 48)
    assert not one.passed and "two learned numbers" in one.hint
    assert not check("06.batchnorm_params", 95).passed


def test_batchnorm_params_is_the_recipes_norm2():
    from course.cnn import build_model

    layer = build_model().get_layer("norm2")
    assert check("06.batchnorm_params", sum(int(np.prod(w.shape)) for w in layer.trainable_weights)).passed


# --- 06.test_accuracy --------------------------------------------------------------------------------------


def test_test_accuracy_accepts_a_fraction_above_the_floor():
    assert check("06.test_accuracy", 0.9921).passed
    assert check("06.test_accuracy", np.float64(0.85)).passed


@pytest.mark.parametrize(("answer", "part"), [(99.2, "percentage"), (0.11, "not learned"), (-0.1, "negative")])
def test_test_accuracy_rejects_bad_values(answer, part):
    feedback = check("06.test_accuracy", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


def test_strict_mode_raises_on_a_wrong_answer_only(monkeypatch):
    monkeypatch.setenv("COURSE_CHECKS_STRICT", "1")
    assert check("06.output_size", None).status == "unanswered"
    assert check("06.output_size", 3).passed
    with pytest.raises(AssertionError, match="06.output_size"):
        check("06.output_size", 2)


# --- the answers a student gives, right and wrong ----------------------------------------------------------


def test_output_size_fn_hidden_cases_catch_rounding_up(monkeypatch):
    """int() and math.floor drop the remainder as TensorFlow does; round() and math.ceil count one too many."""
    import math

    monkeypatch.setenv("COURSE_GRADING", "1")
    for right in (lambda W, K, P, S: int((W - K + 2 * P) / S) + 1,
                  lambda W, K, P, S: math.floor((W - K + 2 * P) / S) + 1,
                  lambda W, K, P, S: np.int64((W - K + 2 * P) // S + 1)):
        assert check("06.output_size_fn", right).passed
    for wrong in (lambda W, K, P, S: round((W - K + 2 * P) / S) + 1,
                  lambda W, K, P, S: math.ceil((W - K + 2 * P) / S) + 1):
        feedback = check("06.output_size_fn", wrong)
        assert not feedback.passed and "Hidden case" in feedback.message and "113" in feedback.message


def test_conv1_params_names_fast_modes_and_the_second_layers_count():
    fast = check("06.conv1_params", 5 * 5 * 1 * 16 + 16)
    assert not fast.passed and "fast mode" in fast.hint
    second = check("06.conv1_params", 51_264)
    assert not second.passed and "second convolution" in second.hint
    assert check("06.conv1_params", 832.0).passed
