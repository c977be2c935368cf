"""Chapter 11 (CNN architectures): a convolution's parameters by hand, the output shape of a conv/pool stack, what
a 1×1 bottleneck saves, a bottleneck residual block, the best accuracy per parameter of the chapter's own run, and
the small networks' results (a chapter result)."""

from __future__ import annotations

import math
import sys
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
from course.checks.describe import describe, short

# ------------------------------------------------------------------------------------------------ 11.small_models

# The table the last accepted 11.small_models check recorded in this kernel: network name -> its figures.
# 11.best_per_param grades against it, so that its answer comes from the student's own run.
_RESULTS: dict[str, dict[str, float]] = {}
_FIELDS = ("accuracy", "params", "seconds")
MIN_ACCURACY = 0.5  # chance is 0.1; fast mode's 2,000 images and 2 epochs reach about 0.7


def _number_field(row: Any, name: str, key: str) -> float:
    value = row.get(key) if isinstance(row, dict) else None
    if value is None:
        raise Wrong(f"results[{name!r}] has no {key!r}.",
                    hint="Each row is a dict with 'accuracy', 'params' and 'seconds', as train_and_test returns it.")
    return expect_number(value, 0.0, tol=math.inf, name=f"results[{name!r}][{key!r}]")


@question(
    "11.small_models",
    title="Test accuracy, parameters and training time of the four small networks on Fashion-MNIST",
    hint="Pass the results dict of section 7: {name: {'accuracy': ..., 'params': ..., 'seconds': ...}}.",
    kind=RESULT,
)
def small_models(answer: Any) -> str:
    if not isinstance(answer, dict) or len(answer) < 2:
        raise Wrong(f"The answer is {describe(answer)}; expected the results dict of at least two networks.")
    table: dict[str, dict[str, float]] = {}
    for name, row in answer.items():
        if not isinstance(name, str):
            raise Wrong(f"The key {short(name)} is not a network name.", hint="Key the rows by model.name.")
        accuracy, params, seconds = (_number_field(row, name, key) for key in _FIELDS)
        if 1.0 < accuracy <= 100.0:
            raise Wrong(f"{name}: accuracy {accuracy:g} looks like a percentage.", hint="Pass a fraction (0.85).")
        if not 0.0 <= accuracy <= 1.0:
            raise Wrong(f"{name}: accuracy {accuracy:g} is not a fraction between 0 and 1.")
        if params < 1 or params != int(params):
            raise Wrong(f"{name}: {params:g} is not a parameter count.", hint="Use model.count_params().")
        if seconds <= 0:
            raise Wrong(f"{name}: a training time of {seconds:g} s is impossible.")
        if accuracy < MIN_ACCURACY:
            raise Wrong(f"{name} reached only {accuracy:.1%} on the test images (chance is 10%): it has hardly "
                        "learned.", hint="Train on more images or for more epochs (the settings cell), and check the "
                        "learning rate.")
        table[name] = {"accuracy": accuracy, "params": params, "seconds": seconds}
    _RESULTS.clear()
    _RESULTS.update(table)
    best = max(table, key=lambda n: table[n]["accuracy"])
    return (f"All {len(table)} networks learned; the best, {best}, reached {table[best]['accuracy']:.1%} "
            "(in full mode, with all 55,000 training images for three epochs, each reaches about 89%).")


# ------------------------------------------------------------------------------------------------ 11.conv_params

CONV_PARAMS = 3 * 3 * 128 * 64 + 64  # 73,792


@question(
    "11.conv_params",
    title="Parameters of a 3×3 convolution with 64 filters on a 56×56×128 input",
    hint="A convolution has k·k·c_in·c_out weights plus one bias per filter; the image size does not matter.",
)
def conv_params(answer: Any) -> str:
    value = expect_whole_number(answer, name="the parameter count")
    reject_slips(value, [
        (3 * 3 * 128 * 64, "73,728 counts the weights only.", "Add one bias per filter: + 64."),
        (3 * 3 * 128 * 64 + 128, "That adds one bias per input channel.", "There is one bias per filter: + 64."),
        (3 * 3 * 128 + 64, "That counts one filter's weights.", "There are 64 filters of 3·3·128 weights each."),
        (3 * 3 * 64 + 64, "Each filter reads all 128 input channels, not one.",
         "A filter has k·k·c_in = 3·3·128 weights."),
        (56 * 56 * 64, "That is the number of output values, not of parameters.",
         "The same 64 filters slide over every position: the image size does not appear."),
        (56 * 56 * 3 * 3 * 128 * 64, "That is the number of multiply-adds per image, not of parameters.",
         "Parameters do not depend on the image size: k·k·c_in·c_out + c_out."),
    ], tol=0)
    if value == 56 * 56 * CONV_PARAMS or value == 56 * 56 * 128 * 64:
        raise Wrong("The image size crept in.",
                    hint="The same filters are used at every position: k·k·c_in·c_out + c_out.")
    expect_number(value, CONV_PARAMS, tol=0, name="the parameter count")
    return "Right: 3·3·128·64 + 64 = 73,792, whatever the size of the image."


# ----------------------------------------------------------------------------------------------- 11.output_shape

# (kind, filters, kernel, stride, padding) of exercise 2, on a 64 x 64 x 3 input
_STACK = [("conv", 16, 7, 2, "valid"), ("pool", None, 3, 2, "valid"), ("conv", 32, 3, 1, "same"),
          ("conv", 64, 3, 2, "valid")]


def _run_stack(size: int = 64, channels: int = 3, *, padding: str | None = None, strides: bool = True,
               rounding: str = "floor") -> tuple[int, int, int]:
    """The output shape of exercise 2's stack; the keywords make the usual slips (all one padding, no strides,
    rounding up)."""
    for kind, filters, k, s, pad in _STACK:
        s = s if strides else 1
        pad = padding or pad
        if pad == "same":
            size = -(-size // s)
        else:
            size = (size - k) // s + 1 if rounding == "floor" else math.ceil((size - k) / s) + 1
        if kind == "conv":
            channels = filters
    return size, size, channels


OUTPUT_SHAPE = _run_stack()  # (6, 6, 64)


def _shape_answer(answer: Any) -> tuple[int, ...]:
    if hasattr(answer, "as_list"):  # a tf.TensorShape
        answer = answer.as_list()
    if isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if isinstance(answer, (int, float, np.integer)) and not isinstance(answer, bool):
        raise Wrong(f"The answer is one number ({short(answer)}); expected a shape (height, width, channels).")
    if not isinstance(answer, (tuple, list)):
        raise Wrong(f"The answer is {describe(answer)}; expected a tuple (height, width, channels).")
    values = list(answer)
    if len(values) == 4 and values[0] in (None, 1):  # model.output_shape: (None, H, W, C), or a batch of one
        values = values[1:]
    if any(v is None for v in values):
        raise Wrong(f"The shape {short(answer)} contains None.", hint="Give the numbers: (height, width, channels).")
    numbers = [expect_whole_number(v, name="each size") for v in values]
    if len(numbers) == 2:
        raise Wrong(f"{tuple(numbers)} has height and width only.", hint="Add the channels: (height, width, channels).")
    if len(numbers) != 3:
        raise Wrong(f"Got {len(numbers)} numbers; expected 3: (height, width, channels).")
    return tuple(numbers)


@question(
    "11.output_shape",
    title="Output shape of a conv/pool stack on a 64×64×3 image",
    hint="Apply O = ⌊(W − K + 2P) / S⌋ + 1 layer by layer; 'valid' means P = 0, 'same' keeps ⌈W / S⌉.",
)
def output_shape(answer: Any) -> str:
    shape = _shape_answer(answer)
    if shape == OUTPUT_SHAPE:
        return "Right: 64 → 29 → 14 → 14 → 6, and the last convolution's 64 filters give the channels: (6, 6, 64)."
    h, w, c = shape
    if shape == (OUTPUT_SHAPE[2], *OUTPUT_SHAPE[:2]):
        raise Wrong(f"{shape} puts the channels first.", hint="Keras' images are (height, width, channels).")
    if (h, w) == OUTPUT_SHAPE[:2]:
        raise Wrong(f"Height and width are right, but {c} channels is not.",
                    hint="The channels of the output are the number of filters of the last convolution.")
    slips = [
        (_run_stack(rounding="ceil"), "A division was rounded up, or a 'valid' layer was given padding.",
         "Keras' default padding is 'valid' (P = 0), and ⌊(W − K) / S⌋ drops the last partial window."),
        (_run_stack(padding="same"), "Every layer was treated as padding='same'.",
         "Keras' default padding is 'valid' (P = 0): only the third layer says 'same'."),
        (_run_stack(padding="valid"), "The third layer was treated as 'valid'.",
         "padding='same' with stride 1 keeps the size (14 × 14)."),
        (_run_stack(strides=False), "The strides were left out.", "strides=2 divides the size by about 2."),
    ]
    for slip, message, hint in slips:
        if (h, w) == slip[:2]:
            raise Wrong(message, hint=hint)
    raise Wrong(f"{shape} is not the output shape.")


# ------------------------------------------------------------------------------------------ 11.bottleneck_saving

_DIRECT_4A = 5 * 5 * 480 * 48 + 48  # 576,048
_BOTTLENECK_4A = (480 * 16 + 16) + (5 * 5 * 16 * 48 + 48)  # 26,944
SAVING = _DIRECT_4A - _BOTTLENECK_4A  # 549,104


@question(
    "11.bottleneck_saving",
    title="Parameters that Inception 4a's 1×1 bottleneck saves in its 5×5 branch",
    hint="Direct: 5·5·480·48 + 48. Bottleneck: (1·1·480·16 + 16) + (5·5·16·48 + 48). Subtract.",
)
def bottleneck_saving(answer: Any) -> str:
    value = expect_number(answer, SAVING, tol=math.inf, name="the saving")
    reject_slips(value, [
        (5 * 5 * 480 * 48 - (480 * 16 + 5 * 5 * 16 * 48), "That leaves out the biases.",
         "Biases included: + 48 for the direct layer, + 16 + 48 for the bottleneck's two layers."),
        (_DIRECT_4A, "That is the direct convolution's count alone.", "Subtract the bottleneck's parameters."),
        (_BOTTLENECK_4A, "That is the bottleneck's count alone.", "Subtract it from the direct convolution's."),
        (-SAVING, "That is bottleneck minus direct.", "The saving is direct minus bottleneck: a positive number."),
        (_DIRECT_4A - (5 * 5 * 16 * 48 + 48), "The bottleneck's 1×1 layer is missing.",
         "The bottleneck has two layers: 1×1 (480·16 + 16) and 5×5 (5·5·16·48 + 48)."),
        (14 * 14 * (5 * 5 * 480 * 48 - 480 * 16 - 5 * 5 * 16 * 48), "That is the saving in multiply-adds.",
         "Count parameters: the 14×14 size does not appear."),
    ], tol=0, rel=1e-6)
    if close(value, _DIRECT_4A / _BOTTLENECK_4A, tol=0.05):
        raise Wrong(f"{value:g} is the ratio of the two counts.", hint="The exercise asks for the difference.")
    expect_number(value, SAVING, tol=0, name="the saving")
    return (f"Right: {_DIRECT_4A:,} − {_BOTTLENECK_4A:,} = {SAVING:,}, about 21 times fewer parameters in the "
            "branch.")


# ------------------------------------------------------------------------------------------ 11.bottleneck_block


def _keras() -> Any:
    keras = sys.modules.get("keras")
    if keras is None:
        import keras
    return keras


def _block_case(fn: Any, shape: tuple[int, int, int], filters: int, order: bool = True) -> None:
    """Build the student's bottleneck_block on keras.Input(shape) and check its shape, its convolution weights,
    its addition, (when x needs no projection) that x reaches the output unchanged, and its layers in order:
    batch normalization after every convolution, ReLU inside F, and the last ReLU after the addition (unless
    ``order`` is False)."""
    keras = _keras()
    inputs = keras.Input(shape)
    out = call_student(fn, inputs, filters, timeout=30.0, name="bottleneck_block")
    if out is None:
        raise Wrong("bottleneck_block returned None.", hint="End the function with return ..., the block's output.")
    if not isinstance(out, keras.KerasTensor):
        raise Wrong(f"bottleneck_block returned {describe(out)}; expected the Keras tensor of the block's output.",
                    hint="Call each layer on a tensor, layers.Conv2D(...)(x), and return the last result.")
    try:
        model = keras.Model(inputs, out)
    except Exception as exc:  # noqa: BLE001  (a graph that does not start at x)
        raise Wrong(f"The output is not computed from x ({type(exc).__name__}).",
                    hint="Start every path of the block from the x the function is given.") from None
    c_in = shape[-1]
    want = (shape[0], shape[1], 4 * filters)
    got = tuple(out.shape[1:])
    if got != want:
        if got[:2] == want[:2] and got[-1] == filters:
            hint = "The last 1×1 convolution expands to 4·filters channels."
        elif got[:2] != want[:2]:
            hint = "Stride 1 and padding='same' on the 3×3 convolution keep height and width."
        else:
            hint = "The output has 4·filters channels: F's last 1×1 convolution and the shortcut both give that."
        raise Wrong(f"For x of shape {shape} and filters={filters}, the output has shape {got}; expected {want}.",
                    hint=hint)
    identity = c_in == 4 * filters
    branch = c_in * filters + 3 * 3 * filters * filters + filters * 4 * filters
    projection = c_in * 4 * filters
    expected = branch + (0 if identity else projection)
    weights = sum(int(np.prod(v.shape)) for v in model.weights if len(v.shape) == 4)  # convolution kernels
    if weights != expected:
        if identity and weights == branch + projection:
            raise Wrong(f"For x of shape {shape} the block uses a 1×1 projection, but x already has "
                        f"4·filters = {4 * filters} channels.", hint="Then the shortcut is x itself (identity).")
        if not identity and weights == branch:
            raise Wrong(f"For x of shape {shape} ({c_in} channels) the shortcut has no 1×1 projection to "
                        f"{4 * filters} channels.", hint="Project x with a 1×1 convolution when its channels differ.")
        raise Wrong(f"For x of shape {shape} and filters={filters} the convolutions have {weights:,} weights; a "
                    f"bottleneck block has {expected:,}: 1×1 ({c_in}→{filters}), 3×3 ({filters}→{filters}), "
                    f"1×1 ({filters}→{4 * filters})" + ("" if identity else f", projection 1×1 ({c_in}→{4 * filters})")
                    + ".", hint="Check the kernel sizes and the numbers of filters of the three convolutions.")
    if not any(type(op).__name__ == "Add" for op in model.operations):
        raise Wrong("The block has no addition: the skip connection is missing.",
                    hint="Add the shortcut to F(x): layers.Add()([h, shortcut]) (or h + shortcut), then ReLU.")
    if identity:
        _identity_when_zero(model, shape)
    if order:
        _check_order(out, inputs, identity)


def _identity_when_zero(model: Any, shape: tuple[int, int, int]) -> None:
    """With every weight but batch normalization's set to zero, F(x) is 0, so a block that adds x must output ReLU(x)
    (or x); a fresh batch normalization in inference mode is the identity (to 1 part in 2,000: ε = 0.001). The
    weights are restored after."""
    zeroed = [v for layer in model.layers if type(layer).__name__ != "BatchNormalization" for v in layer.weights]
    saved = [np.array(v.numpy()) for v in zeroed]
    x = np.random.default_rng(11).normal(size=(2, *shape)).astype(np.float32)
    try:
        for v in zeroed:
            v.assign(np.zeros(tuple(v.shape), dtype=v.dtype))
        y = np.asarray(model(x, training=False))
    finally:
        for v, value in zip(zeroed, saved):
            v.assign(value)
    if np.allclose(y, np.maximum(x, 0.0), rtol=2e-3, atol=1e-5) or np.allclose(y, x, rtol=2e-3, atol=1e-5):
        return
    if np.allclose(y, 0.0, atol=1e-6):
        raise Wrong("With the convolutions' weights set to zero the block outputs zeros: x does not reach the output.",
                    hint="The skip connection adds x itself to F(x): layers.Add()([h, x]), then ReLU.")
    raise Wrong("With the convolutions' weights set to zero F(x) is 0, so the block should output ReLU(x); it outputs "
                "something else.",
                hint="Add x to F(x) (do not multiply or concatenate), and apply ReLU after the addition.")


_BRANCH = ["1×1 conv", "BN", "ReLU", "3×3 conv", "BN", "ReLU", "1×1 conv", "BN"]  # F, from x to the addition
_PROJECTION = ["1×1 conv", "BN"]


def _producer(tensor: Any) -> tuple[Any, list[Any]]:
    """The operation that made `tensor` in this graph, and the tensors it was called on."""
    op, node_index, _ = tensor._keras_history
    return op, list(op._inbound_nodes[node_index].input_tensors)


def _kind(op: Any) -> str:
    name = type(op).__name__
    if name in ("ReLU", "Relu") or (name == "Activation" and getattr(op.activation, "__name__", "") == "relu"):
        return "ReLU"  # layers.ReLU, keras.activations.relu, keras.ops.relu, layers.Activation("relu")
    if name == "BatchNormalization":
        return "BN"
    if name == "Add":  # layers.Add or h + shortcut
        return "addition"
    if name == "Conv2D":
        k = op.kernel_size
        return f"{k[0]}×{k[1]} conv"
    return name


def _path(tensor: Any, inputs: Any) -> list[str] | None:
    """The layers from x to `tensor`, in order, when they form a single chain (None when they do not)."""
    backwards: list[str] = []
    while tensor is not inputs:
        op, args = _producer(tensor)
        if len(args) != 1:
            return None
        activation = getattr(op.activation, "__name__", "linear") if _kind(op).endswith("conv") else "linear"
        if activation != "linear":  # Conv2D(..., activation="relu") applies it right after the convolution
            backwards.append("ReLU" if activation == "relu" else activation)
        backwards.append(_kind(op))
        tensor = args[0]
    return backwards[::-1]


def _chain(kinds: list[str]) -> str:
    return " → ".join(kinds) if kinds else "x itself"


def _check_order(out: Any, inputs: Any, identity: bool) -> None:
    """ResNet's bottleneck block, layer by layer: F = 1×1 conv, BN, ReLU, 3×3 conv, BN, ReLU, 1×1 conv, BN; the
    shortcut x or 1×1 conv, BN; the output ReLU(F(x) + shortcut)."""
    op, args = _producer(out)
    if _kind(op) != "ReLU":
        raise Wrong(f"The block's last layer is {_kind(op) if _kind(op) != 'addition' else 'the addition'}; "
                    "ResNet's block ends with a ReLU after the addition.",
                    hint="Return layers.ReLU()(layers.Add()([h, shortcut])): F ends with batch normalization, and the "
                    "ReLU comes after the sum.")
    op, args = _producer(args[0])
    if _kind(op) != "addition" or len(args) != 2:
        raise Wrong("The last ReLU is not applied to the sum F(x) + shortcut.",
                    hint="Return layers.ReLU()(layers.Add()([h, shortcut])).")
    paths = [_path(t, inputs) for t in args]
    if any(p is None for p in paths):
        raise Wrong("F(x) and the shortcut should each be a single chain of layers from x to the addition.",
                    hint="F: 1×1 conv, BN, ReLU, 3×3 conv, BN, ReLU, 1×1 conv, BN; shortcut: x, or 1×1 conv and BN.")
    shortcut, branch = sorted(paths, key=lambda p: sum(k.endswith("conv") for k in p))
    if branch != _BRANCH:
        missing = _BRANCH.count("BN") - branch.count("BN")
        if missing > 0:
            hint = (f"{missing} batch normalization{'s are' if missing > 1 else ' is'} missing: each convolution of F "
                    "is followed by layers.BatchNormalization().")
        elif branch[-1] == "ReLU":
            hint = "F ends with batch normalization; the ReLU comes after the addition, not before it."
        else:
            hint = "Each convolution is followed by batch normalization, then (except the last) ReLU."
        raise Wrong(f"F(x) is {_chain(branch)}; ResNet's is {_chain(_BRANCH)}.", hint=hint)
    want = [] if identity else _PROJECTION
    if shortcut != want:
        raise Wrong(f"The shortcut is {_chain(shortcut)}; here it should be {_chain(want)}.",
                    hint="The shortcut is x itself when x has 4·filters channels, otherwise a 1×1 convolution to "
                    "4·filters channels followed by batch normalization.")


_PUBLIC_BLOCKS = [((8, 8, 64), 16), ((8, 8, 32), 16)]


@question(
    "11.bottleneck_block",
    title="A function bottleneck_block(x, filters): ResNet's 1×1-3×3-1×1 residual block with its skip connection",
    hint="F: 1×1 conv (filters), BN, ReLU, 3×3 conv (filters, 'same'), BN, ReLU, 1×1 conv (4·filters), BN; "
    "shortcut: x, or a 1×1 conv to 4·filters; output ReLU(F(x) + shortcut).",
    hidden=[hidden_case(_block_case, (5, 7, 3), 2), hidden_case(_block_case, (4, 4, 32), 8)],
)
def bottleneck_block(answer: Any) -> str:
    for shape, filters in _PUBLIC_BLOCKS:  # shapes, weights and skip first: they say more than the order of layers
        _block_case(answer, shape, filters, order=False)
    for shape, filters in _PUBLIC_BLOCKS:
        _block_case(answer, shape, filters)
    return ("Right: 1×1 reduce, 3×3, 1×1 expand, each convolution followed by batch normalization, and x added "
            "back before the last ReLU (ResNet-50's block).")


# -------------------------------------------------------------------------------------------- 11.best_per_param


def _pair(answer: Any) -> tuple[str, float]:
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Wrong(f"The answer is {describe(answer)}; expected a pair (network name, accuracy per 1,000 "
                    "parameters).")
    name, value = answer
    if not isinstance(name, str):
        name, value = value, name
    if not isinstance(name, str):
        raise Wrong("Neither part of the pair is a network name.", hint="Use a key of results, e.g. 'LeNet-5'.")
    return name, expect_number(value, 0.0, tol=math.inf, name="the accuracy per 1,000 parameters")


@question(
    "11.best_per_param",
    title="The small network with the highest test accuracy per 1,000 parameters, from the chapter's own run",
    hint="For each row of results: accuracy / (params / 1000); take the largest, e.g. with max(results, key=...).",
)
def best_per_param(answer: Any) -> str:
    if not _RESULTS:
        raise Wrong("This kernel has no results of section 7 yet.",
                    hint="Run section 7 (its last cell checks the results), then this cell again.")
    name, value = _pair(answer)
    per_k = {n: r["accuracy"] / (r["params"] / 1000) for n, r in _RESULTS.items()}
    best = max(per_k, key=per_k.__getitem__)
    if name not in per_k:
        raise Wrong(f"{name!r} is not a network of this run's table ({', '.join(per_k)}).",
                    hint="Use the name exactly as a key of results.")
    top = max(_RESULTS, key=lambda n: _RESULTS[n]["accuracy"])
    if name != best:
        if name == top:
            raise Wrong(f"{name} has the highest accuracy, but not the highest accuracy per parameter.",
                        hint="Divide each accuracy by the parameters (in thousands) before comparing.")
        raise Wrong(f"{name} reaches {per_k[name]:.4g} per 1,000 parameters, less than another network.")
    target = per_k[best]
    reject_slips(value, [
        (target / 1000, "That is the accuracy per parameter.", "Multiply by 1,000: accuracy / (params / 1000)."),
        (1 / target, "That is parameters (in thousands) per unit of accuracy.", "Divide the accuracy by the params."),
        (_RESULTS[best]["accuracy"], "That is the accuracy itself.", "Divide it by the parameters in thousands."),
        (100 * target, "That uses the accuracy in percent.", "Use the accuracy as the fraction that results holds."),
    ], rel=1e-3)
    expect_number(value, target, tol=0, rel=5e-3, name=f"the accuracy per 1,000 parameters of {best}")
    return f"Right: {best}, {target:.4f} per 1,000 parameters in this run."
