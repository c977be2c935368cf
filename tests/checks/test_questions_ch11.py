"""Chapter 11 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from course.checks import check
from course.checks.questions import ch11

TABLE = {
    "LeNet-5": {"accuracy": 0.74, "params": 61_706, "multiply_adds": 416_520, "seconds": 5.1},
    "mini-VGG": {"accuracy": 0.72, "params": 20_930, "multiply_adds": 1_865_664, "seconds": 7.9},
    "mini-Inception": {"accuracy": 0.67, "params": 10_930, "multiply_adds": 935_168, "seconds": 9.0},
    "mini-ResNet": {"accuracy": 0.69, "params": 19_994, "multiply_adds": 1_718_848, "seconds": 8.2},
}


@pytest.fixture(autouse=True)
def _no_recorded_results():
    ch11._RESULTS.clear()
    yield
    ch11._RESULTS.clear()


# --- 11.conv_params --------------------------------------------------------------------------------------------


def test_conv_params_matches_keras():
    layer = keras.Sequential([keras.Input((56, 56, 128)), layers.Conv2D(64, 3, padding="same")])
    assert check("11.conv_params", layer.count_params()).passed
    assert check("11.conv_params", 73_792).passed
    assert check("11.conv_params", np.int64(73_792)).passed


@pytest.mark.parametrize(("answer", "part"), [
    (73_728, "+ 64"), (73_856, "one bias per filter"), (1_216, "64 filters"), (640, "3·3·128"),
    (56 * 56 * 64, "image size"), (56 * 56 * 9 * 128 * 64, "multiply-adds"), (56 * 56 * 73_792, "image size"),
])
def test_conv_params_names_the_slip(answer, part):
    feedback = check("11.conv_params", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or "")


def test_conv_params_refuses_fractions_and_text():
    assert not check("11.conv_params", 73_792.5).passed
    assert "quotes" in (check("11.conv_params", "73792").hint or "")


# --- 11.output_shape -------------------------------------------------------------------------------------------


def _keras_stack():
    return keras.Sequential([keras.Input((64, 64, 3)), layers.Conv2D(16, 7, strides=2),
                             layers.MaxPooling2D(3, strides=2), layers.Conv2D(32, 3, padding="same"),
                             layers.Conv2D(64, 3, strides=2)])


def test_output_shape_is_what_keras_builds():
    model = _keras_stack()
    assert ch11.OUTPUT_SHAPE == tuple(model.output_shape[1:]) == (6, 6, 64)
    for answer in [(6, 6, 64), [6, 6, 64], model.output_shape, tf.TensorShape([None, 6, 6, 64]),
                   np.array([6, 6, 64]), (1, 6, 6, 64)]:
        assert check("11.output_shape", answer).passed, answer


@pytest.mark.parametrize(("answer", "part"), [
    ((7, 7, 64), "rounded up"), ((8, 8, 64), "'valid'"), ((5, 5, 64), "keeps the size"), ((54, 54, 64), "strides"),
    ((6, 6, 32), "filters of the last convolution"), ((6, 6), "channels"), (36, "one number"),
    ((None, None, 64), "None"), ((64, 6, 6), "channels first"),
])
def test_output_shape_names_the_slip(answer, part):
    feedback = check("11.output_shape", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or ""), str(feedback)


def test_output_shape_other_wrong_shape():
    feedback = check("11.output_shape", (10, 10, 64))
    assert not feedback.passed and "is not the output shape" in feedback.message


# --- 11.bottleneck_saving --------------------------------------------------------------------------------------


def _saving_by_keras():
    direct = keras.Sequential([keras.Input((14, 14, 480)), layers.Conv2D(48, 5, padding="same")])
    bottleneck = keras.Sequential([keras.Input((14, 14, 480)), layers.Conv2D(16, 1),
                                   layers.Conv2D(48, 5, padding="same")])
    return direct.count_params() - bottleneck.count_params()


def test_bottleneck_saving():
    assert _saving_by_keras() == ch11.SAVING == 549_104
    assert check("11.bottleneck_saving", 549_104).passed
    assert check("11.bottleneck_saving", 549_104.0).passed


@pytest.mark.parametrize(("answer", "part"), [
    (549_120, "biases"), (576_048, "direct convolution's count alone"), (26_944, "bottleneck's count alone"),
    (-549_104, "positive"), (556_800, "1×1 layer is missing"), (107_627_520, "multiply-adds"), (21.38, "ratio"),
    (500_000, "off by"),
])
def test_bottleneck_saving_names_the_slip(answer, part):
    feedback = check("11.bottleneck_saving", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or ""), str(feedback)


# --- 11.bottleneck_block ---------------------------------------------------------------------------------------


def bottleneck_block(x, filters):
    shortcut = x
    h = layers.Conv2D(filters, 1, use_bias=False)(x)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.BatchNormalization()(layers.Conv2D(4 * filters, 1, use_bias=False)(h))
    if x.shape[-1] != 4 * filters:
        shortcut = layers.BatchNormalization()(layers.Conv2D(4 * filters, 1, use_bias=False)(x))
    return layers.ReLU()(layers.Add()([h, shortcut]))


def bottleneck_block_plus(x, filters):
    """With biases, `+` for the addition, keras.ops.relu and Activation("relu") for the ReLUs: also right."""
    shortcut = x if x.shape[-1] == 4 * filters else layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(x))
    h = keras.ops.relu(layers.BatchNormalization()(layers.Conv2D(filters, 1)(x)))
    h = layers.Activation("relu")(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
    h = layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(h))
    return layers.Activation("relu")(h + shortcut)


def test_bottleneck_block_right_answers_pass():
    assert check("11.bottleneck_block", bottleneck_block).passed
    assert check("11.bottleneck_block", bottleneck_block_plus).passed


def test_bottleneck_block_leaves_shared_layers_as_they_were():
    """The check zeroes the weights to test the skip, then puts them back: a student's own layers are not touched."""
    shared = layers.Conv2D(16, 1)
    first = keras.Sequential([keras.Input((8, 8, 64)), shared])
    before = [w.copy() for w in first.get_weights()]

    def block(x, filters):
        h = shared(x) if x.shape[-1] == 64 and filters == 16 else layers.Conv2D(filters, 1)(x)
        h = layers.ReLU()(layers.BatchNormalization()(h))
        h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
        h = layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(h))
        s = x if x.shape[-1] == 4 * filters else layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(x))
        return layers.ReLU()(h + s)

    assert check("11.bottleneck_block", block).passed
    for old, new in zip(before, first.get_weights()):
        np.testing.assert_array_equal(old, new)


def _chapter_residual_block(x, filters):  # the basic block of section 6: 16 channels out, not 64
    h = layers.Conv2D(filters, 3, padding="same")(x)
    h = layers.Conv2D(filters, 3, padding="same")(h)
    s = x if x.shape[-1] == filters else layers.Conv2D(filters, 1)(x)
    return layers.ReLU()(layers.Add()([h, s]))


def _zero_padded_shortcut(x, filters):
    """The paper's option A (zeros for the extra channels) where the exercise asks for a 1x1 projection."""
    h = layers.Conv2D(filters, 1, activation="relu")(x)
    h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
    h = layers.Conv2D(4 * filters, 1)(h)
    extra = 4 * filters - x.shape[-1]
    s = x if extra == 0 else keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
    return layers.ReLU()(h + s)


def _no_skip(x, filters):
    h = layers.Conv2D(filters, 1, activation="relu")(x)
    h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
    return layers.Conv2D(4 * filters, 1)(h)


def _always_projected(x, filters):
    h = layers.Conv2D(filters, 1, activation="relu")(x)
    h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
    return layers.ReLU()(layers.Conv2D(4 * filters, 1)(h) + layers.Conv2D(4 * filters, 1)(x))


def _multiplied(x, filters):
    h = layers.Conv2D(filters, 1, activation="relu")(x)
    h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
    h = layers.Conv2D(4 * filters, 1)(h)
    s = x if x.shape[-1] == 4 * filters else layers.Conv2D(4 * filters, 1)(x)
    return layers.Multiply()([h, s])


def _added_twice_wrongly(x, filters):
    """An addition is there, but of F(x) to itself: x never reaches the output."""
    h = layers.Conv2D(filters, 1, activation="relu")(x)
    h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
    h = layers.Conv2D(4 * filters, 1)(h)
    if x.shape[-1] != 4 * filters:
        layers.Conv2D(4 * filters, 1)(x)  # a projection made and then not used
    return layers.ReLU()(h + h)


def _valid_padding(x, filters):
    h = layers.Conv2D(filters, 1)(x)
    h = layers.Conv2D(filters, 3)(h)
    return layers.Conv2D(4 * filters, 1)(h)


def _basic_weights(x, filters):
    """The right shape, but two 3x3 convolutions instead of 1x1-3x3-1x1."""
    h = layers.Conv2D(filters, 3, padding="same")(x)
    h = layers.Conv2D(4 * filters, 3, padding="same")(h)
    s = x if x.shape[-1] == 4 * filters else layers.Conv2D(4 * filters, 1)(x)
    return layers.ReLU()(h + s)


def _without_batch_norm(x, filters):
    """Right convolutions, skip and ReLUs, but no batch normalization at all."""
    h = layers.Conv2D(filters, 1, activation="relu")(x)
    h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
    h = layers.Conv2D(4 * filters, 1)(h)
    s = x if x.shape[-1] == 4 * filters else layers.Conv2D(4 * filters, 1)(x)
    return layers.ReLU()(h + s)


def _relu_before_add(x, filters):
    """Batch normalization everywhere, but F ends with a ReLU and nothing follows the addition."""
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 1)(x)))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(h)))
    s = x if x.shape[-1] == 4 * filters else layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(x))
    return layers.Add()([h, s])


def _relu_before_and_after_add(x, filters):
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 1)(x)))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(h)))
    s = x if x.shape[-1] == 4 * filters else layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(x))
    return layers.ReLU()(layers.Add()([h, s]))


def _two_batch_norms(x, filters):
    """The last convolution of F has no batch normalization."""
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 1)(x)))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
    h = layers.Conv2D(4 * filters, 1)(h)
    s = x if x.shape[-1] == 4 * filters else layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(x))
    return layers.ReLU()(layers.Add()([h, s]))


def _relu_then_batch_norm(x, filters):
    """Conv2D(activation="relu") and then batch normalization: the ReLU comes before the normalization."""
    h = layers.BatchNormalization()(layers.Conv2D(filters, 1, activation="relu")(x))
    h = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", activation="relu")(h))
    h = layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(h))
    s = x if x.shape[-1] == 4 * filters else layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(x))
    return layers.ReLU()(layers.Add()([h, s]))


def _projection_without_batch_norm(x, filters):
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 1)(x)))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
    h = layers.BatchNormalization()(layers.Conv2D(4 * filters, 1)(h))
    s = x if x.shape[-1] == 4 * filters else layers.Conv2D(4 * filters, 1)(x)
    return layers.ReLU()(layers.Add()([h, s]))


def _relu_after_add_then_more(x, filters):
    """The ReLU after the addition, then one more batch normalization: the block no longer ends with the ReLU."""
    return layers.BatchNormalization()(bottleneck_block(x, filters))


@pytest.mark.parametrize(("answer", "part"), [
    (_without_batch_norm, "3 batch normalizations are missing"),
    (_relu_before_add, "last layer is the addition"),
    (_relu_before_and_after_add, "the ReLU comes after the addition, not before it"),
    (_two_batch_norms, "1 batch normalization is missing"),
    (_relu_then_batch_norm, "1×1 conv → ReLU → BN → 3×3 conv → ReLU → BN → 1×1 conv → BN"),
    (_projection_without_batch_norm, "The shortcut is 1×1 conv; here it should be 1×1 conv → BN"),
    (_relu_after_add_then_more, "last layer is BN"),
])
def test_bottleneck_block_checks_batch_norm_and_relu(answer, part):
    feedback = check("11.bottleneck_block", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or ""), str(feedback)


@pytest.mark.parametrize(("answer", "part"), [
    (_chapter_residual_block, "4·filters channels"),
    (_no_skip, "no addition"),
    (_zero_padded_shortcut, "has no 1×1 projection"),
    (_always_projected, "x itself"),
    (_multiplied, "no addition"),
    (_added_twice_wrongly, "x does not reach the output"),
    (_valid_padding, "padding='same'"),
    (_basic_weights, "1×1 (64→16), 3×3 (16→16), 1×1 (16→64)"),
    (lambda x, filters: None, "returned None"),
    (lambda x, filters: np.zeros((8, 8, 64)), "Keras tensor"),
    (lambda x, filters: layers.Conv2D(64, 1)(keras.Input((8, 8, 64))), "not computed from x"),
    (lambda x: x, "TypeError"),
    (bottleneck_block(keras.Input((8, 8, 64)), 16), "should be a function"),
])
def test_bottleneck_block_names_the_slip(answer, part):
    feedback = check("11.bottleneck_block", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or ""), str(feedback)


def test_bottleneck_block_none_is_not_answered():
    assert check("11.bottleneck_block", None).status == "unanswered"


# --- 11.small_models and 11.best_per_param ---------------------------------------------------------------------


def test_small_models_records_the_table():
    feedback = check("11.small_models", TABLE)
    assert feedback.passed and "LeNet-5" in feedback.message
    assert set(ch11._RESULTS) == set(TABLE)


@pytest.mark.parametrize(("change", "part"), [
    ({"mini-VGG": {"accuracy": 0.3, "params": 20_930, "seconds": 1.0}}, "hardly learned"),
    ({"mini-VGG": {"accuracy": 72.0, "params": 20_930, "seconds": 1.0}}, "percentage"),
    ({"mini-VGG": {"accuracy": 0.7, "params": 2.5, "seconds": 1.0}}, "count_params"),
    ({"mini-VGG": {"accuracy": 0.7, "params": 20_930, "seconds": 0.0}}, "impossible"),
    ({"mini-VGG": {"accuracy": 0.7, "seconds": 1.0}}, "no 'params'"),
    ({"mini-VGG": 0.7}, "no 'accuracy'"),
])
def test_small_models_refuses_bad_tables(change, part):
    feedback = check("11.small_models", TABLE | change)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or ""), str(feedback)
    assert not ch11._RESULTS  # nothing recorded from a refused table


def test_small_models_refuses_what_is_not_a_table():
    assert not check("11.small_models", 0.74).passed
    assert not check("11.small_models", {"LeNet-5": TABLE["LeNet-5"]}).passed


def _best(table):
    name = max(table, key=lambda n: table[n]["accuracy"] / (table[n]["params"] / 1000))
    return name, table[name]["accuracy"] / (table[name]["params"] / 1000)


def test_best_per_param_needs_the_chapters_run():
    feedback = check("11.best_per_param", ("mini-Inception", 0.0613))
    assert not feedback.passed and "Run section 7" in feedback.hint


def test_best_per_param_is_earned_from_this_run():
    assert check("11.small_models", TABLE).passed
    assert _best(TABLE)[0] == "mini-Inception"
    assert check("11.best_per_param", _best(TABLE)).passed
    assert check("11.best_per_param", ("mini-Inception", round(_best(TABLE)[1], 4))).passed
    assert check("11.best_per_param", [_best(TABLE)[1], "mini-Inception"]).passed
    # another run, another table: the same answer no longer passes, and the new one does
    other = TABLE | {"LeNet-5": {"accuracy": 0.9, "params": 6_000, "seconds": 3.0}}
    assert check("11.small_models", other).passed
    stale = check("11.best_per_param", _best(TABLE))
    assert not stale.passed and "less than another network" in stale.message
    assert check("11.best_per_param", _best(other)).passed


@pytest.mark.parametrize(("answer", "part"), [
    (("LeNet-5", 0.74 / 61.706), "highest accuracy, but not"),
    (("mini-VGG", 0.72 / 20.93), "less than another network"),
    (("mini-Inception", 0.67 / 10_930), "per parameter"),
    (("mini-Inception", 10.93 / 0.67), "per unit of accuracy"),
    (("mini-Inception", 0.67), "accuracy itself"),
    (("mini-Inception", 67 / 10.93), "in percent"),
    (("mini-Inception", 0.05), "off by"),
    (("ResNet-50", 0.06), "not a network of this run"),
    ("mini-Inception", "pair"),
    ((1, 2), "network name"),
])
def test_best_per_param_names_the_slip(answer, part):
    assert check("11.small_models", TABLE).passed
    feedback = check("11.best_per_param", answer)
    assert not feedback.passed
    assert part in feedback.message + (feedback.hint or ""), str(feedback)
