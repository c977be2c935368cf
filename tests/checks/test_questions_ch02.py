"""Chapter 02 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np

from course.checks import check


def test_one_hot():
    good = np.eye(10, dtype=np.float32)[[3, 0, 9]]
    assert check("02.one_hot", good).passed
    assert check("02.one_hot", good.astype(int).tolist()).passed
    transposed = check("02.one_hot", good.T)
    assert not transposed.passed and ".T" in transposed.hint
    depth = check("02.one_hot", np.eye(9)[[3, 0, 8]])
    assert not depth.passed and "depth=10" in depth.hint
    shifted = check("02.one_hot", np.eye(10)[[2, 9, 8]])
    assert not shifted.passed and "0-based" in shifted.hint


def test_argmax():
    one_hot = np.eye(10)[[7, 2, 1, 0, 4]]
    assert check("02.argmax", np.argmax(one_hot, axis=1)).passed
    axis0 = check("02.argmax", np.argmax(one_hot, axis=0))
    assert not axis0.passed and "axis=1" in axis0.hint
    flat = check("02.argmax", np.argmax(one_hot))
    assert not flat.passed and "axis=1" in flat.hint
    as_float = check("02.argmax", np.array([7.0, 2.0, 1.0, 0.0, 4.0]))
    assert not as_float.passed and "dtype" in as_float.message


def test_pixel_mean():
    assert check("02.pixel_mean", 0.1307).passed
    assert check("02.pixel_mean", np.float32(0.1325)).passed
    scaled = check("02.pixel_mean", 33.3)
    assert not scaled.passed and "divides by 255" in scaled.hint
    assert not check("02.pixel_mean", 0.5).passed
    assert not check("02.pixel_mean", np.zeros((2, 2))).passed


def test_count_classes():
    assert check("02.count_classes", lambda labels: np.bincount(labels, minlength=10)).passed
    no_minlength = check("02.count_classes", lambda labels: np.unique(labels, return_counts=True)[1])
    assert not no_minlength.passed and "minlength=10" in no_minlength.hint
    bincount_only = check("02.count_classes", lambda labels: np.bincount(labels))
    assert not bincount_only.passed
    broken = check("02.count_classes", lambda labels: labels.count(1))
    assert not broken.passed and "AttributeError" in broken.message
    called = check("02.count_classes", np.bincount([1, 2], minlength=10))
    assert not called.passed and "function" in called.message


# --- found on a re-read (issue #16): answers a student gives, right and wrong ---------------------------------


def test_argmax_accepts_other_right_forms():
    import tensorflow as tf

    rows = np.eye(10, dtype=np.float32)[[7, 2, 1, 0, 4]]
    assert check("02.argmax", tf.argmax(rows, axis=1)).passed
    assert check("02.argmax", np.argmax(rows, axis=-1)).passed
    assert check("02.argmax", np.nonzero(rows)[1]).passed
    assert check("02.argmax", [7, 2, 1, 0, 4]).passed


def test_argmax_names_max_instead_of_argmax():
    rows = np.eye(10, dtype=np.float32)[[7, 2, 1, 0, 4]]
    for answer in (np.max(rows, axis=1), np.max(rows, axis=1).astype(int)):
        feedback = check("02.argmax", answer)
        assert not feedback.passed and "max" in feedback.message and "position" in feedback.hint


def test_count_classes_accepts_other_right_forms():
    import tensorflow as tf

    assert check("02.count_classes", lambda labels: np.array([np.sum(labels == d) for d in range(10)])).passed
    assert check("02.count_classes", lambda labels: [list(labels).count(d) for d in range(10)]).passed
    assert check("02.count_classes", lambda labels: tf.reduce_sum(tf.one_hot(labels, 10), axis=0)).passed
    assert check("02.count_classes", lambda labels: np.histogram(labels, bins=10, range=(0, 10))[0]).passed


def test_count_classes_refuses_shares_and_unranged_histograms():
    shares = check("02.count_classes", lambda labels: np.bincount(labels, minlength=10) / len(labels))
    assert not shares.passed
    histogram = check("02.count_classes", lambda labels: np.histogram(labels, bins=10)[0])
    assert not histogram.passed
