"""The chapter-06 CNN race: the Keras `mnist_convnet` example, the chapter's classic network and the course's
modern recipe (`course.cnn`), trained in one process on the same 8,000 MNIST digits and tested on the same 2,000.

    .venv/bin/python benchmarks/cnn_race.py [--seed 0] [--repeats 1] [--epochs 5]

- keras: the example as published (conv 32 3x3 relu, max pool 2, conv 64 3x3 relu, max pool 2, flatten,
  dropout 0.5, dense 10 softmax; Adam, categorical cross-entropy, batch 128, validation_split=0.1), 5 epochs
  instead of its 15.
- classic: the network chapter 06 builds, read from notebooks/06_cnn.ipynb (full-mode sizes, Adam 1e-3, batch 50).
- course: `course.cnn.train` with `course.cnn.Recipe()`, the recipe of the chapter's section "A modern recipe".

All three train on the first 7,200 digits and validate after every epoch on the last 800 (exactly what the
Keras example's validation_split=0.1 does; the other two get those 800 as validation data).

What is timed, the same for all three: the wall time of `model.fit` alone. It includes tracing the training
step (and XLA compiling it, where a recipe turns XLA on), the input pipeline, every epoch's validation. It does
not include loading the data, building and compiling the model, or the test evaluation. Before the race the
process runs one untimed convolution step so that TensorFlow's own start-up is paid by none of the three; no
model is warmed up otherwise. With --repeats R the three run R rounds, in an order rotated every round, and the
figures are medians. CPU seconds (the process's, all threads) are shown beside: on a shared machine they vary
less than the wall time.

Prints a table, then one line:
    RESULT cnn_race course_acc=0.XXXX course_s=X.X keras_acc=... keras_s=... classic_acc=... classic_s=...
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402
from chapter06 import classic_network, mnist_subset  # noqa: E402

NAMES = ("course", "keras", "classic")
VALIDATION = 0.1


@dataclass
class Run:
    """One model's fit in one round."""

    name: str
    accuracy: float
    seconds: float
    cpu_seconds: float
    images: int  # training images seen by fit (epochs x training digits)
    params: int
    batch: int


def keras_example():
    """The Keras example `mnist_convnet`, layer for layer."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def _timed_fit(model, *args, **kwargs) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(*args, verbose=0, **kwargs)
    return time.perf_counter() - start, time.process_time() - cpu


def run_keras(data, epochs: int, seed: int) -> Run:
    import keras

    x, y, x_test, y_test = data
    keras.utils.set_random_seed(seed)
    model = keras_example()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    seconds, cpu = _timed_fit(model, x, keras.utils.to_categorical(y, 10), batch_size=128, epochs=epochs,
                              validation_split=VALIDATION)
    accuracy = model.evaluate(x_test, keras.utils.to_categorical(y_test, 10), batch_size=500, verbose=0)[1]
    return Run("keras", float(accuracy), seconds, cpu, _trained_on(x) * epochs, model.count_params(), 128)


def run_classic(data, epochs: int, seed: int) -> Run:
    import keras

    x, y, x_test, y_test = data
    n = _trained_on(x)
    classic = classic_network()
    keras.utils.set_random_seed(seed)
    model = classic.compiled()
    seconds, cpu = _timed_fit(model, x[:n], y[:n], batch_size=classic.batch_size, epochs=epochs,
                              validation_data=(x[n:], y[n:]))
    accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)[1]
    return Run("classic", float(accuracy), seconds, cpu, n * epochs, model.count_params(), classic.batch_size)


def run_course(data, epochs: int, seed: int) -> Run:
    from course.cnn import Recipe, train

    x, y, x_test, y_test = data
    n = _trained_on(x)
    recipe = Recipe().with_changes(epochs=epochs)
    trained = train(x[:n], y[:n], validation=(x[n:], y[n:]), recipe=recipe, seed=seed)
    return Run("course", trained.evaluate(x_test, y_test), trained.seconds, trained.cpu_seconds, n * epochs,
               trained.model.count_params(), recipe.batch_size)


RUNNERS = {"course": run_course, "keras": run_keras, "classic": run_classic}


def _trained_on(x) -> int:
    """Digits fit trains on: what validation_split=0.1 leaves (Keras takes the last 10% for validation)."""
    return int(len(x) * (1 - VALIDATION))


def warm_up_tensorflow() -> None:
    """One untimed convolution step, so that no model of the race pays TensorFlow's start-up."""
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((8, 28, 28, 1), np.float32), np.zeros((8, 10), np.float32), verbose=0)


def device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({', '.join(g.name for g in gpus)})" if gpus else f"CPU only ({os.cpu_count()} cores visible)"


def median_of(runs: list[Run], name: str, attribute: str) -> float:
    return statistics.median(getattr(r, attribute) for r in runs if r.name == name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of round 1 (round r uses seed + r - 1)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of all three (medians reported)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs for all three (the race: 5)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.epochs < 1:
        parser.error("--repeats and --epochs must be at least 1")

    data = mnist_subset()
    print(f"data: {len(data[1]):,} training digits ({_trained_on(data[0]):,} trained on, the rest validates), "
          f"{len(data[3]):,} test digits; {args.epochs} epochs; device: {device()}", flush=True)
    warm_up_tensorflow()
    runs: list[Run] = []
    header = f"{'round':>5}  {'model':<8} {'params':>8} {'batch':>5} {'test acc':>8} {'fit s':>7} {'cpu s':>7} " \
             f"{'images/s':>8}"
    print(header)
    for round_index in range(args.repeats):
        order = NAMES[round_index % 3:] + NAMES[:round_index % 3]
        for name in order:
            run = RUNNERS[name](data, args.epochs, args.seed + round_index)
            runs.append(run)
            print(f"{round_index + 1:>5}  {run.name:<8} {run.params:>8,} {run.batch:>5} {run.accuracy:>8.4f} "
                  f"{run.seconds:>7.1f} {run.cpu_seconds:>7.1f} {run.images / run.seconds:>8,.0f}", flush=True)
    if args.repeats > 1:
        rounds = [[r for r in runs if r.name == n] for n in NAMES]
        course, keras_, classic = rounds
        wins = sum(c.accuracy > max(k.accuracy, s.accuracy) for c, k, s in zip(course, keras_, classic))
        faster = sum(c.seconds <= k.seconds for c, k in zip(course, keras_))
        print(f"course more accurate than both in {wins} of {args.repeats} rounds; "
              f"no slower than keras in {faster} of {args.repeats}")
    figures = " ".join(f"{n}_acc={median_of(runs, n, 'accuracy'):.4f} {n}_s={median_of(runs, n, 'seconds'):.1f}"
                       for n in NAMES)
    print(f"RESULT cnn_race {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
