"""Chapter 12 (transfer learning): trainable and frozen parameters, unfreezing the top layers, the fine-tuning
learning rate, and the notebook's own table (from scratch, feature extraction, fine-tuning at 100 and 1,000
labels), which the last exercise reads."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from course.checks.authoring import Wrong, call_student, expect_number, expect_whole_number
from course.checks.catalog import RESULT, question

METHODS = ("from scratch", "feature extraction", "fine-tuning")
LABELS = (100, 1000)
_RUN: dict[str, dict[int, float]] = {}  # this kernel's table, set when the chapter checks 12.transfer_table
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


def _size(weights: list) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


# --- 1. trainable and frozen parameters ----------------------------------------------------------------------


def _split_case(answer: Any, model: Any, what: str) -> None:
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


def _hidden_split(build: Any, what: str) -> Any:
    def hidden_case(answer: Any) -> None:
        _split_case(answer, build(), what)
    return hidden_case


@question(
    "12.trainable_and_frozen",
    title="A function trainable_and_frozen(model) returning (trainable, frozen) parameter counts",
    hint="Sum int(np.prod(w.shape)) over model.trainable_weights, then over model.non_trainable_weights.",
    hidden=[_hidden_split(lambda: _conv_model(0), "a CNN with nothing frozen (BatchNormalization still has "
                                                  "frozen moving averages)"),
            _hidden_split(lambda: _conv_model(3), "a CNN with its first block frozen")],
)
def trainable_and_frozen(answer: Any) -> str:
    _split_case(answer, _frozen_base_model(), "a model with a frozen base")
    return "Right: a frozen base's weights and every BatchNormalization's moving averages are non-trainable."


# --- 2. unfreezing the top layers ----------------------------------------------------------------------------


def _unfreeze_case(answer: Any, model: Any, n: int, what: str) -> None:
    keras = _keras()
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


def _hidden_unfreeze(n: int, what: str) -> Any:
    def hidden_case(answer: Any) -> None:
        _unfreeze_case(answer, _conv_model(0), n, what)
    return hidden_case


@question(
    "12.unfreeze_top",
    title="A function unfreeze_top(model, n): the last n layers trainable (not BatchNormalization), the rest frozen",
    hint="model.trainable = True; then for each layer: trainable = it is among the last n and not BatchNormalization.",
    hidden=[_hidden_unfreeze(0, "n = 0 (nothing unfrozen)"), _hidden_unfreeze(7, "n = 7 (every layer)"),
            _hidden_unfreeze(1, "n = 1 (the last layer only)")],
)
def unfreeze_top(answer: Any) -> str:
    _unfreeze_case(answer, _conv_model(0), 3, "a 7-layer CNN with n = 3")
    _unfreeze_case(answer, _conv_model(0), 5, "a 7-layer CNN with n = 5")
    return "Right: the top layers train, BatchNormalization and the lower layers keep their pretrained weights."


# --- 3. the fine-tuning learning rate ------------------------------------------------------------------------


@question(
    "12.fine_tune_lr",
    title="A learning rate for fine-tuning, when training from scratch used Adam at 1e-2",
    hint="Fine-tune at about a tenth (down to a thousandth) of the training learning rate.",
)
def fine_tune_lr(answer: Any) -> str:
    value = expect_number(answer, 1e-3, tol=1e12, name="the learning rate")
    if value <= 0:
        raise Wrong("A learning rate must be positive.")
    if value >= 1e-2:
        raise Wrong(f"{value:g} is as large as (or larger than) the rate for training from scratch.",
                    hint="Large steps destroy the pretrained features in the first updates: go about ten times lower.")
    if value > 3e-3:
        raise Wrong(f"{value:g} is only a little below 1e-2.", hint="Go about ten times lower than training.")
    if value < 1e-6:
        raise Wrong(f"{value:g} is so small that the few fine-tuning steps change almost nothing.",
                    hint="About ten to a thousand times lower than training, not a million.")
    return f"Reasonable: {value:g} is {1e-2 / value:,.0f} times lower than training; the chapter uses 1e-3."


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
    transfer = max(table["feature extraction"][100], table["fine-tuning"][100])
    scratch = table["from scratch"][100]
    if transfer <= scratch:
        raise Wrong(f"With 100 labels the pretrained base ({transfer:.3f}) does not beat training from scratch "
                    f"({scratch:.3f}).",
                    hint="Pretrain longer (PRETRAIN_EPOCHS) or give the head more steps (STEPS).")
    _RUN.clear()
    _RUN.update(table)
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
