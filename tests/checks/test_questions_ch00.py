"""Chapter 00 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import numpy as np
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


def test_gpu_count_accepts_numpys_integers_too():
    import tensorflow as tf

    n = len(tf.config.list_physical_devices("GPU"))
    assert check("00.gpu_count", np.int64(n)).passed
    assert check("00.gpu_count", sum(1 for d in tf.config.list_physical_devices() if d.device_type == "GPU")).passed


@pytest.mark.parametrize(
    ("answer", "parts"),
    [
        ([-0.0], ("list of length 1", "len(")),  # issue #16: this array used to pass as "0 GPUs"
        (np.array([-0.0]), ("ndarray with shape (1,)", "whole number", "len(")),
        (np.array(0), ("ndarray with shape ()", "not an array")),
        (-1, ("cannot be negative",)),
        (True, ("yes/no", "whole number")),
        (False, ("yes/no", "whole number")),
        (np.bool_(False), ("yes/no",)),
        (0.0, ("float", "an int", "len(...) gives an int")),
        (1.0, ("float", "an int")),
        ("0", ("not text", "quotes")),
        ({"GPU": 0}, ("dict", "whole number")),
    ],
)
def test_gpu_count_refuses_what_is_not_a_count(answer, parts):
    feedback = check("00.gpu_count", answer)
    assert not feedback.passed, str(feedback)
    text = feedback.message + " " + (feedback.hint or "")
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


def test_gpu_count_refuses_a_tensor():
    import tensorflow as tf

    feedback = check("00.gpu_count", tf.constant(len(tf.config.list_physical_devices("GPU"))))
    assert not feedback.passed and "tensor" in feedback.hint


@pytest.mark.parametrize("answer", ["/GPU:0", "/gpu:0", "/device:GPU:0", " GPU:0 ", "device:GPU:0",
                                    "/job:localhost/replica:0/task:0/device:GPU:0"])
def test_first_gpu_device_accepts_the_usual_spellings(answer):
    assert check("00.first_gpu_device", answer).passed


@pytest.mark.parametrize(
    ("answer", "hint_part"),
    [
        ("/GPU:1", "numbered from 0"),
        ("/CPU:0", "Replace the device type"),
        ("gpu0", '"/GPU:"'),
        ("GPU", '"/GPU:"'),
        (0, "in quotes"),
        ("/physical_device:GPU:0", 'Leave out "physical_device"'),
        ("/job:localhost/replica:0/task:0/device:CPU:0", "Replace the device type"),
        ("/GPU:O", None),
    ],
)
def test_first_gpu_device_wrong_answers_get_hints(answer, hint_part):
    feedback = check("00.first_gpu_device", answer)
    assert not feedback.passed
    assert hint_part is None or hint_part in (feedback.hint or "")


def test_tensorflow_version():
    import keras
    import tensorflow as tf

    assert check("00.tensorflow_version", tf.__version__).passed
    assert check("00.tensorflow_version", tf.version.VERSION).passed
    for answer, part in [(tf, "the module tensorflow"), (tf.version, "module"), (keras.__version__, "Keras"),
                         (tf.__version__.rsplit(".", 1)[0], "only the start"), ("1.15.0", "Do not type it in"),
                         (float(tf.__version__.split(".")[0]), "as it is")]:
        feedback = check("00.tensorflow_version", answer)
        assert not feedback.passed, answer
        assert part in feedback.message + " " + (feedback.hint or ""), (answer, str(feedback))


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
