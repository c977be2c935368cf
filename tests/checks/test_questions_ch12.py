"""Chapter 12 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from course.checks import check
from course.checks.questions import ch12


def _split(model):
    return (int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            int(sum(np.prod(w.shape) for w in model.non_trainable_weights)))


def _unfreeze(model, n):
    model.trainable = True
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= len(model.layers) - n and not isinstance(layer, keras.layers.BatchNormalization)


@pytest.fixture(autouse=True)
def _grading_mode(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")  # hidden cases run too


def test_the_committed_placeholders_fail():
    for qid in ("12.trainable_and_frozen", "12.unfreeze_top", "12.fine_tune_lr", "12.winner_100_labels"):
        assert not check(qid, None).passed


def test_trainable_and_frozen_passes_and_names_the_slips():
    assert check("12.trainable_and_frozen", _split).passed
    swapped = check("12.trainable_and_frozen", lambda m: _split(m)[::-1])
    assert not swapped.passed and "swapped" in swapped.message
    total = check("12.trainable_and_frozen", lambda m: (m.count_params(), 0))
    assert not total.passed and "total" in total.message
    tensors = check("12.trainable_and_frozen",
                    lambda m: (len(m.trainable_weights), len(m.non_trainable_weights)))
    assert not tensors.passed and "tensors" in tensors.message
    by_layer = check("12.trainable_and_frozen",  # misses BatchNormalization's moving averages in trainable layers
                     lambda m: (sum(layer.count_params() for layer in m.layers if layer.trainable),
                                sum(layer.count_params() for layer in m.layers if not layer.trainable)))
    assert not by_layer.passed and "moving averages" in (by_layer.hint or "")


def test_unfreeze_top_passes_and_names_the_slips():
    assert check("12.unfreeze_top", _unfreeze).passed

    def still_frozen(model, n):
        for layer in model.layers[-n:]:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    result = check("12.unfreeze_top", still_frozen)
    assert not result.passed and "model.trainable = True" in result.hint

    def with_bn(model, n):
        model.trainable = True
        for i, layer in enumerate(model.layers):
            layer.trainable = i >= len(model.layers) - n
    result = check("12.unfreeze_top", with_bn)
    assert not result.passed and "BatchNormalization" in result.message

    def first_n(model, n):
        model.trainable = True
        for i, layer in enumerate(model.layers):
            layer.trainable = i < n and not isinstance(layer, keras.layers.BatchNormalization)
    result = check("12.unfreeze_top", first_n)
    assert not result.passed and "first 3" in result.message

    def slice_zero(model, n):  # right for n > 0; model.layers[-0:] is every layer, which a hidden case catches
        model.trainable = True
        for layer in model.layers:
            layer.trainable = False
        for layer in model.layers[-n:]:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    result = check("12.unfreeze_top", slice_zero)
    assert not result.passed and "hidden" in str(result).lower()


def _lr(weights, steps, fraction):
    return fraction * np.std(weights) / steps


def test_fine_tune_lr_passes_with_np_std_or_the_sample_standard_deviation():
    assert check("12.fine_tune_lr", _lr).passed
    assert check("12.fine_tune_lr", lambda w, s, f: f * float(np.std(np.asarray(w, np.float64), ddof=1)) / s).passed


@pytest.mark.parametrize(("answer", "part"), [
    (lambda w, s, f: f * np.std(w), "distance a weight may move"),
    (lambda w, s, f: f * np.std(w) * s, "multiplied by the number of steps"),
    (lambda w, s, f: np.std(w) / s, "fraction (0.5) is missing"),
    (lambda w, s, f: f * np.std(w) / np.sqrt(s), "square root of the steps"),
    (lambda w, s, f: f * np.var(w) / s, "variance"),
    (lambda w, s, f: f * np.mean(np.abs(w)) / s, "mean absolute value"),
    (lambda w, s, f: f * np.max(np.abs(w)) / s, "largest weight"),
    (lambda w, s, f: f * np.mean(w) / s, "mean of the weights"),
    (lambda w, s, f: f * np.std(w) / (s - 1), "steps − 1"),
    (lambda w, s, f: 1e-3, "the largest rate is"),            # the chapter's FINE_TUNE_LEARNING_RATE, copied
    (lambda w, s, f: 1e-2 / 10, "the largest rate is"),       # "ten times lower than training"
    (lambda w, s, f: -f * np.std(w) / s, "the largest rate is"),
    (lambda w, s, f: None, "returned None"),
    (lambda w, s, f: np.full(2, 1e-4), "single number"),
    (lambda w, s, f: str(_lr(w, s, f)), "expected a number"),
])
def test_fine_tune_lr_names_the_wrong_answers_a_student_would_give(answer, part):
    feedback = check("12.fine_tune_lr", answer)
    assert not feedback.passed and part in feedback.message, str(feedback)


@pytest.mark.parametrize("value", [1e-3, 3e-4, "1e-3"])
def test_fine_tune_lr_wants_the_function_not_a_number(value):
    feedback = check("12.fine_tune_lr", value)
    assert not feedback.passed and "should be a function" in feedback.message


def test_fine_tune_lr_root_mean_square_is_caught_by_the_hidden_case_only(monkeypatch):
    def rms(weights, steps, fraction):  # right while the weights are centred, as the public ones are
        return fraction * np.sqrt(np.mean(np.square(weights))) / steps

    monkeypatch.delenv("COURSE_GRADING")
    assert check("12.fine_tune_lr", rms).passed
    monkeypatch.setenv("COURSE_GRADING", "1")
    graded = check("12.fine_tune_lr", rms)
    assert not graded.passed and "root mean square" in graded.message


TABLE = {"from scratch": {100: 0.55, 1000: 0.70}, "feature extraction": {100: 0.66, 1000: 0.69},
         "fine-tuning": {100: 0.64, 1000: 0.73}}


def test_the_winner_is_read_from_this_kernels_table():
    ch12._RUN.clear()
    no_table = check("12.winner_100_labels", "feature extraction")
    assert not no_table.passed and "section 6" in no_table.hint
    assert check("12.transfer_table", TABLE).passed
    assert check("12.winner_100_labels", "feature extraction").passed
    assert check("12.winner_100_labels", "Feature_Extraction").passed
    assert not check("12.winner_100_labels", "fine-tuning").passed
    assert not check("12.winner_100_labels", "from scratch").passed
    assert not check("12.winner_100_labels", "transfer").passed
    other = {**TABLE, "fine-tuning": {100: 0.70, 1000: 0.73}}
    assert check("12.transfer_table", other).passed
    assert check("12.winner_100_labels", "fine-tuning").passed  # another run, another winner
    assert not check("12.winner_100_labels", "feature extraction").passed


def test_the_table_result_requires_transfer_to_beat_scratch_at_100_labels():
    losing = {**TABLE, "from scratch": {100: 0.9, 1000: 0.9}}
    feedback = check("12.transfer_table", losing)
    assert not feedback.passed and "does not beat" in feedback.message
    assert not check("12.transfer_table", {"from scratch": {100: 0.5}}).passed


def test_from_scratch_can_win_exercise_4_when_it_won_the_run():
    """The table is recorded whatever the outcome, so the winner is graded against the student's own run."""
    ch12._RUN.clear()
    losing = {**TABLE, "from scratch": {100: 0.9, 1000: 0.9}}
    assert not check("12.transfer_table", losing).passed  # the chapter's claim failed in this run ...
    right = check("12.winner_100_labels", "from scratch")
    assert right.passed, str(right)  # ... and the student who reads the table right still passes
    assert not check("12.winner_100_labels", "fine-tuning").passed
    assert not check("12.winner_100_labels", "feature extraction").passed


def test_a_bad_table_does_not_replace_the_recorded_one():
    ch12._RUN.clear()
    assert check("12.transfer_table", TABLE).passed
    assert not check("12.transfer_table", {"from scratch": {100: 0.5}}).passed
    assert not check("12.transfer_table", {**TABLE, "fine-tuning": {100: 1.5, 1000: 0.7}}).passed
    assert check("12.winner_100_labels", "feature extraction").passed


def test_winner_near_tie_and_slips():
    ch12._RUN.clear()
    assert check("12.transfer_table", {**TABLE, "fine-tuning": {100: 0.657, 1000: 0.73}}).passed
    near = check("12.winner_100_labels", "fine-tuning")  # 0.003 below the best: a tie at 1,000 test images
    assert near.passed and "near tie" in near.message
    for slip in ("transfer learning", "pretrained", 2, ["feature extraction"]):
        assert not check("12.winner_100_labels", slip).passed
