"""course.cnn, the chapter-06 modern recipe: the network and its size, the schedule, the pipeline, a short fit.

Real TensorFlow on tiny data: a few hundred generated 28x28 images whose class is where a bright square sits.
"""

from __future__ import annotations

import numpy as np
import pytest

from course import cnn
from course.cnn import Recipe

TINY = Recipe(filters=(4, 8), dense_units=16, batch_size=32, epochs=3, peak_learning_rate=1e-2)


def squares(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images (count, 28, 28) with a 6x6 bright square in one of 10 places; the label is the place."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.uniform(0, 0.2, (count, 28, 28)).astype(np.float32)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 5)
        image[2 + 12 * row: 8 + 12 * row, 1 + 5 * col: 7 + 5 * col] = 1.0
    return images, labels


def expected_params(recipe: Recipe) -> int:
    """Weights and biases of every layer, batch norm's four vectors per channel (two of them not trained)."""
    f1, f2, dense = *recipe.filters, recipe.dense_units
    conv1 = 3 * 3 * 1 * f1 + f1
    conv2 = 3 * 3 * f1 * f2 + f2
    flat = 5 * 5 * f2  # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5
    return conv1 + 4 * f1 + conv2 + 4 * f2 + flat * dense + dense + 4 * dense + dense * 10 + 10


@pytest.mark.parametrize("recipe", [Recipe(), TINY], ids=["default", "tiny"])
def test_the_network_builds_with_the_expected_size(recipe):
    model = cnn.build_model(recipe)
    assert model.count_params() == expected_params(recipe)
    assert model.output_shape == (None, 10)
    names = [layer.name for layer in model.layers]
    assert names.index("pool1") < names.index("norm1") < names.index("conv2")  # normalised after pooling


def test_the_default_recipe_has_162906_parameters():
    assert cnn.build_model().count_params() == 162_906


def test_mixed_precision_computes_in_float16_and_keeps_the_logits_float32():
    model = cnn.build_model(TINY, mixed_precision=True)
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert model.get_layer("conv1").variable_dtype == "float32"
    assert model.get_layer("logits").compute_dtype == "float32"
    assert model(np.zeros((2, 28, 28, 1), np.float32)).dtype == "float32"


def test_the_schedule_warms_up_then_decays_to_zero():
    recipe = Recipe(peak_learning_rate=0.01, warmup_fraction=0.2)
    rates = cnn.learning_rates(cnn.learning_rate_schedule(100, recipe), 100)
    assert rates.shape == (100,)
    assert rates[0] == pytest.approx(0.001)
    assert rates.argmax() == 20 and rates[20] == pytest.approx(0.01)
    assert np.all(np.diff(rates[:21]) > 0) and np.all(np.diff(rates[20:]) < 0)
    assert rates[-1] < 0.0001
    with pytest.raises(ValueError, match="total_steps"):
        cnn.learning_rate_schedule(0)


def test_steps_per_epoch_counts_the_last_smaller_batch():
    assert cnn.steps_per_epoch(7200, 64) == 113
    assert cnn.steps_per_epoch(64, 64) == 1


def test_the_pipeline_batches_shuffles_when_training_and_adds_the_channel():
    images, labels = squares(100)
    training = cnn.pipeline(images, labels, 32, training=True, seed=1)
    batches = list(training)
    assert [tuple(x.shape) for x, _ in batches] == [(32, 28, 28, 1)] * 3 + [(4, 28, 28, 1)]
    first, second = (np.concatenate([y.numpy() for _, y in training]) for _ in range(2))
    assert sorted(first) == sorted(labels) and not np.array_equal(first, second)  # a new order every epoch
    testing = np.concatenate([y.numpy() for _, y in cnn.pipeline(images, labels, 32, training=False)])
    assert np.array_equal(testing, labels)


def test_augmentation_moves_the_images_but_keeps_their_size():
    images, labels = squares(16)
    (moved, _), = list(cnn.pipeline(images, labels, 16, training=True, augment=True))
    assert moved.shape == (16, 28, 28, 1)
    assert np.isclose(float(np.asarray(moved).max()), 1.0)
    assert not np.allclose(np.sort(np.asarray(moved).ravel()), np.sort(images.ravel()))  # zeros came in


def test_images_of_the_wrong_shape_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        cnn.pipeline(np.zeros((4, 32, 32)), np.zeros(4), 2, training=False)


def test_a_short_fit_lowers_the_loss_and_learns_the_squares():
    images, labels = squares(480)
    test_images, test_labels = squares(200, seed=1)
    trained = cnn.train(images, labels, validation=(test_images, test_labels), recipe=TINY, seed=0)
    losses = trained.history.history["loss"]
    assert len(losses) == TINY.epochs and losses[-1] < 0.5 * losses[0]
    assert trained.history.history["val_loss"][-1] < losses[0]
    assert trained.evaluate(test_images, test_labels) > 0.9
    assert trained.seconds > 0 and trained.cpu_seconds > 0
    assert trained.total_steps == 45 and trained.learning_rates.shape == (45,)
    assert not trained.jit_compile and not trained.mixed_precision  # "auto" on a machine without a GPU


def test_a_mixed_precision_fit_scales_the_loss_and_still_learns():
    images, labels = squares(480)
    trained = cnn.train(images, labels, recipe=TINY.with_changes(mixed_precision=True, epochs=2))
    assert trained.mixed_precision
    assert type(trained.model.optimizer).__name__ == "LossScaleOptimizer"
    losses = trained.history.history["loss"]
    assert losses[-1] < losses[0]


def test_a_switch_that_is_neither_true_false_nor_auto_is_refused():
    with pytest.raises(ValueError, match="'auto'"):
        cnn.train(*squares(8), recipe=TINY.with_changes(jit_compile="yes"))
