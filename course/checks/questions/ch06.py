"""Chapter 06 (convolutional networks): output sizes, a convolution by hand, a max pooling written with NumPy
only, the curve-detector response, the size of the classic network's layers, what a batch normalisation trains,
and the accuracy the classic network reached (a chapter result)."""

from __future__ import annotations

from typing import Any

import numpy as np

from course.checks.authoring import (
    NUMPY_ONLY,
    Wrong,
    call_student,
    expect_array,
    expect_number,
    expect_whole_number,
    hidden_case,
    reject_slips,
    to_array,
)
from course.checks.catalog import RESULT, question
from course.checks.describe import describe

# The classic 5x5 binary image and 3x3 filter (the "convolved feature" example of the CNN intro tutorials).
CLASSIC_IMAGE = np.array(
    [[1, 1, 1, 0, 0],
     [0, 1, 1, 1, 0],
     [0, 0, 1, 1, 1],
     [0, 0, 1, 1, 0],
     [0, 1, 1, 0, 0]]
)
CLASSIC_FILTER = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
CLASSIC_FEATURE = np.array([[4, 3, 4], [2, 4, 3], [2, 3, 4]])

# The classic 4x4 max-pooling example (2x2 window, stride 2).
POOL_INPUT = np.array([[3, 1, 0, 2], [1, 2, 1, 4], [1, 4, 6, 2], [0, 6, 8, 3]])
POOL_MAX = np.array([[3, 4], [6, 8]])
POOL_AVG = np.array([[1.75, 1.75], [2.75, 4.75]])

CURVE_RESPONSE = 6600

# Cases for a student's conv_output_size(W, K, P, S); every one divides evenly.
SIZE_CASES = [
    ((5, 3, 1, 2), 3),     # the exercise
    ((28, 5, 2, 1), 28),   # 'same' padding keeps MNIST's 28
    ((32, 5, 0, 1), 28),   # no padding shrinks by K - 1
    ((7, 3, 0, 2), 3),
    ((227, 11, 0, 4), 55),  # AlexNet's first layer
    ((7, 7, 0, 1), 1),
]
# Hidden cases, run only when an instructor grades: a ResNet stem and a stride that does not divide evenly (the
# remainder is dropped, as TensorFlow does: / gives 111.5 and 12.5, round() and math.ceil one too many), and the
# smallest input.
HIDDEN_SIZE_CASES = [
    ((224, 7, 3, 2), 112),
    ((28, 3, 0, 2), 13),
    ((1, 1, 0, 1), 1),
]


def _integer(answer: Any, name: str) -> int:
    """An answer that must be a whole number: accepts ints, integral floats and one-element arrays."""
    return expect_whole_number(
        answer, name=name,
        hint="A size counts positions, so it is a whole number. If (W - K + 2P) / S is not whole, "
        "the filter does not fit evenly: frameworks drop the remainder (use //).",
    )


@question(
    "06.output_size",
    title="Output size for W=5, K=3, P=1, S=2",
    hint="O = (W - K + 2P) / S + 1.",
)
def output_size(answer: Any) -> str:
    value = _integer(answer, "the output size")
    if value == 3:
        return "O = (5 - 3 + 2·1) / 2 + 1 = 3: a 3x3 output."
    hints = {
        2: "Did you forget the padding (2P) or the final + 1?",
        5: "Did you forget to divide by the stride S = 2?",
        4: "Check the order: first W - K + 2P, then divide by S, then add 1.",
    }
    raise Wrong(f"{value} is not the output size.",
                hint=hints.get(value, "O = (W - K + 2P) / S + 1 with W=5, K=3, P=1, S=2."))


def _size_case(answer: Any, case: tuple[int, int, int, int], expected: int) -> None:
    call = "conv_output_size({}, {}, {}, {})".format(*case)
    value = call_student(answer, *case, name="conv_output_size")
    if value is None:
        raise Wrong(f"{call} returned None.", hint="Did you forget the `return` statement?")
    value = _integer(value, call)
    if value != expected:
        raise Wrong(f"{call} returned {value}; expected {expected}.", hint="O = (W - K + 2P) // S + 1.")


@question(
    "06.output_size_fn",
    title="A function conv_output_size(W, K, P, S)",
    hint="Return (W - K + 2 * P) // S + 1.",
    hidden=[hidden_case(_size_case, case, expected) for case, expected in HIDDEN_SIZE_CASES],
)
def output_size_fn(answer: Any) -> str:
    got = []
    for (w, k, p, s), _expected in SIZE_CASES:
        call = f"conv_output_size({w}, {k}, {p}, {s})"
        value = call_student(answer, w, k, p, s, name="conv_output_size")
        if value is None:
            raise Wrong(f"{call} returned None.", hint="Did you forget the `return` statement?")
        got.append(_integer(value, call))
    for ((w, k, p, s), expected), value in zip(SIZE_CASES, got):
        if value != expected:
            # name the slip that explains every case, not just the first one that fails
            slips = {
                "The padding is missing: add 2 * P.": [(w_ - k_) // s_ + 1 for (w_, k_, p_, s_), _ in SIZE_CASES],
                "The stride is missing: divide by S.": [w_ - k_ + 2 * p_ + 1 for (w_, k_, p_, s_), _ in SIZE_CASES],
                "Add 1 at the end: the first position of the filter counts too.": [
                    (w_ - k_ + 2 * p_) // s_ for (w_, k_, p_, s_), _ in SIZE_CASES
                ],
            }
            hint = next((h for h, values in slips.items() if values == got), "O = (W - K + 2P) / S + 1.")
            raise Wrong(f"conv_output_size({w}, {k}, {p}, {s}) returned {value}; expected {expected}.", hint=hint)
    return f"conv_output_size is right on {len(SIZE_CASES)} cases (including AlexNet's 227 → 55)."


@question(
    "06.conv_by_hand",
    title="The 5x5 image convolved with the 3x3 filter",
    hint="Slide the 3x3 filter over every 3x3 patch (stride 1, no padding); multiply element by element and sum.",
)
def conv_by_hand(answer: Any) -> str:
    array = to_array(answer, "feature_map")
    if array.ndim > 2 and array.size == 9:
        array = array.reshape(3, 3)  # tf.nn.conv2d gives (1, 3, 3, 1): accept it
    if array.shape == (5, 5):
        raise Wrong(
            "feature_map has shape (5, 5): that is 'same' padding.",
            hint="Use no padding ('valid'): a 3x3 filter fits 3 times along each side of a 5x5 image.",
        )
    expect_array(array, shape=(3, 3), name="feature_map")
    if np.allclose(array, CLASSIC_FEATURE.T) and not np.allclose(array, CLASSIC_FEATURE):
        raise Wrong("feature_map is transposed.", hint="Row i, column j is the patch starting at image[i, j].")
    expect_array(array, CLASSIC_FEATURE, tol=1e-6, name="feature_map")
    return "The convolved feature is [[4, 3, 4], [2, 4, 3], [2, 3, 4]]."


@question(
    "06.curve_response",
    title="The curve detector's response on the curve",
    hint="Multiply the filter and the image patch element by element and add everything up.",
)
def curve_response(answer: Any) -> str:
    value = expect_number(answer, CURVE_RESPONSE, tol=float("inf"), name="response")
    if value == CURVE_RESPONSE:
        return "4 × (50·30) + (20·30) = 6,600: a large response, the patch has a curve like the filter's."
    reject_slips(value, [
        (0, "0 is the response on a patch without the curve.", "Use the patch that contains the curve."),
        (7500, "7,500 counts one pixel as 50 that is 20 in the patch.", "Multiply the actual pixel values."),
    ])
    raise Wrong(f"{value:g} is not the response.",
                hint="Only the positions where both the filter and the patch are non-zero contribute.")


def _pool_2x2(x: np.ndarray) -> np.ndarray:
    h, w = x.shape
    return x.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))


def _pool_case(answer: Any, x: np.ndarray, what: str) -> np.ndarray:
    """Call the student's max_pool_2x2 on a copy of ``x`` (NumPy only) and compare with the 2x2 max pooling."""
    result = call_student(answer, x.copy(), name="max_pool_2x2", forbid=NUMPY_ONLY)
    if result is None:
        raise Wrong(f"{what} returned None.", hint="End the function with return ... .")
    array = to_array(result, what)
    want = (x.shape[0] // 2, x.shape[1] // 2)
    if array.shape != want:
        if array.shape == (x.shape[0] - 1, x.shape[1] - 1):
            raise Wrong(f"{what} has shape {array.shape}: the window moved by 1.",
                        hint="Use stride 2 so the 2x2 windows do not overlap.")
        raise Wrong(f"{what} has shape {array.shape}; expected {want}, half the height and half the width.",
                    hint="Return one value per 2x2 block: an (h // 2, w // 2) array for an (h, w) input. Use the "
                         "input's own shape, not the 4x4 example's.")
    expect_array(array, dtype_kind="biuf", name=what)
    if np.allclose(array, x.reshape(want[0], 2, want[1], 2).mean(axis=(1, 3))) and not np.allclose(
            array, _pool_2x2(x)):
        raise Wrong("That is average pooling.",
                    hint="Max pooling keeps the largest value of each block (np.max, not np.mean).")
    if want[0] == want[1] and np.allclose(array, _pool_2x2(x).T) and not np.allclose(array, _pool_2x2(x)):
        raise Wrong(f"{what} is transposed.", hint="Row i, column j of the result is the block x[2i:2i+2, 2j:2j+2].")
    expect_array(array, _pool_2x2(x), tol=1e-6, name=what)
    return array


_RNG_POOL = np.random.default_rng(6)
_HIDDEN_POOL = [
    hidden_case(_pool_case, -POOL_INPUT.astype(np.float32) - 1.0, "max_pool_2x2 of an array of negative numbers"),
    hidden_case(_pool_case, np.array([[0.5, -2.0], [1.5, 1.25]], dtype=np.float32), "max_pool_2x2 of a 2x2 array"),
    hidden_case(_pool_case, _RNG_POOL.normal(size=(8, 6)).astype(np.float32), "max_pool_2x2 of an 8x6 array"),
]
OTHER_POOL_INPUT = np.array([[0, 3, 1, 1, 9, 2], [2, 1, 4, 0, 5, 5], [7, 0, 2, 2, 1, 0], [1, 1, 3, 8, 6, 4]])


@question(
    "06.max_pool",
    title="2x2 max pooling (stride 2), written with NumPy only",
    hint="Split the input into 2x2 blocks and keep the largest value of each: x.reshape(h // 2, 2, w // 2, 2) puts "
         "each block's rows on axis 1 and its columns on axis 3.",
    hidden=_HIDDEN_POOL,
)
def max_pool(answer: Any) -> str:
    if not callable(answer):
        try:
            array = to_array(answer, "answer")
        except Wrong:
            array = None
        if array is not None and array.size == 4 and np.allclose(array.reshape(-1), POOL_MAX.reshape(-1)):
            raise Wrong(
                "This is the pooled 4x4 example itself (TensorFlow computes it in section 5).",
                hint="Pass your function max_pool_2x2 (without calling it): the check calls it on pool_input and on "
                     "other arrays, and refuses TensorFlow.",
            )
        raise Wrong(f"The answer should be your function max_pool_2x2, but it is {describe(answer)}.",
                    hint="Pass the function itself: check('06.max_pool', max_pool_2x2).")
    _pool_case(answer, POOL_INPUT.astype(np.float32), "max_pool_2x2(pool_input)")
    _pool_case(answer, OTHER_POOL_INPUT.astype(np.float32), "max_pool_2x2 of a 4x6 array")
    return "Max pooling keeps [[3, 4], [6, 8]] of the example: a quarter of the values, the strongest ones."


@question(
    "06.flatten_size",
    title="How many values reach the dense layer?",
    hint="Each 2x2 max pooling halves height and width: 28 → 14 → 7 "
         "('same' padding keeps the size in the convolutions).",
)
def flatten_size(answer: Any) -> str:
    value = _integer(answer, "flatten_size")
    if value == 7 * 7 * 64:
        return "7 × 7 × 64 = 3,136 values feed the dense layer of 1,024 units."
    hints = {
        14 * 14 * 64: "That is after one pooling; there are two.",
        4 * 4 * 64: "1,024 is the dense layer's width (and 4 × 4 × 64, what 'valid' padding would leave); "
        "count the values that go into the dense layer: height × width × channels after the second pooling.",
        7 * 7 * 32: "The second convolution has 64 filters, so there are 64 channels.",
        7 * 7: "Multiply by the number of channels (64) too.",
    }
    raise Wrong(f"{value} is not the flattened size.", hint=hints.get(value))


@question(
    "06.conv1_params",
    title="Parameters of the first convolution (5x5, 1 → 32 channels)",
    hint="Each of the 32 filters has 5 × 5 × 1 weights and one bias.",
)
def conv1_params(answer: Any) -> str:
    value = _integer(answer, "conv1_params")
    if value == 5 * 5 * 1 * 32 + 32:
        return "5·5·1·32 weights + 32 biases = 832, however large the image is: that is weight sharing."
    hints = {
        800: "Add the biases: one per filter.",
        25: "That is one filter; there are 32.",
        26: "That is one filter with its bias; there are 32.",
        28 * 28 * 32: "A convolution's parameters do not depend on the image size: count the filters' weights.",
        5 * 5 * 1 * 16 + 16: "416 is fast mode's first convolution (16 filters); the exercise asks about the classic "
        "network's 32.",
        5 * 5 * 32 * 64 + 64: "51,264 is the second convolution's (section 1); the first has 32 filters on one "
        "channel.",
    }
    raise Wrong(f"{value} is not the number of parameters.", hint=hints.get(value))


@question(
    "06.batchnorm_params",
    title="Trained numbers of a batch normalisation over 48 channels",
    hint="Per channel the layer learns a scale γ and a shift β; its running mean and variance are averaged "
         "while training, not trained by the optimizer.",
)
def batchnorm_params(answer: Any) -> str:
    value = _integer(answer, "norm2_trained")
    if value == 2 * 48:
        return "γ and β for each of the 48 channels: 96 trained numbers (and 96 running statistics, averaged)."
    hints = {
        4 * 48: "192 counts the running mean and variance too: they are averaged while training, not trained.",
        48: "There are two learned numbers per channel, γ (scale) and β (shift).",
        2: "That is per channel; the layer has 48 channels.",
        4: "That is per channel, and two of the four are not trained.",
        3 * 48: "Only γ and β are trained: the running mean and variance are both averaged.",
    }
    raise Wrong(f"{value} is not the number of trained values.", hint=hints.get(value))


@question(
    "06.test_accuracy",
    title="The classic CNN's test accuracy",
    hint="Pass the test accuracy as a fraction between 0 and 1, e.g. model.evaluate(...) or np.mean(pred == y).",
    kind=RESULT,
)
def test_accuracy(answer: Any) -> str:
    value = expect_number(answer, 0.5, tol=float("inf"), name="accuracy")
    if value > 1.0:
        raise Wrong(f"accuracy = {value:g} is above 1.", hint="Give a fraction (0.99), not a percentage (99).")
    if value < 0.0:
        raise Wrong(f"accuracy = {value:g} is negative.")
    if value < 0.80:
        raise Wrong(
            f"accuracy = {value:.4f} is below 0.80: the network has not learned the digits yet.",
            hint="Train for more epochs or on more examples, and check the learning rate and that labels match images.",
        )
    return f"Test accuracy {value:.2%}."
