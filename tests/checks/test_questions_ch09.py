"""Chapter 09 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from course.checks import check


def test_kept_checkpoints_matches_a_real_manager(tmp_path):
    step = tf.Variable(0)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), tmp_path, max_to_keep=3)
    for s in range(50, 401, 50):
        step.assign(s)
        manager.save(checkpoint_number=s)
    kept = [int(path.rsplit("-", 1)[1]) for path in manager.checkpoints]
    assert check("09.kept_checkpoints", kept).passed


@pytest.mark.parametrize(
    ("answer", "text"),
    [([50, 100, 150], "keeps the newest"), (list(range(50, 401, 50)), "max_to_keep"), ([350, 400, 450], "450"),
     ([400], "keeps 3")],
)
def test_kept_checkpoints_wrong_answers(answer, text):
    feedback = check("09.kept_checkpoints", answer)
    assert not feedback.passed
    assert text in f"{feedback.message} {feedback.hint}"


def test_restored_value():
    assert check("09.restored_value", tf.Variable([1.0, 2.0, 3.0])).passed
    not_restored = check("09.restored_value", [10.0, 20.0, 30.0])
    assert not not_restored.passed and "restore" in not_restored.hint
    zeros = check("09.restored_value", [0.0, 0.0, 0.0])
    assert not zeros.passed and "re-initialised" in zeros.message


def test_resumed():
    assert check("09.resumed", {"last_saved": 300, "resumed_from": 300}).passed
    scratch = check("09.resumed", {"last_saved": 300, "resumed_from": 0})
    assert not scratch.passed and "latest_checkpoint" in scratch.hint
    assert not check("09.resumed", {"last_saved": 300, "resumed_from": 200}).passed
    assert not check("09.resumed", (300, 300)).passed


def _save_and_load(model, folder):
    path = folder / "model.keras"
    model.save(path)
    return keras.models.load_model(path)


def test_keras_roundtrip():
    assert check("09.keras_roundtrip", _save_and_load).passed
    same = check("09.keras_roundtrip", lambda model, folder: model)
    assert not same.passed and "loaded from the file" in same.hint
    nothing = check("09.keras_roundtrip", lambda model, folder: model.save(folder / "model.keras"))
    assert not nothing.passed and "load_model" in nothing.hint
    wrong_suffix = check("09.keras_roundtrip", lambda model, folder: model.save(folder / "model.h6"))
    assert not wrong_suffix.passed and "raised" in wrong_suffix.message


def test_keras_roundtrip_rejects_a_fresh_model():
    def fresh(model, folder):
        model.save(folder / "model.keras")
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    feedback = check("09.keras_roundtrip", fresh)
    assert not feedback.passed and "predictions" in feedback.message


def test_kept_checkpoints_other_right_forms():
    for answer in ((400, 350, 300), {300, 350, 400}, range(300, 401, 50), [300.0, 350.0, 400.0]):
        assert check("09.kept_checkpoints", answer).passed, answer


def test_kept_checkpoints_refuses_fractions_and_names():
    fractions = check("09.kept_checkpoints", [300.7, 350.2, 400.9])   # int() would truncate these to the answer
    assert not fractions.passed and "whole number" in fractions.message
    names = check("09.kept_checkpoints", ["ckpt-300", "ckpt-350", "ckpt-400"])
    assert not names.passed and "not 'ckpt-300'" in names.hint


def test_resumed_with_a_missing_step_says_so():
    missing = check("09.resumed", {"last_saved": None, "resumed_from": 150})
    assert not missing.passed and "check itself failed" not in missing.message
    assert not check("09.resumed", {"last_saved": 150.5, "resumed_from": 150}).passed
