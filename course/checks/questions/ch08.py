"""Chapter 08 (TensorBoard): scoped operation names, the logged graph, and reading scalars back."""

from __future__ import annotations

import sys
import tempfile
from typing import Any

import numpy as np

from course.checks.authoring import Wrong, call_student, expect_array
from course.checks.catalog import RESULT, question
from course.checks.describe import describe


@question(
    "08.scoped_name",
    title="The full name of an op named 'product' inside name_scope('multiply')",
    hint="A name scope prefixes the names of the operations created inside it, followed by a slash.",
)
def scoped_name(answer: Any) -> None:
    if not isinstance(answer, str):
        raise Wrong(f"A name is text, but the answer is {describe(answer)}.", hint="Write it in quotes.")
    text = answer.strip()
    if text == "multiply/product":
        return None
    if text == "product":
        raise Wrong("'product' is the name you gave the operation; the scope adds to it.",
                    hint="Put the scope name in front.")
    if text.replace(".", "/").replace(":", "/").replace("\\", "/") == "multiply/product":
        raise Wrong(f"{text!r} uses the wrong separator.", hint="Scopes are separated by a slash: scope/name.")
    if text == "product/multiply":
        raise Wrong("The parts are the wrong way round.", hint="The scope comes first, then the operation's own name.")
    if text.split(":")[0] == "multiply/product":
        raise Wrong(f"{text!r} is the name of the operation's output tensor (output 0 of the operation).",
                    hint="The operation's own name has no ':0'.")
    if text.strip("/") == "multiply/product":
        raise Wrong(f"{text!r} has a slash too many.", hint="The slash goes between the scope and the name only.")
    raise Wrong(f"{text!r} is not the name TensorFlow gives that operation.")


@question(
    "08.graph_nodes",
    title="The graph read back from the event file keeps the name scopes",
    hint="Collect [node.name for node in graph_def.node] from the graph you read back.",
    kind=RESULT,
)
def graph_nodes(answer: Any) -> str:
    if not isinstance(answer, (list, tuple, set)) or not all(isinstance(n, str) for n in answer):
        raise Wrong(f"The answer is {describe(answer)}; expected a list of node names (strings).")
    names = set(answer)
    missing = [n for n in ("add/sum", "multiply/product") if n not in names]
    if missing:
        raise Wrong(
            f"The graph has no node {', '.join(missing)}; it has {sorted(names)[:8]}.",
            hint="Build the ops inside tf.name_scope('add') / tf.name_scope('multiply') "
                 "with name='sum' / name='product'.",
        )
    return "Right: in TensorBoard's Graphs tab the scopes appear as boxes you can open."


def _write_sample_log(folder: str) -> dict[str, list[tuple[int, float]]]:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        import tensorflow as tf
    logged = {"loss": [(0, 2.5), (1, 1.25), (2, 0.75), (5, 0.5)], "accuracy": [(0, 0.1), (1, 0.4), (2, 0.6), (5, 0.9)]}
    writer = tf.summary.create_file_writer(folder)
    with writer.as_default():
        for (step, loss), (_, acc) in zip(logged["loss"], logged["accuracy"]):
            tf.summary.scalar("loss", loss, step=step)
            tf.summary.scalar("accuracy", acc, step=step)
            tf.summary.histogram("weights", np.linspace(-1.0, 1.0, 20), step=step)
    writer.flush()
    writer.close()
    return logged


def _unsorted_log(answer: Any) -> None:
    """Hidden case: a tag written with its steps out of order must come back sorted by step."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        import tensorflow as tf
    written = [(3, 0.25), (1, 0.75), (2, 0.5)]
    with tempfile.TemporaryDirectory(prefix="course-08-") as folder:
        writer = tf.summary.create_file_writer(folder)
        with writer.as_default():
            for step, value in written:
                tf.summary.scalar("val_loss", value, step=step)
        writer.flush()
        writer.close()
        result = _call_read_scalars(answer, folder, "val_loss")
        _compare_scalars(result, sorted(written), "val_loss")


def _call_read_scalars(answer: Any, folder: str, tag: str) -> Any:
    try:
        return call_student(answer, folder, tag, timeout=60.0, name="read_scalars")
    except Wrong as wrong:
        if "not found in Reservoir" in wrong.message:  # EventAccumulator.Scalars(tag): TF1's scalar records
            raise Wrong(wrong.message,
                        hint="TensorFlow 2 stores scalars as tensors: use events.Tensors(tag) and "
                             "tf.make_ndarray(event.tensor_proto), as in section 1.") from None
        raise


@question(
    "08.read_scalars",
    title="A function that reads one scalar tag back from a log folder",
    hint="read_scalars(logdir, tag) should return [(step, value), ...] sorted by step, e.g. with EventAccumulator.",
    hidden=[_unsorted_log],
)
def read_scalars(answer: Any) -> str:
    if answer is not None and not callable(answer):
        raise Wrong(f"The answer is {describe(answer)}.",
                    hint="Pass the function itself: check('08.read_scalars', read_scalars).")
    with tempfile.TemporaryDirectory(prefix="course-08-") as folder:
        logged = _write_sample_log(folder)
        for tag in ("loss", "accuracy"):
            result = _call_read_scalars(answer, folder, tag)
            _compare_scalars(result, logged[tag], tag)
    return "Right: this is what TensorBoard does to draw the Scalars tab."


def _compare_scalars(result: Any, want: list[tuple[int, float]], tag: str) -> None:
    """read_scalars(logdir, tag) returned ``result``; the log holds ``want`` (sorted by step) for ``tag``."""
    if result is None:
        raise Wrong("read_scalars returned None.",
                    hint="End the function with `return` and the list of (step, value) pairs.")
    if isinstance(result, dict):
        raise Wrong("read_scalars returned a dict; expected a list of (step, value) pairs.",
                    hint="sorted(your_dict.items()) turns {step: value} into that list.")
    try:
        rows = [tuple(row) for row in result]
    except TypeError:
        raise Wrong(
            f"read_scalars returned a list of single numbers ({describe(result)} of values), without steps.",
            hint="Return pairs: [(event.step, value), ...].",
        ) from None
    if len(rows) == len(want) and all(len(r) == 1 for r in rows):
        raise Wrong("read_scalars returned values without their steps.",
                    hint="Return pairs: [(event.step, value), ...].")
    if len(rows) != len(want):
        raise Wrong(
            f"read_scalars(logdir, {tag!r}) returned {len(rows)} entries; "
            f"the log has {len(want)} for that tag.",
            hint="Keep only the events whose tag matches (and skip the histogram).",
        )
    if any(len(r) != 2 for r in rows):
        raise Wrong("Each entry should be a (step, value) pair.")
    array = expect_array([[float(s), float(v)] for s, v in rows], name=f"read_scalars(logdir, {tag!r})")
    if np.allclose(array[:, [1, 0]], want, atol=1e-5):
        raise Wrong("The pairs are (value, step).", hint="Put the step first: (step, value).")
    if not np.all(np.diff(array[:, 0]) >= 0) and np.allclose(array[np.argsort(array[:, 0], kind="stable")], want,
                                                             atol=1e-5):
        raise Wrong(f"read_scalars(logdir, {tag!r}) has the right pairs, but not sorted by step.",
                    hint="Sort them: sorted(pairs) (events are stored in the order they were written).")
    if np.allclose(array[:, 0], [s for s, _ in want]) and np.all(array[:, 1] == 0):
        raise Wrong(f"read_scalars(logdir, {tag!r}) has the right steps, but every value is 0.",
                    hint="In TensorFlow 2 event files a scalar is a tensor and simple_value is left empty: read "
                         "tf.make_ndarray(value.tensor) (or event.tensor_proto with EventAccumulator).")
    expect_array(array, want, tol=1e-5, name=f"read_scalars(logdir, {tag!r})")
