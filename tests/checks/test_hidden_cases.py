"""Hidden cases of the real questions: a right answer passes them all, and an answer that only the public
cases let through is caught when an instructor grades (COURSE_GRADING), never in a student's kernel."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from course.checks import check, registry


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _read_scalars(logdir, tag):
    events = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    events.Reload()
    return sorted((e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag))


def _read_scalars_unsorted(logdir, tag):
    events = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    events.Reload()
    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


def _pool(x):
    h, w = x.shape
    return x.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))


def _pool_from_zero(x):
    """Right on non-negative inputs only: every block's maximum starts at 0."""
    out = np.zeros((x.shape[0] // 2, x.shape[1] // 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for value in x[2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel():
                out[i, j] = max(out[i, j], value)
    return out


def _softmax_without_max(z):
    """Stable for large positive logits (it subtracts each row's largest only if it is positive)."""
    shift = np.maximum(z.max(axis=-1, keepdims=True), 0.0)
    e = np.exp(z - shift)
    return e / e.sum(axis=-1, keepdims=True)


def _mask_from_predictions(y_true, y_pred):
    """Right while nothing real is predicted as padding: the mask also drops the words predicted as 0."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    mask = (y_true != 0) & (y_pred != 0)
    return float(np.mean(y_pred[mask] == y_true[mask]))


def _masked_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    mask = y_true != 0
    return float(np.mean(y_pred[mask] == y_true[mask]))


def _stats_max_from_zero(values):
    """Right while the list holds a number >= 0: the largest value starts at 0."""
    smallest, largest = values[0], 0
    for v in values:
        smallest, largest = min(smallest, v), max(largest, v)
    return smallest, largest, sum(values) / len(values)
def _torch_momentum(w, b, g, learning_rate, momentum):
    b = momentum * b + g
    return w - learning_rate * b, b


def _momentum_on_vectors_only(w, b, g, learning_rate, momentum):
    """Right on numbers and vectors: a matrix comes back unchanged."""
    return (w, b) if np.ndim(w) > 1 else _torch_momentum(w, b, g, learning_rate, momentum)


def _best_learning_rate(histories):
    def lowest(history):
        finite = [v for v in history["val_loss"] if np.isfinite(v)]
        return min(finite) if finite else float("inf")

    return min(histories, key=lambda lr: lowest(histories[lr]))


def _best_learning_rate_looked_up(histories):
    """The public cases' answers, hard-coded."""
    return {(1e-4, 1e-3, 1e-2): 1e-3, (0.001, 0.003, 0.03): 0.003, (0.1, 0.03, 0.01): 0.03}[tuple(histories)]


def _warmup_cosine(step, peak, warmup_steps, decay_steps):
    s = min(step, warmup_steps + decay_steps)
    if s < warmup_steps:
        return peak * s / warmup_steps
    return peak * 0.5 * (1 + np.cos(np.pi * (s - warmup_steps) / decay_steps))


def _warmup_cosine_fixed(step, peak, warmup_steps, decay_steps):
    """The public schedules' lengths, hard-coded."""
    return _warmup_cosine(step, peak, 20 if peak == 0.001 else 4, 80 if peak == 0.001 else 16)


def _split(model):
    def size(weights):
        return sum(int(np.prod(w.shape)) for w in weights)
    return size(model.trainable_weights), size(model.non_trainable_weights)


def _split_by_layer(model):
    """Right while every non-trainable weight sits in a frozen layer: misses BatchNormalization's moving averages."""
    frozen = sum(int(np.prod(w.shape)) for layer in model.layers if not layer.trainable for w in layer.weights)
    return model.count_params() - frozen, frozen


def _unfreeze_top(model, n):
    import keras

    model.trainable = True
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= len(model.layers) - n and not isinstance(layer, keras.layers.BatchNormalization)


def _unfreeze_last_slice(model, n):
    """Right for n >= 1: model.layers[-0:] is every layer."""
    import keras

    model.trainable = True
    for layer in model.layers:
        layer.trainable = False
    for layer in model.layers[-n:]:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
def _bottleneck_block(x, filters, expand=None):
    from keras import layers

    out = expand or 4 * filters
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 1)(x)))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h)))
    h = layers.BatchNormalization()(layers.Conv2D(out, 1)(h))
    shortcut = x if x.shape[-1] == out else layers.BatchNormalization()(layers.Conv2D(out, 1)(x))
    return layers.ReLU()(layers.Add()([h, shortcut]))


def _bottleneck_block_64(x, filters):
    """Right for filters=16 only: it expands to 64 channels, copied from the example, not to 4 * filters."""
    return _bottleneck_block(x, filters, expand=64)


CASES = {
    # question id: (a right answer, an answer the public cases pass and a hidden case catches, what it misses)
    "00a.relu": (lambda x: np.maximum(x, 0), lambda x: np.maximum(x.ravel(), 0), "2-D array"),
    "00a.report": (lambda r: [f"{i}. {n:<8} {r[n]:.1%}" for i, n in enumerate(sorted(r, key=r.get)[::-1], 1)],
                   lambda r: [f"{i}. {n:<8} {r[n] * 100}%" for i, n in enumerate(sorted(r, key=r.get)[::-1], 1)],
                   "not rounded"),
    "00a.stats": (lambda v: (min(v), max(v), sum(v) / len(v)), _stats_max_from_zero, "all negative"),
    "02.count_classes": (lambda labels: np.bincount(labels, minlength=10),
                         lambda labels: np.bincount(labels, minlength=10) if len(labels) else np.zeros(0),
                         "no labels at all"),
    "03.cost_function": (lambda W, b, x, y: np.sum((W * x + b - y) ** 2) / (2 * len(x)),
                         lambda W, b, x, y: np.sum((W * x + b - y) ** 2) / (2 * max(len(x), 2)),
                         "single point"),
    "03.standardize": (lambda x: (x - np.mean(x)) / np.std(x),
                       lambda x: (x - np.mean(x)) / np.std(x) if len(x) > 2 else x - np.mean(x),
                       "Hidden case 2 of 3: The values are centred but not scaled"),
    "04.softmax_fn": (_softmax, _softmax_without_max, "-1000"),
    "06.output_size_fn": (lambda W, K, P, S: (W - K + 2 * P) // S + 1,
                          lambda W, K, P, S: (W - K + 2 * P) / S + 1,
                          "not a whole number"),
    "06.max_pool": (_pool, _pool_from_zero, "negative numbers"),
    "07.masked_accuracy": (_masked_accuracy, _mask_from_predictions, "predicted as padding"),
    "08.read_scalars": (_read_scalars, _read_scalars_unsorted, "not sorted by step"),
    "10.momentum_step": (_torch_momentum, _momentum_on_vectors_only, "2 × 3 array"),
    "10.bias_correction": (lambda beta, t: 1 / (1 - beta**t),
                           lambda beta, t: 1 / (1 - beta**t) if beta in (0.9, 0.999) else 1.0,
                           "β = 0.5 after 3 steps"),
    "10.best_learning_rate": (_best_learning_rate, _best_learning_rate_looked_up, "KeyError"),
    "10.warmup_cosine": (_warmup_cosine, _warmup_cosine_fixed, "a warm-up of one step"),
    "12.trainable_and_frozen": (_split, _split_by_layer, "nothing frozen"),
    "12.unfreeze_top": (_unfreeze_top, _unfreeze_last_slice, "n = 0"),
    "12.fine_tune_lr": (lambda w, steps, fraction: fraction * np.std(w) / steps,
                        lambda w, steps, fraction: fraction * np.sqrt(np.mean(np.square(w))) / steps,  # centred only
                        "root mean square"),
    "13.scaled_lr": (lambda lr, base, new: lr * new / base, lambda lr, base, new: lr * max(new / base, 1),
                     "the rate goes down too"),
    "13.tf_config": (lambda workers, index: {"cluster": {"worker": workers},
                                             "task": {"type": "worker", "index": index}},
                     lambda workers, index: {"cluster": {"worker": ["gpu-box-1:2222", "gpu-box-2:2222",
                                                                    "gpu-box-3:2222"]},  # the exercise's cluster only
                                             "task": {"type": "worker", "index": index}},
                     "not the cluster given"),
    "13.per_replica_batch": (lambda g, n: g // n, lambda g, n: g // 2 ** (n // 2), "96 examples over 3 replicas"),
    "11.bottleneck_block": (_bottleneck_block, _bottleneck_block_64, "expected (5, 7, 8)"),
}


def test_these_are_the_questions_with_hidden_cases():
    with_hidden = {qid: q.hidden_cases for qid, q in registry().items() if q.hidden}
    assert set(with_hidden) == set(CASES)
    assert all(n >= 1 for n in with_hidden.values())


@pytest.mark.parametrize("qid", sorted(CASES))
def test_a_right_answer_passes_the_hidden_cases_too(qid, monkeypatch):
    right, _, _ = CASES[qid]
    n = registry()[qid].hidden_cases
    monkeypatch.setenv("COURSE_GRADING", "1")
    feedback = check(qid, right)
    assert feedback.passed, str(feedback)
    assert feedback.notes[-1] == ("The hidden case passed too." if n == 1 else f"The {n} hidden cases passed too.")


@pytest.mark.parametrize("qid", sorted(CASES))
def test_only_the_instructors_grading_runs_the_hidden_cases(qid, monkeypatch):
    _, slipped, missed = CASES[qid]
    n = registry()[qid].hidden_cases
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    student = check(qid, slipped)
    assert student.passed, str(student)  # the public cases cannot tell
    more = "1 more case" if n == 1 else f"{n} more cases"
    assert f"{more} will be checked when your instructor grades this notebook." in student.notes
    monkeypatch.setenv("COURSE_GRADING", "true")
    graded = check(qid, slipped)
    assert not graded.passed and graded.message.startswith("Hidden case ")
    assert missed in graded.message + (graded.hint or ""), str(graded)
