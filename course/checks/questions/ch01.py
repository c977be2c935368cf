"""Chapter 01 (tensors and data-flow graphs): shapes, creating tensors, matmul and tf.function tracing."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from course.checks.authoring import Wrong, expect_array, expect_number
from course.checks.catalog import question
from course.checks.describe import describe

_SHAPES = [(), (3,), (2, 3), (2, 3, 1)]
_NAMES = ["s (483)", "v ([1.1, 2.2, 3.3])", "m ([[1, 2, 3], [4, 5, 6]])", "t ([[[2],[4],[6]],[[8],[10],[12]]])"]


def _as_shape(value: Any, name: str) -> tuple:
    if hasattr(value, "as_list"):  # tf.TensorShape: read from the tensor, not worked out
        raise Wrong(
            f"{name} is a TensorShape, read from the tensor with .shape.",
            hint="Work the shapes out yourself by counting the brackets, and write them as tuples such as (3,) or "
                 "(2, 3); then compare with .shape.",
        )
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (int(value),)  # a bare length, e.g. 3 for (3,)
    if hasattr(value, "shape") and not isinstance(value, (list, tuple)):
        raise Wrong(f"{name} is {describe(value)}, the tensor itself.",
                    hint="Write its shape as a tuple, e.g. (3,) for a vector of 3 numbers.")
    if not isinstance(value, (list, tuple)) or not all(isinstance(d, (int, np.integer)) for d in value):
        raise Wrong(f"{name} is {describe(value)}; expected a shape such as (3,) or [2, 3].")
    return tuple(int(d) for d in value)


@question(
    "01.shapes",
    title="Shapes of the scalar, vector, matrix and 3-tensor",
    hint="A shape lists the length of every axis, outermost first (count the brackets); a scalar has no axes, so its "
         "shape is ().",
)
def shapes(answer: Any) -> str:
    if not isinstance(answer, (list, tuple)) or len(answer) != 4:
        raise Wrong(
            f"The answer is {describe(answer)}; expected a list of 4 shapes [s, v, m, t].",
            hint="Write the four shapes as tuples, in the order s, v, m, t: [(...), (...), (...), (...)].",
        )
    for value, want, name in zip(answer, _SHAPES, _NAMES):
        got = _as_shape(value, f"the shape of {name}")
        if got != want:
            hint = None
            if want == () and got in {(1,), (0,)}:
                hint = "A scalar has rank 0: its shape is the empty tuple ()."
            elif want == (2, 3, 1) and got == (2, 3):
                hint = "Every number is wrapped in its own list ([2], [4], ...), which adds a last axis of size 1."
            elif len(got) != len(want):
                hint = f"Count the levels of brackets: {name} has rank {len(want)}."
            raise Wrong(f"The shape of {name} should not be {got}.", hint=hint)
    return "Right: ranks 0, 1, 2 and 3."


@question(
    "01.linspace",
    title="Three evenly spaced numbers from 10 to 12",
    hint="tf.linspace(start, stop, num) includes both ends.",
)
def linspace(answer: Any) -> None:
    array = expect_array(answer, name="your tensor")
    if array.shape == (2,) and np.allclose(array, [10, 11]):
        raise Wrong("This stops before 12: tf.range leaves out its end.",
                    hint="Use tf.linspace(10.0, 12.0, 3), which includes both ends.")
    expect_array(array, [10.0, 11.0, 12.0], dtype_kind="f", tol=1e-6, name="your tensor")


@question(
    "01.matmul",
    title="Matrix product of [[3, 3]] and [[2], [2]]",
    hint="tf.matmul multiplies matrices; the * operator multiplies element by element.",
)
def matmul(answer: Any) -> None:
    array = expect_array(answer, name="the product")
    if array.shape == (2, 2):
        raise Wrong(
            "The result is 2x2: that is either the element-wise product with broadcasting (m1 * m2) or the "
            "matrix product in the other order (m2 @ m1); both give four 6s.",
            hint="A (1, 2) matrix times a (2, 1) matrix is (1, 1): use tf.matmul(m1, m2) or m1 @ m2, in that order.",
        )
    if array.shape == (2, 1) or array.shape == (1, 2):
        raise Wrong(f"The product has shape {array.shape}; expected (1, 1).",
                    hint="Use tf.matmul(m1, m2), in that order.")
    expect_array(array, [[12.0]], tol=1e-6, name="the product")


@question(
    "01.traced_ops",
    title="Operation types in the graph traced from (a + b) * c",
    hint="[op.type for op in concrete.graph.get_operations()] lists them.",
)
def traced_ops(answer: Any) -> str:
    if callable(answer) or hasattr(answer, "graph"):
        raise Wrong(f"The answer is {describe(answer)}.",
                    hint="Pass the list of operation types (strings) from its graph.")
    if isinstance(answer, (set, frozenset)):
        raise Wrong("The answer is a set: it keeps each type once, so the three Placeholders count as one.",
                    hint="Pass a list, one entry per operation: [op.type for op in concrete.graph.get_operations()].")
    if not isinstance(answer, (list, tuple)) or not all(isinstance(t, str) for t in answer):
        raise Wrong(f"The answer is {describe(answer)}; expected a list of operation type names (strings).")
    types = Counter(answer)
    if any("/" in t for t in types) or ("a" in types and "b" in types):
        raise Wrong("These look like operation names, not types.", hint="Use op.type instead of op.name.")
    if types["Placeholder"] == 0 and types["Const"] > 0:
        raise Wrong(
            "The graph has a Const and no Placeholder: the function was traced with Python numbers, which are "
            "baked into the graph (here the whole result became one constant).",
            hint="Trace with a tf.TensorSpec([], tf.float32) per input (or with tensors), so that each input "
                 "becomes a Placeholder.",
        )
    missing = [t for t in ("AddV2", "Mul") if types[t] < 1]
    if missing:
        raise Wrong(f"The list has no {' or '.join(missing)} operation.", hint="Trace the function with (a + b) * c.")
    if types["Placeholder"] != 3:
        raise Wrong(
            f"The graph should have 3 Placeholder operations (the inputs a, b and c), not {types['Placeholder']}.",
            hint="Trace with tensor arguments (or a TensorSpec per input) so that each input becomes a placeholder.",
        )
    order = list(answer)
    if order.index("Mul") < order.index("AddV2"):
        raise Wrong(
            "The Mul comes before the AddV2: that graph multiplies first, like a + b * c.",
            hint="(a + b) * c adds first: write the parentheses, then trace again.",
        )
    return "Right: each tensor input became a Placeholder, just like tf.placeholder in TensorFlow 1."


@question(
    "01.trace_count",
    title="How many times was the function traced?",
    hint="A new Python number traces again; a tensor of the same shape and dtype reuses the graph.",
)
def trace_count(answer: Any) -> None:
    expect_number(answer, 3, tol=0, name="the number of traces")
