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


# --- found on a re-read (issue #16): answers a student gives, right and wrong ---------------------------------


def test_shapes_accepts_numpy_integers_as_lengths():
    assert check("01.shapes", [(), np.int64(3), (2, 3), (2, 3, 1)]).passed


def test_matmul_in_the_wrong_order_is_named():
    """m2 @ m1 is 2x2 like m1 * m2 (four 6s): the message names both, not only the element-wise product."""
    m1, m2 = tf.constant([[3.0, 3.0]]), tf.constant([[2.0], [2.0]])
    feedback = check("01.matmul", m2 @ m1)
    assert not feedback.passed and "m2 @ m1" in feedback.message and "in that order" in feedback.hint


def _op_types(fn, *args):
    return [op.type for op in tf.function(fn).get_concrete_function(*args).graph.get_operations()]


def test_traced_ops_accepts_the_right_graph_in_several_forms():
    spec = tf.TensorSpec([], tf.float32)
    right = _op_types(lambda a, b, c: (a + b) * c, spec, spec, spec)
    assert check("01.traced_ops", tuple(right)).passed
    assert check("01.traced_ops", sorted(right)).passed
    assert check("01.traced_ops", _op_types(lambda a, b, c: c * (a + b), spec, spec, spec)).passed
    tensors = (tf.constant(1.0), tf.constant(2.0), tf.constant(3.0))
    assert check("01.traced_ops", _op_types(lambda a, b, c: (a + b) * c, *tensors)).passed


def test_traced_ops_refuses_a_plus_b_times_c():
    """a + b * c has the same operation types; only their order tells it from (a + b) * c."""
    spec = tf.TensorSpec([], tf.float32)
    feedback = check("01.traced_ops", _op_types(lambda a, b, c: a + b * c, spec, spec, spec))
    assert not feedback.passed and "a + b * c" in feedback.message and "parentheses" in feedback.hint


def test_traced_ops_explains_a_set_and_python_numbers():
    spec = tf.TensorSpec([], tf.float32)
    as_set = check("01.traced_ops", set(_op_types(lambda a, b, c: (a + b) * c, spec, spec, spec)))
    assert not as_set.passed and "set" in as_set.message and "list" in as_set.hint
    numbers = check("01.traced_ops", _op_types(lambda a, b, c: (a + b) * c, 1.0, 2.0, 3.0))
    assert not numbers.passed and "Python numbers" in numbers.message and "TensorSpec" in numbers.hint
