"""Chapter 08 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from course.checks import check


def read_scalars(logdir, tag):
    events = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    events.Reload()
    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


def test_scoped_name():
    assert check("08.scoped_name", "multiply/product").passed
    for answer, hint_part in [("product", "scope name in front"), ("multiply.product", "slash"),
                              ("product/multiply", "scope comes first")]:
        feedback = check("08.scoped_name", answer)
        assert not feedback.passed and hint_part in feedback.hint
    assert not check("08.scoped_name", 20).passed


def test_graph_nodes():
    assert check("08.graph_nodes", ["a", "b", "c", "add/sum", "multiply/product", "Identity"]).passed
    unscoped = check("08.graph_nodes", ["a", "b", "c", "sum", "product"])
    assert not unscoped.passed and "name_scope" in unscoped.hint


def test_read_scalars_correct_function_passes():
    assert check("08.read_scalars", read_scalars).passed


def test_read_scalars_typical_mistakes():
    values_only = check("08.read_scalars", lambda d, t: [v for _, v in read_scalars(d, t)])
    assert not values_only.passed and "(event.step, value)" in values_only.hint
    swapped = check("08.read_scalars", lambda d, t: [(v, s) for s, v in read_scalars(d, t)])
    assert not swapped.passed and "step first" in swapped.hint
    wrong_tag = check("08.read_scalars", lambda d, t: read_scalars(d, "loss"))
    assert not wrong_tag.passed
    nothing = check("08.read_scalars", lambda d, t: None)
    assert not nothing.passed and "return" in nothing.hint
    called = check("08.read_scalars", [(0, 1.0)])
    assert not called.passed and "function itself" in called.hint


def test_scoped_name_tensor_name_and_stray_slashes():
    tensor = check("08.scoped_name", "multiply/product:0")
    assert not tensor.passed and "output tensor" in tensor.message and ":0" in tensor.hint
    for answer in ("/multiply/product", "multiply/product/"):
        feedback = check("08.scoped_name", answer)
        assert not feedback.passed and "slash too many" in feedback.message
    assert check("08.scoped_name", " multiply/product ").passed


def _summary_iterator_version(value_of):
    def read(logdir, tag):
        import glob
        import os

        pairs = []
        for path in glob.glob(os.path.join(str(logdir), "events.out.tfevents*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                pairs += [(event.step, value_of(v)) for v in event.summary.value if v.tag == tag]
        return sorted(pairs)

    return read


def test_read_scalars_other_right_versions_pass():
    """summary_iterator with the tensor, and EventAccumulator with its default size guidance, are right too."""
    assert check("08.read_scalars", _summary_iterator_version(lambda v: float(tf.make_ndarray(v.tensor)))).passed

    def default_guidance(logdir, tag):
        events = EventAccumulator(str(logdir))
        events.Reload()
        return sorted((e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag))

    assert check("08.read_scalars", default_guidance).passed


def test_read_scalars_tf1_habits_get_hints():
    simple_value = check("08.read_scalars", _summary_iterator_version(lambda v: v.simple_value))
    assert not simple_value.passed and "every value is 0" in simple_value.message
    assert "tf.make_ndarray" in simple_value.hint

    def scalars(logdir, tag):
        events = EventAccumulator(str(logdir))
        events.Reload()
        return [(e.step, e.value) for e in events.Scalars(tag)]

    tf1_scalars = check("08.read_scalars", scalars)
    assert not tf1_scalars.passed and "events.Tensors(tag)" in tf1_scalars.hint
    as_dict = check("08.read_scalars", lambda d, t: dict(read_scalars(d, t)))
    assert not as_dict.passed and "dict" in as_dict.message and "items()" in as_dict.hint
