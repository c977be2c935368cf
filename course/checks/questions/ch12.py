"""Chapter 12 (transfer learning): trainable and frozen parameters, unfreezing the top layers, the largest
fine-tuning learning rate that Adam's step bound allows, and the notebook's own table (from scratch, feature
extraction, fine-tuning at 100 and 1,000 labels), which the last exercise reads."""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import numpy as np

from course.checks.authoring import (
    Wrong,
    call_student,
    close,
    expect_number,
    expect_whole_number,
    hidden_case,
    reject_slips,
)
from course.checks.catalog import RESULT, question

METHODS = ("from scratch", "feature extraction", "fine-tuning")
LABELS = (100, 1000)
_RUN: dict[str, dict[int, float]] = {}  # this kernel's table, recorded whenever the chapter checks 12.transfer_table
_TIE = 0.005  # accuracies this close count as a tie for the winner


def _keras() -> Any:
    keras = sys.modules.get("keras")
    if keras is None:
        import keras
    return keras


# --- models the graders build (small, fresh for every call) --------------------------------------------------


def _frozen_base_model() -> Any:
    """A frozen base (Dense, BatchNormalization, Dense) under a new trainable head: the chapter's shape."""
    keras = _keras()
    layers = keras.layers
    base = keras.Sequential([keras.Input((6,)), layers.Dense(5), layers.BatchNormalization(), layers.Dense(4)],
                            name="hidden_base")
    base.trainable = False
    return keras.Sequential([keras.Input((6,)), base, layers.Dense(3)], name="hidden_model")


def _conv_model(frozen_first: int) -> Any:
    """A small CNN whose first ``frozen_first`` layers are frozen."""
    keras = _keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(4, 3), layers.BatchNormalization(), layers.ReLU(),
        layers.Conv2D(6, 3), layers.BatchNormalization(), layers.Flatten(), layers.Dense(2),
    ], name="hidden_cnn")
    for layer in model.layers[:frozen_first]:
        layer.trainable = False
    return model


def _unfrozen_cnn() -> Any:
    return _conv_model(0)


def _size(weights: list) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


# --- 1. trainable and frozen parameters ----------------------------------------------------------------------


def _split_case(answer: Any, build: Any, what: str) -> None:
    model = build()  # a fresh model for every call
    trainable, frozen = _size(model.trainable_weights), _size(model.non_trainable_weights)
    result = call_student(answer, model, name="trainable_and_frozen", timeout=30)
    if result is None:
        raise Wrong("trainable_and_frozen(model) returned None.", hint="End it with return trainable, frozen.")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Wrong(f"trainable_and_frozen(model) returned {type(result).__name__}, not a pair.",
                    hint="Return two whole numbers: return trainable, frozen.")
    got = tuple(expect_whole_number(v, name="each count") for v in result)
    if got == (trainable, frozen):
        return
    total = trainable + frozen
    if got == (frozen, trainable):
        raise Wrong(f"On {what} the two counts are swapped.", hint="Return the trainable count first.")
    if got in ((total, 0), (0, total)) or total in got:
        raise Wrong(f"On {what} one count is the model's total, {total:,}.",
                    hint="Split it: model.trainable_weights against model.non_trainable_weights "
                         "(BatchNormalization's moving averages are non-trainable even in a trainable layer).")
    tensors = (len(model.trainable_weights), len(model.non_trainable_weights))
    if got == tensors:
        raise Wrong(f"On {what} you counted weight tensors ({tensors}), not the numbers in them.",
                    hint="Add up the sizes of the tensors: int(np.prod(w.shape)) for each w.")
    raise Wrong(f"On {what} you returned {got}; the model has {trainable:,} trainable and {frozen:,} frozen "
                "parameters.",
                hint="A frozen (trainable=False) layer's weights and BatchNormalization's moving averages are "
                     "non-trainable; count model.trainable_weights and model.non_trainable_weights.")


@question(
    "12.trainable_and_frozen",
    title="A function trainable_and_frozen(model) returning (trainable, frozen) parameter counts",
    hint="Sum int(np.prod(w.shape)) over model.trainable_weights, then over model.non_trainable_weights.",
    hidden=[hidden_case(_split_case, partial(_conv_model, 0),
                        "a CNN with nothing frozen (BatchNormalization still has frozen moving averages)"),
            hidden_case(_split_case, partial(_conv_model, 3), "a CNN with its first block frozen")],
)
def trainable_and_frozen(answer: Any) -> str:
    _split_case(answer, _frozen_base_model, "a model with a frozen base")
    return "Right: a frozen base's weights and every BatchNormalization's moving averages are non-trainable."


# --- 2. unfreezing the top layers ----------------------------------------------------------------------------


def _unfreeze_case(answer: Any, build: Any, n: int, what: str) -> None:
    keras = _keras()
    model = build()  # a fresh model for every call
    model.trainable = False  # start from a frozen base, as in the chapter
    call_student(answer, model, n, name="unfreeze_top", timeout=30)
    layers = model.layers
    expected = [i >= len(layers) - n and not isinstance(layer, keras.layers.BatchNormalization)
                for i, layer in enumerate(layers)]
    got = [bool(layer.trainable) for layer in layers]
    if got == expected and (n == 0 or model.trainable):
        return
    if not model.trainable and any(expected):
        raise Wrong(f"On {what} the model itself is still frozen (model.trainable is False), so nothing trains.",
                    hint="Set model.trainable = True first, then freeze the layers you keep fixed.")
    bn = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.BatchNormalization)]
    if all(g == e for i, (g, e) in enumerate(zip(got, expected)) if i not in bn):
        raise Wrong(f"On {what} a BatchNormalization layer is trainable.",
                    hint="Keep BatchNormalization frozen: isinstance(layer, keras.layers.BatchNormalization).")
    first = [i < n and not isinstance(layers[i], keras.layers.BatchNormalization) for i in range(len(layers))]
    if got == first and first != expected:
        raise Wrong(f"On {what} you unfroze the first {n} layers, not the last {n}.",
                    hint="The top layers are at the end: model.layers[-n:] (and careful: [-0:] is every layer).")
    names = [layer.name for layer, g in zip(layers, got) if g]
    raise Wrong(f"On {what} (n = {n}) the trainable layers are {names}.",
                hint="Freeze every layer, then make the last n trainable, except BatchNormalization.")


@question(
    "12.unfreeze_top",
    title="A function unfreeze_top(model, n): the last n layers trainable (not BatchNormalization), the rest frozen",
    hint="model.trainable = True; then for each layer: trainable = it is among the last n and not BatchNormalization.",
    hidden=[hidden_case(_unfreeze_case, _unfrozen_cnn, 0, "n = 0 (nothing unfrozen)"),
            hidden_case(_unfreeze_case, _unfrozen_cnn, 7, "n = 7 (every layer)"),
            hidden_case(_unfreeze_case, _unfrozen_cnn, 1, "n = 1 (the last layer only)")],
)
def unfreeze_top(answer: Any) -> str:
    _unfreeze_case(answer, _unfrozen_cnn, 3, "a 7-layer CNN with n = 3")
    _unfreeze_case(answer, _unfrozen_cnn, 5, "a 7-layer CNN with n = 5")
    return "Right: the top layers train, BatchNormalization and the lower layers keep their pretrained weights."


# --- 3. the largest fine-tuning learning rate Adam's step bound allows --------------------------------------


def _weights(seed: int, shape: tuple[int, ...], mean: float, std: float) -> np.ndarray:
    """Random weights whose mean is exactly ``mean`` (to float32 rounding) and whose spread is about ``std``."""
    w = np.random.default_rng(seed).normal(0.0, std, shape)
    return (w - w.mean() + mean).astype(np.float32)


def _lr_case(answer: Any, weights: np.ndarray, steps: int, fraction: float, what: str) -> None:
    value = call_student(answer, weights.copy(), steps, fraction, name="fine_tune_lr", timeout=10)
    if value is None:
        raise Wrong("fine_tune_lr(weights, steps, fraction) returned None.", hint="End it with return ....")
    got = expect_number(value, 0.0, tol=float("inf"), name=f"fine_tune_lr on {what}")
    w = weights.astype(np.float64)
    std = float(np.std(w))
    right = fraction * std / steps
    if close(got, right, rel=1e-3) or close(got, fraction * float(np.std(w, ddof=1)) / steps, rel=1e-3):
        return  # np.std(weights) or the sample standard deviation (ddof=1): both are the standard deviation
    per_step = "divide the distance by the number of steps: each step may move a weight by one learning rate"
    reject_slips(got, [
        (fraction * std, f"On {what} you returned the distance a weight may move, {got:.3g}, not a learning rate.",
         f"Adam moves a weight by about one learning rate per step: {per_step}."),
        (fraction * std * steps, f"On {what} you multiplied by the number of steps ({steps}).",
         f"More steps leave room for a smaller rate only: {per_step}."),
        (std / steps, f"On {what} the fraction ({fraction:g}) is missing.",
         "Only a fraction of the typical size may be spent: multiply by fraction."),
        (fraction * std / np.sqrt(steps), f"On {what} you divided by the square root of the steps.",
         "That is how far random ± steps drift on average; the bound is for the worst case, every step the same "
         "way: divide by steps."),
        (fraction * float(np.var(w)) / steps, f"On {what} you used the variance, the square of the typical size.",
         "The standard deviation is np.std(weights), in the units of the weights."),
        (fraction * float(np.sqrt(np.mean(w ** 2))) / steps,
         f"On {what} you used the root mean square of the weights, which includes their mean "
         f"({float(np.mean(w)):.3g} here).", "Use their spread around the mean: np.std(weights)."),
        (fraction * float(np.mean(np.abs(w))) / steps, f"On {what} you used the mean absolute value of the weights.",
         "The exercise measures the typical size by the standard deviation: np.std(weights)."),
        (fraction * float(np.max(np.abs(w))) / steps, f"On {what} you used the largest weight, not the typical one.",
         "Use np.std(weights)."),
        (fraction * float(np.mean(w)) / steps, f"On {what} you used the mean of the weights, not their spread "
         f"(their mean is {float(np.mean(w)):.3g} here).", "Use np.std(weights)."),
        (fraction * std / (steps - 1) if steps > 1 else float("nan"), f"On {what} you divided by steps − 1.",
         "Every one of the steps moves the weight: divide by steps."),
    ], tol=1e-9, rel=1e-3)
    raise Wrong(f"On {what} (standard deviation {std:.4g}) you returned {got:.4g}; the largest rate is {right:.4g}.",
                hint="steps × learning_rate may be at most fraction × np.std(weights).")


@question(
    "12.fine_tune_lr",
    title="A function fine_tune_lr(weights, steps, fraction): the largest Adam rate that moves no weight by more "
          "than fraction of their standard deviation in steps steps",
    hint="Adam moves a weight by at most about the learning rate per step: steps × rate ≤ fraction × np.std(weights).",
    hidden=[hidden_case(_lr_case, _weights(3, (64,), 1.0, 0.2), 1, 1.0,
                        "a bias vector whose mean is 1, one step, fraction 1")],
)
def fine_tune_lr(answer: Any) -> str:
    kernel = _weights(1, (3, 3, 16, 32), 0.0, 0.05)  # centred, as trained kernels nearly are
    _lr_case(answer, kernel, 200, 0.5, "a 3×3×16×32 kernel, 200 steps, fraction 0.5")
    _lr_case(answer, _weights(2, (128, 10), 0.0, 0.3), 50, 0.1, "a 128×10 matrix, 50 steps, fraction 0.1")
    return ("Right: steps × rate ≤ fraction × std. Try it on this run's kernel and compare with "
            "FINE_TUNE_LEARNING_RATE and with how far section 5's weights really moved.")


# --- the chapter's table, and which approach won -------------------------------------------------------------


@question(
    "12.transfer_table",
    title="The chapter's table: test accuracy of each approach at 100 and 1,000 labels",
    hint="Pass the results dict: {method: {100: accuracy, 1000: accuracy}} for the three methods.",
    kind=RESULT,
)
def transfer_table(answer: Any) -> str:
    if not isinstance(answer, dict) or set(answer) != set(METHODS):
        raise Wrong(f"Expected a dict with the keys {list(METHODS)}.", hint="Pass the chapter's `results`.")
    table: dict[str, dict[int, float]] = {}
    for method in METHODS:
        row = answer[method]
        if not isinstance(row, dict) or set(row) != set(LABELS):
            raise Wrong(f"results[{method!r}] should map 100 and 1000 to accuracies.")
        table[method] = {n: expect_number(row[n], 0.5, tol=1e12, name=f"{method} at {n}") for n in LABELS}
        if not all(0.0 <= a <= 1.0 for a in table[method].values()):
            raise Wrong(f"An accuracy of {method} is outside [0, 1].")
    _RUN.clear()
    _RUN.update(table)  # whatever the outcome: exercise 4 reads this run's table, whichever row won
    transfer = max(table["feature extraction"][100], table["fine-tuning"][100])
    scratch = table["from scratch"][100]
    if transfer <= scratch:
        raise Wrong(f"With 100 labels the pretrained base ({transfer:.3f}) does not beat training from scratch "
                    f"({scratch:.3f}).",
                    hint="Pretrain longer (PRETRAIN_EPOCHS) or give the head more steps (STEPS); exercise 4 "
                         "reads this table all the same.")
    return f"With 100 labels the pretrained base reaches {transfer:.3f}, from scratch {scratch:.3f}."


def _method(answer: Any) -> str:
    if not isinstance(answer, str):
        raise Wrong(f"Answer with a string, one of {', '.join(repr(m) for m in METHODS)}.")
    key = " ".join(answer.strip().lower().replace("_", " ").replace("-", " ").split())
    aliases = {"from scratch": "from scratch", "scratch": "from scratch", "feature extraction": "feature extraction",
               "frozen base": "feature extraction", "fine tuning": "fine-tuning", "finetuning": "fine-tuning",
               "fine tune": "fine-tuning"}
    if key not in aliases:
        raise Wrong(f"{answer!r} is none of the table's rows.",
                    hint=f"Answer one of {', '.join(repr(m) for m in METHODS)}.")
    return aliases[key]


@question(
    "12.winner_100_labels",
    title="The approach with the highest test accuracy at 100 labels in this run's table",
    hint="Read the 100-labels column of the table section 6 printed and name the row with the largest figure.",
)
def winner_100_labels(answer: Any) -> str:
    method = _method(answer)
    if not _RUN:
        raise Wrong("This kernel has no table yet to compare with.",
                    hint="Run section 6 (its cell prints the table and checks it), then this cell again.")
    column = {m: _RUN[m][100] for m in METHODS}
    best = max(column, key=column.get)
    if column[method] < column[best] - _TIE:
        raise Wrong(f"In this run {method!r} reached {column[method]:.3f} with 100 labels; another row is higher.",
                    hint="Compare the three figures of the 100-labels column.")
    tie = " (a near tie)" if method != best else ""
    return f"Right{tie}: {method} reached {column[method]:.3f} with 100 labels in this run."
