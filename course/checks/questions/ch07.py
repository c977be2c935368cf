"""Chapter 07 (recurrent networks): the "hello" predictor, one-hot inputs, parameter counts of RNN cells,
the masked sequence loss and accuracy, and the part-of-speech tagger's held-out accuracy."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from course.checks.authoring import (
    Wrong,
    call_student,
    close,
    expect_array,
    expect_number,
    expect_whole_number,
    hidden_case,
    reject_slips,
    to_array,
)
from course.checks.catalog import RESULT, question
from course.checks.describe import describe

# The masked-loss exercise: two padded sentences (0 = padding) and a loss per token.
LOSS_LABELS = np.array([[3, 1, 0, 0], [2, 2, 5, 0]])
TOKEN_LOSSES = np.array([[0.2, 0.4, 1.5, 1.5], [0.4, 0.6, 1.1, 1.5]])
MASKED_MEAN = 0.54          # (0.2 + 0.4 + 0.4 + 0.6 + 1.1) / 5
UNMASKED_MEAN = 0.9         # every position, padding included
PER_SENTENCE_MEAN = 0.5     # the mean of each sentence's masked mean, (0.3 + 0.7) / 2: a different average

# A per-word tagger that picks each word's most frequent tag reaches about 0.92 on the held-out sentences of
# course.datasets.pos_corpus(); a tagger that reads the context must do clearly better.
POS_ACCURACY_FLOOR = 0.95


@functools.cache
def _hello() -> Any:
    """course.datasets.hello(): characters h, e, l, o; x is "hell" one-hot (1, 4, 4), y is "ello" as indices (1, 4)."""
    from course.datasets import hello  # on first use: loading the questions stays light

    return hello()


def _count(answer: Any, name: str) -> int:
    return expect_whole_number(answer, name=name, hint="A parameter count is a whole number.")


@question(
    "07.hello_prediction",
    title='The "hello" network predicts "ello"',
    hint='Take the argmax over the 4 characters at each of the 4 steps and join the characters: "".join(...).',
    kind=RESULT,
)
def hello_prediction(answer: Any) -> str:
    if isinstance(answer, (list, tuple)) and all(isinstance(c, str) for c in answer):
        raise Wrong(f"The prediction is a {type(answer).__name__} of characters.",
                    hint='Join them into one string: "".join(chars).')
    if not isinstance(answer, str):
        array = None
        try:
            array = to_array(answer, "prediction")
        except Wrong:
            pass
        if array is not None and array.size == 4 and array.dtype.kind in "iu":
            raise Wrong(
                f"The prediction is the character indices {array.ravel().tolist()}, not the characters.",
                hint='Turn each index into its character: "".join(chars[i] for i in indices).',
            )
        raise Wrong(f'The prediction should be a string like "ello", but it is {describe(answer)}.')
    text = answer.strip()
    if text == "ello":
        return 'Given "hell", the network predicts "ello": each character is followed by the next one of "hello".'
    if text == "hell":
        raise Wrong('"hell" is the input.', hint="Decode the network's output (the next characters), not the input.")
    if text == "hello":
        raise Wrong('"hello" is the whole word; the network predicts the 4 characters that follow "h", "e", "l", "l".')
    if len(text) == 4 and text[:2] == "el":
        raise Wrong(
            f'"{text}": the network has not learned what follows the second "l" yet.',
            hint="Train longer (more steps or a larger learning rate): the two l's need different answers, "
            "which only the hidden state can tell apart.",
        )
    raise Wrong(f'"{text}" is not "ello".', hint="Train longer and check that the targets are the indices of \"ello\".")


@question(
    "07.one_hot_hell",
    title='One-hot encoding of "hell"',
    hint="With h=0, e=1, l=2, o=3, each character becomes a row of four numbers with a single 1: np.eye(4)[indices].",
)
def one_hot_hell(answer: Any) -> str:
    array = to_array(answer, "one_hot")
    if array.shape == (1, 4, 4):
        array = array[0]  # a batch of one sentence is fine
    if array.shape in ((4,), (1, 4)):
        raise Wrong(
            f"one_hot has shape {array.shape}: those look like the indices, not one-hot rows.",
            hint="np.eye(4)[[0, 1, 2, 2]] turns the indices into rows of 0s and a 1.",
        )
    expect_array(array, shape=(4, 4), name="one_hot")
    if not np.isin(array, (0, 1)).all():
        raise Wrong("one_hot should contain only 0s and 1s.")
    data = _hello()
    hell = data.x[0]
    ello = np.eye(len(data.chars))[data.y[0]]  # the target, one-hot
    if np.allclose(array, hell.T) and not np.allclose(array, hell):
        raise Wrong("one_hot is transposed.",
                    hint="One row per character (time step), one column per vocabulary entry.")
    if np.allclose(array, ello):
        raise Wrong('That is "ello", the target.', hint='Encode the input "hell".')
    expect_array(array, hell, tol=1e-6, name="one_hot")
    return "Each row has a single 1 at the character's index; the two l's are the same row."


@question(
    "07.rnn_params",
    title="Parameters of SimpleRNN(5) on 4 input features",
    hint="units × inputs (input weights) + units × units (recurrent weights) + units (biases).",
)
def rnn_params(answer: Any) -> str:
    value = _count(answer, "rnn_params")
    if value == 5 * 4 + 5 * 5 + 5:
        return "5·4 + 5·5 + 5 = 50 parameters, shared by every time step."
    hints = {
        45: "Add the biases: one per unit.",
        25: "Count the input weights (5 × 4) as well as the recurrent ones (5 × 5), and the biases.",
        20: "Count the recurrent weights (5 × 5) and the biases too.",
        200: "That is an LSTM (four gates); a simple RNN has one set of weights.",
    }
    raise Wrong(f"{value} is not the number of parameters.", hint=hints.get(value))


@question(
    "07.lstm_params",
    title="Parameters of LSTM(5) on 4 input features",
    hint="An LSTM has four gates, each with the parameters of a simple RNN: 4 × (5·4 + 5·5 + 5).",
)
def lstm_params(answer: Any) -> str:
    value = _count(answer, "lstm_params")
    if value == 4 * (5 * 4 + 5 * 5 + 5):
        return "4 × 50 = 200: an LSTM costs four times a simple RNN of the same size."
    hints = {
        50: "That is a simple RNN; an LSTM has four such sets (input, forget and output gates, and the candidate).",
        180: "Add the biases: 4 × 5 of them.",
        150: "That is three gates (a GRU, roughly); an LSTM has four.",
        165: "That is Keras's GRU (three gates, two biases each); an LSTM has four gates.",
    }
    raise Wrong(f"{value} is not the number of parameters.", hint=hints.get(value))


@question(
    "07.masked_loss",
    title="The masked mean of the token losses",
    hint="Average only over the real tokens: sum(loss * mask) / sum(mask), with mask = (labels != 0).",
)
def masked_loss(answer: Any) -> str:
    value = expect_number(answer, MASKED_MEAN, tol=float("inf"), name="masked_loss")
    if close(value, MASKED_MEAN, tol=1e-4):
        return "0.54: padding contributes nothing, and the mean is over the 5 real tokens."
    reject_slips(value, [
        (UNMASKED_MEAN, "0.9 is the mean over every position, padding included.",
         "Multiply by the mask before averaging."),
        (2.7, "2.7 is the sum over the real tokens.", "Divide by the number of real tokens (mask.sum())."),
        (2.7 / 8, "You divided the masked sum by all 8 positions.", "Divide by the number of real tokens, 5."),
        (PER_SENTENCE_MEAN, "0.5 is the mean of the two sentences' means: each sentence weighs the same, "
         "whatever its length.", "masked_loss averages over all real tokens at once: sum(loss * mask) / sum(mask)."),
    ], tol=1e-4)
    raise Wrong(f"masked_loss = {value:g} is not the masked mean.")


def _accuracy_cases() -> list[tuple[np.ndarray, np.ndarray, float, str]]:
    y = np.array([[3, 1, 2, 0, 0], [2, 2, 0, 0, 0]])
    right = y.copy()
    pads_wrong = np.array([[3, 1, 2, 4, 4], [2, 2, 4, 4, 4]])        # every real token right, padding "wrong"
    half = np.array([[3, 2, 2, 0, 0], [1, 2, 0, 0, 0]])               # 3 of 5 real tokens right
    return [
        (y, right, 1.0, "every token right"),
        (y, pads_wrong, 1.0, "every real token right, nonsense at the padding"),
        (y, half, 0.6, "3 of 5 real tokens right"),
    ]


def _accuracy_case(answer: Any, y_true: np.ndarray, y_pred: np.ndarray, expected: float, what: str) -> None:
    got = call_student(answer, y_true.copy(), y_pred.copy(), name="masked_accuracy")
    if got is None:
        raise Wrong("masked_accuracy returned None.", hint="Did you forget the `return` statement?")
    value = expect_number(got, expected, tol=float("inf"), name=f"masked_accuracy ({what})")
    if not close(value, expected, tol=1e-6):
        counted_pads = float(np.mean(y_pred == y_true))
        by_pred = y_pred != 0  # the mask taken from the predictions instead of the labels
        masked_by_pred = float(np.mean((y_pred == y_true)[by_pred])) if by_pred.any() else None
        real = y_true != 0
        per_sentence = [float(np.mean((p == t)[r])) for t, p, r in zip(y_true, y_pred, real) if r.any()]
        if close(value, counted_pads, tol=1e-6):
            hint = "Padding positions are being counted: keep only the positions where y_true != 0."
        elif close(value, expected * 100, tol=1e-4):
            hint = "Return a fraction between 0 and 1, not a percentage."
        elif close(value, float(np.sum((y_pred == y_true) & real)), tol=1e-6):
            hint = "That is the number of right words; divide by the number of real words (the mask's sum)."
        elif close(value, float(np.mean(per_sentence)), tol=1e-6):
            hint = ("That is the mean of each sentence's accuracy; count every real word once instead: "
                    "the mean of (y_pred == y_true) over all masked positions.")
        elif masked_by_pred is not None and close(value, masked_by_pred, tol=1e-6):
            hint = "Take the mask from y_true (the real words), not y_pred: a 0 predicted for a real word is wrong."
        else:
            hint = None
        raise Wrong(f"masked_accuracy gives {value:g} for {what}; expected {expected:g}.", hint=hint)


_HIDDEN_ACCURACY = [
    hidden_case(_accuracy_case, np.array([[4, 2, 2, 0]]), np.array([[4, 0, 2, 0]]), 2 / 3,
                "a real word predicted as padding (0)"),
    hidden_case(_accuracy_case, np.array([[1, 2, 3], [3, 2, 1]]), np.array([[1, 2, 3], [3, 2, 2]]), 5 / 6,
                "sentences without padding"),
    hidden_case(_accuracy_case, np.array([[5, 5, 0, 0], [6, 0, 0, 0]]), np.array([[1, 1, 0, 0], [2, 0, 0, 0]]), 0.0,
                "every real word wrong"),
]


@question(
    "07.masked_accuracy",
    title="A function masked_accuracy(y_true, y_pred) that ignores padding",
    hint="mask = y_true != 0; return the mean of (y_pred == y_true) over the masked positions only.",
    hidden=_HIDDEN_ACCURACY,
)
def masked_accuracy(answer: Any) -> str:
    for y_true, y_pred, expected, what in _accuracy_cases():
        _accuracy_case(answer, y_true, y_pred, expected, what)
    return "masked_accuracy ignores the padding."


@question(
    "07.pos_accuracy",
    title="The RNN tagger's accuracy on the held-out sentences",
    hint="Pass the token accuracy (padding excluded) of the RNN tagger on the test sentences, a fraction in [0, 1].",
    kind=RESULT,
)
def pos_accuracy(answer: Any) -> str:
    value = expect_number(answer, 0.5, tol=float("inf"), name="accuracy")
    if value > 1.0:
        raise Wrong(f"accuracy = {value:g} is above 1.", hint="Give a fraction (0.98), not a percentage (98).")
    if value < 0.0:
        raise Wrong(f"accuracy = {value:g} is negative.")
    if value < POS_ACCURACY_FLOOR:
        raise Wrong(
            f"accuracy = {value:.4f} is below {POS_ACCURACY_FLOOR}: "
            "no better than tagging each word alone (about 0.92).",
            hint="Train longer, check that the loss is masked, and that the RNN returns one output per word "
            "(return_sequences=True).",
        )
    return f"Held-out token accuracy {value:.2%}: the context resolves the ambiguous words."
