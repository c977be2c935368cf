"""Chapter 06's modern recipe for the MNIST CNN: batch normalisation, a warm-up + cosine learning-rate schedule,
a cached and prefetched `tf.data` pipeline, and XLA and mixed precision only where they pay (a GPU).

The chapter's section 11, "A modern recipe", and `benchmarks/cnn_race.py` both train through :func:`train`, so the
benchmark's figures are those of the recipe the chapter teaches. TensorFlow is imported inside the functions,
so ``import course.cnn`` stays fast.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["Recipe", "Trained", "build_model", "learning_rate_schedule", "learning_rates", "on_gpu",
           "pipeline", "steps_per_epoch", "train"]

AUTO = "auto"


@dataclass(frozen=True)
class Recipe:
    """Every choice of the recipe, with the values measured best on 2 CPU cores (see the chapter).

    ``jit_compile`` and ``mixed_precision`` are True, False or "auto": on when TensorFlow sees a GPU. On the CPU
    XLA made one fit three times slower, and float16 has no fast CPU kernels.
    """

    filters: tuple[int, int] = (16, 48)
    dense_units: int = 128
    dropout: float = 0.3
    batch_norm_momentum: float = 0.9      # Keras' 0.99 needs thousands of steps before its statistics settle
    batch_size: int = 64
    peak_learning_rate: float = 3e-3
    warmup_fraction: float = 0.1          # of all steps: the rate climbs from a tenth of the peak, then decays
    epochs: int = 5
    augment: bool = False                 # random shifts of up to 2 pixels: no gain in 5 epochs here
    jit_compile: bool | str = AUTO
    mixed_precision: bool | str = AUTO

    def with_changes(self, **changes: Any) -> Recipe:
        """A copy with some choices changed, e.g. ``Recipe().with_changes(epochs=1)``."""
        return replace(self, **changes)


def on_gpu() -> bool:
    """True when TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _resolve(value: bool | str) -> bool:
    if value == AUTO:
        return on_gpu()
    if isinstance(value, bool):
        return value
    raise ValueError(f"use True, False or 'auto'; got {value!r}")


def build_model(recipe: Recipe = Recipe(), *, mixed_precision: bool = False) -> Any:
    """The recipe's network: two blocks of conv 3x3 + ReLU -> max pool -> batch norm, a dense layer, logits.

    Normalising after the pooling works on maps four times smaller than the convolution's, so it costs little.
    With ``mixed_precision`` the layers compute in float16 and the logits stay float32.
    """
    import keras
    from keras import layers

    dtype = "mixed_float16" if mixed_precision else None

    def batch_norm(name: str) -> Any:
        return layers.BatchNormalization(momentum=recipe.batch_norm_momentum, name=name, dtype=dtype)

    f1, f2 = recipe.filters
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(f1, 3, activation="relu", name="conv1", dtype=dtype),
        layers.MaxPooling2D(2, name="pool1", dtype=dtype),
        batch_norm("norm1"),
        layers.Conv2D(f2, 3, activation="relu", name="conv2", dtype=dtype),
        layers.MaxPooling2D(2, name="pool2", dtype=dtype),
        batch_norm("norm2"),
        layers.Flatten(name="flatten", dtype=dtype),
        layers.Dense(recipe.dense_units, activation="relu", name="fc1", dtype=dtype),
        batch_norm("norm3"),
        layers.Dropout(recipe.dropout, name="dropout", dtype=dtype),
        layers.Dense(10, name="logits", dtype="float32"),
    ], name="modern_cnn")


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Batches in one epoch (the last one may be smaller)."""
    return math.ceil(examples / batch_size)


def learning_rate_schedule(total_steps: int, recipe: Recipe = Recipe()) -> Any:
    """Warm-up then cosine decay: linear from a tenth of the peak to the peak, then down to 0 at the last step."""
    import keras

    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1; got {total_steps}")
    warmup = int(recipe.warmup_fraction * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.peak_learning_rate / 10, decay_steps=max(total_steps - warmup, 1),
        warmup_target=recipe.peak_learning_rate, warmup_steps=warmup, alpha=0.0)


def learning_rates(schedule: Any, total_steps: int) -> np.ndarray:
    """The rate the schedule gives at steps 0 .. total_steps - 1 (to plot it)."""
    return np.array([float(schedule(step)) for step in range(total_steps)])


def _shift(images: Any, pad: int = 2) -> Any:
    """Move every image of a batch by up to ``pad`` pixels in each direction (zero padding, random crop)."""
    import tensorflow as tf

    size = tf.shape(images)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    return tf.image.random_crop(padded, size)


def _with_channel(images: Any) -> np.ndarray:
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != (28, 28, 1):
        raise ValueError(f"images must be shaped (N, 28, 28) or (N, 28, 28, 1); got {array.shape}")
    return array


def pipeline(images: Any, labels: Any, batch_size: int, *, training: bool, augment: bool = False,
             seed: int = 0) -> Any:
    """A `tf.data` pipeline: cached after the first pass, shuffled every epoch when training, prefetched.

    ``cache()`` keeps the prepared examples in memory, so later epochs skip the preparation; ``prefetch`` lets
    the next batch be made while the model trains on this one.
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((_with_channel(images), np.asarray(labels, dtype=np.int64))).cache()
    if training:
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if training and augment:
        data = data.map(lambda x, y: (_shift(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


@dataclass
class Trained:
    """What :func:`train` gives: the model, Keras' history, the wall and CPU seconds (all threads) of ``fit``,
    and what was switched on."""

    model: Any
    history: Any
    seconds: float
    cpu_seconds: float
    recipe: Recipe
    total_steps: int
    jit_compile: bool
    mixed_precision: bool
    learning_rates: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def evaluate(self, images: Any, labels: Any, batch_size: int = 500) -> float:
        """Accuracy on ``images`` and ``labels`` (a fraction)."""
        data = pipeline(images, labels, batch_size, training=False)
        return float(self.model.evaluate(data, verbose=0, return_dict=True)["accuracy"])


def train(images: Any, labels: Any, validation: tuple[Any, Any] | None = None, recipe: Recipe = Recipe(), *,
          seed: int = 0, callbacks: list[Any] | None = None, verbose: int = 0) -> Trained:
    """Build, compile and fit the recipe's network; ``seconds`` is the wall time of ``model.fit`` alone.

    That time includes tracing the training step (and XLA compiling it where on) and the first epoch's filling
    of the cache, as for any Keras ``fit``; validation, when given, runs after every epoch.
    """
    import keras

    keras.utils.set_random_seed(seed)
    mixed, jit = _resolve(recipe.mixed_precision), _resolve(recipe.jit_compile)
    model = build_model(recipe, mixed_precision=mixed)
    total_steps = steps_per_epoch(len(labels), recipe.batch_size) * recipe.epochs
    schedule = learning_rate_schedule(total_steps, recipe)
    optimizer = keras.optimizers.Adam(schedule)
    if mixed:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # float16 gradients would underflow
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit)
    data = pipeline(images, labels, recipe.batch_size, training=True, augment=recipe.augment, seed=seed)
    checking = None if validation is None else pipeline(*validation, 500, training=False)
    start, cpu_start = time.perf_counter(), time.process_time()
    history = model.fit(data, epochs=recipe.epochs, validation_data=checking, verbose=verbose,
                        callbacks=callbacks or [], shuffle=False)  # the pipeline shuffles
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return Trained(model=model, history=history, seconds=seconds, cpu_seconds=cpu_seconds, recipe=recipe,
                   total_steps=total_steps,
                   jit_compile=jit, mixed_precision=mixed, learning_rates=learning_rates(schedule, total_steps))
