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


@pytest.mark.parametrize(("value", "part"), [(1e-2, "as large"), (0.1, "as large"), (5e-3, "little below"),
                                             (1e-8, "almost nothing"), (-1e-3, "positive")])
def test_fine_tune_lr_range(value, part):
    feedback = check("12.fine_tune_lr", value)
    assert not feedback.passed and part in feedback.message


def test_fine_tune_lr_accepts_a_tenth_to_a_thousandth():
    for value in (1e-3, 3e-4, 1e-5):
        assert check("12.fine_tune_lr", value).passed


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
