"""Chapter 01 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course.checks import check


def _tensors():
    s = tf.constant(483)
    v = tf.constant([1.1, 2.2, 3.3])
    m = tf.constant([[1, 2, 3], [4, 5, 6]])
    t = tf.constant([[[2], [4], [6]], [[8], [10], [12]]])
    return s, v, m, t


def test_shapes_accepts_the_shapes_written_out():
    assert check("01.shapes", [(), (3,), (2, 3), (2, 3, 1)]).passed
    assert check("01.shapes", [[], [3], [2, 3], [2, 3, 1]]).passed
    assert check("01.shapes", ((), 3, (2, 3), (2, 3, 1))).passed  # a bare number for the vector


def test_shapes_refuses_the_shapes_read_from_the_tensors():
    """What the chapter used to pass itself: the exercise is to work them out (the student compares afterwards)."""
    s, v, m, t = _tensors()
    feedback = check("01.shapes", [s.shape, v.shape, m.shape, t.shape])
    assert not feedback.passed and "TensorShape" in feedback.message and "counting the brackets" in feedback.hint


@pytest.mark.parametrize(
    ("answer", "hint_part"),
    [
        ([(1,), (3,), (2, 3), (2, 3, 1)], "rank 0"),
        ([(), (3,), (2, 3), (2, 3)], "last axis of size 1"),
        ([(), (3,), (9,), (2, 3, 1)], "levels of brackets"),
        ([(), (3,), (2, 3)], "in the order s, v, m, t"),
    ],
)
def test_shapes_wrong_answers_get_hints(answer, hint_part):
    feedback = check("01.shapes", answer)
    assert not feedback.passed
    assert hint_part in feedback.hint


def test_shapes_rejects_the_tensors_themselves():
    feedback = check("01.shapes", list(_tensors()))
    assert not feedback.passed and "the tensor itself" in feedback.message and "as a tuple" in feedback.hint


def test_linspace():
    assert check("01.linspace", tf.linspace(10.0, 12.0, 3)).passed
    by_range = check("01.linspace", tf.range(10.0, 12.0))
    assert not by_range.passed and "tf.linspace" in by_range.hint
    assert not check("01.linspace", tf.linspace(10.0, 12.0, 4)).passed
    integers = check("01.linspace", np.array([10, 11, 12]))
    assert not integers.passed and "dtype" in integers.message


def test_matmul():
    m1, m2 = tf.constant([[3.0, 3.0]]), tf.constant([[2.0], [2.0]])
    assert check("01.matmul", tf.matmul(m1, m2)).passed
    elementwise = check("01.matmul", m1 * m2)
    assert not elementwise.passed and "tf.matmul" in elementwise.hint
    assert not check("01.matmul", [[6.0]]).passed


def _traced_graph():
    @tf.function
    def combine(a, b, c):
        return (a + b) * c

    spec = tf.TensorSpec([], tf.float32)
    return combine.get_concrete_function(spec, spec, spec).graph


def test_traced_ops():
    graph = _traced_graph()
    assert check("01.traced_ops", [op.type for op in graph.get_operations()]).passed
    names = check("01.traced_ops", [op.name for op in graph.get_operations()])
    assert not names.passed and "op.type" in names.hint
    two_inputs = check("01.traced_ops", ["Placeholder", "Placeholder", "AddV2", "Mul", "Identity"])
    assert not two_inputs.passed and "TensorSpec" in two_inputs.hint
    assert not check("01.traced_ops", ["Placeholder"] * 3 + ["Sub", "Mul"]).passed
    assert not check("01.traced_ops", graph).passed


def test_trace_count():
    @tf.function
    def double(x):
        return x * 2

    for value in (1, 2, tf.constant(1), tf.constant(2)):
        double(value)
    assert check("01.trace_count", double.experimental_get_tracing_count()).passed
    assert not check("01.trace_count", 4).passed
    assert not check("01.trace_count", 1).passed
