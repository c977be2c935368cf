"""Chapter 00 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import pytest

from course.checks import check


def test_gpu_count_matches_tensorflow():
    import tensorflow as tf

    n = len(tf.config.list_physical_devices("GPU"))
    assert check("00.gpu_count", n).passed
    wrong = check("00.gpu_count", n + 1)
    assert not wrong.passed and "off by 1" in wrong.message


def test_gpu_count_rejects_the_list_itself():
    feedback = check("00.gpu_count", [])
    assert not feedback.passed
    assert "len(" in feedback.hint


@pytest.mark.parametrize("answer", ["/GPU:0", "/gpu:0", "/device:GPU:0", " GPU:0 "])
def test_first_gpu_device_accepts_the_usual_spellings(answer):
    assert check("00.first_gpu_device", answer).passed


@pytest.mark.parametrize(
    ("answer", "hint_part"),
    [
        ("/GPU:1", "numbered from 0"),
        ("/CPU:0", "Replace the device type"),
        ("gpu0", '"/GPU:"'),
        (0, "in quotes"),
    ],
)
def test_first_gpu_device_wrong_answers_get_hints(answer, hint_part):
    feedback = check("00.first_gpu_device", answer)
    assert not feedback.passed
    assert hint_part in (feedback.hint or "")


def test_speedup_correct_and_inverted():
    assert check("00.speedup", 3.862 / 0.0877).passed
    assert check("00.speedup", 44).passed
    inverted = check("00.speedup", 0.0877 / 3.862)
    assert not inverted.passed and "other way round" in inverted.hint
    difference = check("00.speedup", 3.862 - 0.0877)
    assert not difference.passed and "Divide" in difference.hint
    assert not check("00.speedup", "44").passed


def test_strict_mode_raises_for_a_wrong_given_answer(monkeypatch):
    monkeypatch.setenv("COURSE_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError, match="00.speedup"):
        check("00.speedup", 1.0)
    assert not check("00.speedup", None).passed  # None = not attempted: never raises


def test_speedup_edges():
    assert check("00.speedup", 3.862 / 0.0877 + 0.49).passed
    assert not check("00.speedup", 3.862 / 0.0877 + 0.51).passed
    assert "other way round" in check("00.speedup", 0.0877 / 3.862 + 0.0009).hint
    assert "other way round" not in (check("00.speedup", 0.0877 / 3.862 + 0.0011).hint or "")
