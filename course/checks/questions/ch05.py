"""Chapter 05 (neural networks): XOR, parameter counts, the sigmoid's slope, LeCun initialization, dropout,
and the notebook's own fits (noisy sine, take-off distance)."""

from __future__ import annotations

from typing import Any

import numpy as np

from course.checks.authoring import Wrong, close, expect_array, expect_number, reject_slips
from course.checks.catalog import RESULT, question

# Known slips are matched within 0.1 % of the slip (purely relative: several targets are far below 1).
_REL = 1e-3


@question(
    "05.xor",
    title="Predictions of the hidden-layer network on the four XOR inputs",
    hint="Round the network's outputs for (0,0), (0,1), (1,0), (1,1) to 0 or 1: XOR is 0, 1, 1, 0.",
    kind=RESULT,
)
def xor(answer: Any) -> str:
    array = expect_array(answer, name="the XOR predictions").astype(np.float64).reshape(-1)
    if array.size != 4:
        raise Wrong(f"Got {array.size} predictions; expected 4, one per input.",
                    hint="Predict on all four inputs (0,0), (0,1), (1,0), (1,1).")
    if np.allclose(array, 0.5, atol=0.1) or len(set(array.tolist())) == 1:
        raise Wrong("Every input gets the same answer: the network learned nothing.",
                    hint="A straight line cannot split XOR: use a hidden layer with a non-linear activation.")
    if np.all((array > 0) & (array < 1)) and not np.all(np.isin(array, (0.0, 1.0))):
        raise Wrong("These are probabilities, not classes.", hint="Round them: (p > 0.5).astype(int).")
    expect_array(array, [0, 1, 1, 0], tol=0, name="the XOR predictions")
    return "Right: a hidden layer with a non-linear activation bends the boundary around XOR."


@question(
    "05.param_count",
    title="Trainable numbers in the 1-5-3-1 network",
    hint="A dense layer from n to k units has n·k weights and k biases; add the three layers.",
)
def param_count(answer: Any) -> str:
    value = expect_number(answer, 32, tol=1e12, name="the parameter count")
    reject_slips(value, [
        (23, "23 counts the weights only.", "Add one bias per unit: 5 + 3 + 1 = 9."),
        (10, "10 adds up the units.", "Count the connections: 1·5 + 5·3 + 3·1 weights, plus the biases."),
        (31, "31 leaves out a bias: the output unit has one too.", "One bias per unit: 5 + 3 + 1 = 9 biases."),
    ])
    expect_number(value, 32, tol=0, name="the parameter count")
    return "Right: (1·5 + 5) + (5·3 + 3) + (3·1 + 1) = 32, what model.count_params() reports."


@question(
    "05.sigmoid_slope",
    title="The largest slope of the sigmoid, max σ'(z)",
    hint="σ'(z) = σ(z)·(1 − σ(z)); it is largest at z = 0, where σ(0) = 0.5.",
)
def sigmoid_slope(answer: Any) -> str:
    value = expect_number(answer, 0.25, tol=1e12, name="max σ'(z)")
    reject_slips(value, [
        (0.5, "0.5 is σ(0), the value, not the slope.", "The slope is σ(0)·(1 − σ(0))."),
        (1.0, "1 is ReLU's slope for z > 0 (or tanh's at 0), not the sigmoid's.", "Use σ'(z) = σ(z)·(1 − σ(z))."),
        (0.0, "0 is where the slope is largest (z = 0), not how large it is there.",
         "Evaluate σ'(0) = σ(0)·(1 − σ(0)) with σ(0) = 0.5."),
    ], rel=_REL)
    expect_number(value, 0.25, tol=1e-3, name="max σ'(z)")
    return "Right: at most 0.25, so each sigmoid layer shrinks the gradient at least 4 times."


@question(
    "05.vanishing_factor",
    title="The most the sigmoid slopes can pass back through 10 layers, 0.25^10",
    hint="Backpropagation multiplies one σ' per layer; each is at most 0.25.",
)
def vanishing_factor(answer: Any) -> str:
    expected = 0.25**10
    value = expect_number(answer, expected, tol=1e12, name="the factor")
    reject_slips(value, [
        (0.25 * 10, "2.5 multiplies 0.25 by 10.", "The factors multiply: 0.25 ** 10."),
        (0.25**9, "Off by one layer.", "Ten layers, ten factors: 0.25 ** 10."),
        (0.25**11, "Off by one layer.", "Ten layers, ten factors: 0.25 ** 10."),
        (0.5**10, "0.5 ** 10 multiplies the sigmoid's value at 0, not its slope.",
         "The largest slope is 0.25: 0.25 ** 10."),
        (4.0**10, "4 ** 10 is how many times smaller the gradient gets; the factor it is multiplied by is the inverse.",
         "Multiply the ten slopes: 0.25 ** 10."),
    ], rel=_REL)
    expect_number(value, expected, tol=0, rel=1e-3, name="the factor")
    return f"Right: about {expected:.2g}: the first layers of a deep sigmoid network hardly learn."


@question(
    "05.lecun_std",
    title="The LeCun normal standard deviation for a layer with 784 inputs",
    hint="LeCun initialization draws weights with variance 1 / fan_in, so std = sqrt(1 / fan_in).",
)
def lecun_std(answer: Any) -> str:
    expected = float(np.sqrt(1 / 784))
    value = expect_number(answer, expected, tol=1e12, name="the standard deviation")
    glorot = ("That is Glorot (Xavier) initialization, which averages fan_in and fan_out.", "LeCun uses fan_in only.")
    reject_slips(value, [
        (1 / 784, "1/784 is the variance.", "Take the square root: std = sqrt(1 / fan_in)."),
        (float(np.sqrt(2 / 784)), "sqrt(2/784) is He initialization (for ReLU).",
         "LeCun uses 1 / fan_in, without the 2."),
        *[(float(np.sqrt(2 / (784 + fan_out))), *glorot) for fan_out in (10, 100, 128, 256, 512)],
        (float(np.sqrt(1 / 784) / 0.87962566103423978),
         "That is the stddev Keras gives its truncated normal before cutting it at two standard deviations; the cut "
         "brings the weights' own spread back to sqrt(1 / fan_in).",
         "Give the standard deviation of the weights themselves: sqrt(1 / fan_in)."),
    ], rel=_REL)
    if close(value, expected, rel=1e-3) and not close(value, expected, rel=1e-4):
        raise Wrong(f"{value:.6g} is close to the exact value, but not it: it looks rounded, or measured from "
                    "random weights (section 6 prints such a measurement).",
                    hint="Compute it from the formula, without rounding: std = sqrt(1 / fan_in).")
    expect_number(value, expected, tol=0, rel=1e-4, name="the standard deviation")
    return "Right: 1/28 ≈ 0.0357, so a sum of 784 weighted inputs keeps a variance near 1."


@question(
    "05.dropout_scale",
    title="The factor Keras multiplies kept units by during training with Dropout(0.5)",
    hint="Inverted dropout scales the kept units up by 1 / (1 − rate) during training, "
    "so nothing changes at test time.",
)
def dropout_scale(answer: Any) -> str:
    value = expect_number(answer, 2.0, tol=1e12, name="the scale")
    reject_slips(value, [
        (0.5, "0.5 is the rate (the share dropped), or the test-time scale of the original paper.",
         "Keras scales the kept units up during training: 1 / (1 − 0.5)."),
        (1.0, "1 is what happens at test time (training=False).",
         "During training the kept units are scaled by 1 / (1 − rate)."),
    ], rel=_REL)
    expect_number(value, 2.0, tol=1e-6, name="the scale")
    return "Right: kept units are doubled during training, so the expected sum matches the test-time network."


@question(
    "05.sine_fit",
    title="Test MSE of the 1-5-3-1 network and of the straight line on the noisy sine",
    hint="Pass (network MSE, line MSE); the noise alone has variance 0.01, a straight line cannot follow the sine.",
    kind=RESULT,
)
def sine_fit(answer: Any) -> str:
    array = expect_array(answer, shape=(2,), name="(network MSE, line MSE)").astype(np.float64)
    net, line = float(array[0]), float(array[1])
    if min(net, line) < 0:
        raise Wrong("A mean squared error cannot be negative.")
    if net > line:
        raise Wrong(f"The network (MSE {net:.4f}) is worse than the line ({line:.4f}).",
                    hint="Pass (network, line) in that order; "
                         "if it is right, train the network longer or with a larger learning rate.")
    if line < 0.1:
        raise Wrong(f"A line MSE of {line:.4f} is too good for a straight line on a full sine period.",
                    hint="Is the second value the line's MSE?")
    if net > 0.05:
        raise Wrong(f"The network's MSE {net:.4f} is still far above the noise level 0.01.",
                    hint="Train for more epochs, and keep the input scaled to [-1, 1) (the chapter's scale(x)): "
                         "with it, Adam(0.1) reaches the noise level in 20 epochs.")
    return f"The network fits the curve (MSE {net:.4f}, near the noise 0.01); the line cannot ({line:.4f})."


@question(
    "05.takeoff_mae",
    title="Mean absolute error of the take-off model on the test set, in metres",
    hint="np.mean(np.abs(predicted - true)) over the test set, in metres (not normalized units).",
    kind=RESULT,
)
def takeoff_mae(answer: Any) -> str:
    value = expect_number(answer, 15.0, tol=1e12, name="the mean absolute error")
    if value < 0:
        raise Wrong("An absolute error cannot be negative.", hint="Take np.abs before the mean.")
    if value < 1.0:
        raise Wrong(f"{value:.4g} m is implausibly small: it looks like normalized units.",
                    hint="Undo the target's normalization (multiply by its std, add its mean) "
                         "before comparing in metres.")
    if value > 50.0:
        raise Wrong(f"{value:.4g} m is large next to the 15 m measurement noise.",
                    hint="Normalize the inputs (speed and weight) and train for more epochs.")
    return (f"{value:.1f} m on runs of 1,500-2,300 m: close to the floor the noise sets (noise with a standard "
            "deviation of 15 m is off by 12 m on average).")
