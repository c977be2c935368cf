"""Chapter 10 questions: a correct answer passes, typical wrong answers fail with a useful hint."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from course.checks import check
from course.checks.questions import ch10

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "10_optimizers.ipynb"


@pytest.fixture
def grading(monkeypatch):
    """Hidden cases run too (an instructor grading)."""
    monkeypatch.setenv("COURSE_GRADING", "1")


def _message(feedback) -> str:
    return feedback.message + " " + (feedback.hint or "")


# --- 10.momentum_step -------------------------------------------------------------------------------------


def torch_momentum(w, b, g, learning_rate, momentum):
    b = momentum * b + g
    return w - learning_rate * b, b


def test_momentum_step_accepts_numpy_and_tensorflow(grading):
    feedback = check("10.momentum_step", torch_momentum)
    assert feedback.passed, feedback.message
    assert "hidden" in " ".join(feedback.notes)

    def with_tf(w, b, g, learning_rate, momentum):
        b = momentum * tf.constant(b, tf.float32) + tf.constant(g, tf.float32)
        return tf.constant(w, tf.float32) - learning_rate * b, b

    assert check("10.momentum_step", with_tf).passed


@pytest.mark.parametrize(("fn", "part"), [
    (lambda w, b, g, lr, beta: (w + (beta * b - lr * g), beta * b - lr * g), "Keras' convention"),
    (lambda w, b, g, lr, beta: (w - lr * b, beta * b + g), "old b"),
    (lambda w, b, g, lr, beta: (w + lr * (beta * b + g), beta * b + g), "uphill"),
    (lambda w, b, g, lr, beta: (w - (beta * b + g), beta * b + g), "learning rate"),
    (lambda w, b, g, lr, beta: (w - lr * (b + beta * g), b + beta * g), "wrong term"),
    (lambda w, b, g, lr, beta: (w - lr * (beta * b + (1 - beta) * g), beta * b + (1 - beta) * g), "running average"),
    (lambda w, b, g, lr, beta: (beta * b + g, w - lr * (beta * b + g)), "swapped"),
    (lambda w, b, g, lr, beta: w - lr * (beta * b + g), "pair"),
    (lambda w, b, g, lr, beta: None, "return"),
    (lambda w, b, g: (w, b), "TypeError"),
])
def test_momentum_step_names_the_slip(fn, part):
    feedback = check("10.momentum_step", fn)
    assert not feedback.passed
    assert part in _message(feedback)


def test_momentum_step_hidden_cases_catch_a_scalar_only_answer(grading):
    def scalar_only(w, b, g, learning_rate, momentum):
        if np.ndim(w) > 1:  # right on numbers and vectors, wrong on matrices
            return w, b
        return torch_momentum(w, b, g, learning_rate, momentum)

    assert check("10.momentum_step", scalar_only).passed is False


def test_momentum_step_conventions_walk_the_same_path():
    """The exercise's claim: with a constant learning rate, PyTorch's and Keras' momentum give the same w."""
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    w_keras = tf.Variable([1.0, -2.0])
    w, b = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(20):
        g = 2 * w  # the gradient of |w|², at the same point for both
        optimizer.apply_gradients([(tf.constant(2 * w_keras.numpy()), w_keras)])
        w, b = torch_momentum(w, b, g, 0.1, 0.9)
    np.testing.assert_allclose(w_keras.numpy(), w, rtol=1e-5, atol=1e-6)


# --- 10.bias_correction -----------------------------------------------------------------------------------


def test_bias_correction(grading):
    feedback = check("10.bias_correction", lambda beta, t: 1 / (1 - beta**t))
    assert feedback.passed, feedback.message
    assert check("10.bias_correction", lambda beta, t: tf.constant(1.0, tf.float64) / (1 - beta**t)).passed


@pytest.mark.parametrize(("fn", "part"), [
    (lambda beta, t: 1 - beta**t, "inverse"),
    (lambda beta, t: beta**t, "βᵗ"),
    (lambda beta, t: 1 / (1 - beta), "power t"),
    (lambda beta, t: 1 / (1 - beta ** (t - 1)), "first step is t = 1"),
    (lambda beta, t: 1 / (1 - beta ** (t + 1)), "one step ahead"),
    (lambda beta, t: 1 / (1 - beta) ** t, "off by"),
])
def test_bias_correction_names_the_slip(fn, part):
    feedback = check("10.bias_correction", fn)
    assert not feedback.passed
    assert part in _message(feedback)


def test_bias_correction_hidden_cases(grading):
    def memorised(beta, t):  # right on the public cases only
        return 1 / (1 - beta**t) if beta in (0.9, 0.999) and t <= 100 else 1.0

    assert not check("10.bias_correction", memorised).passed


# --- 10.saddle_escape ---------------------------------------------------------------------------------------


def _keras_saddle_escapes(start=ch10.SADDLE_START) -> dict:
    """The escape steps of the saddle run from ``start``, made by Keras' own optimizers in float32."""
    makers = {
        "SGD": lambda: keras.optimizers.SGD(learning_rate=ch10.SADDLE_LEARNING_RATE),
        "Momentum": lambda: keras.optimizers.SGD(learning_rate=ch10.SADDLE_LEARNING_RATE,
                                                    momentum=ch10.SADDLE_MOMENTUM),
        "Nesterov": lambda: keras.optimizers.SGD(learning_rate=ch10.SADDLE_LEARNING_RATE,
                                                    momentum=ch10.SADDLE_MOMENTUM, nesterov=True),
        "Adagrad": lambda: keras.optimizers.Adagrad(learning_rate=ch10.SADDLE_LEARNING_RATE),
        "RMSprop": lambda: keras.optimizers.RMSprop(learning_rate=ch10.SADDLE_LEARNING_RATE),
        "Adam": lambda: keras.optimizers.Adam(learning_rate=ch10.SADDLE_LEARNING_RATE),
    }
    escapes = {}
    for name, make in makers.items():
        optimizer, w = make(), tf.Variable(start, dtype=tf.float32)
        optimizer.build([w])

        @tf.function
        def run(optimizer=optimizer, w=w):
            path = tf.TensorArray(tf.float32, size=ch10.SADDLE_STEPS + 1).write(0, w.value())
            for t in tf.range(1, ch10.SADDLE_STEPS + 1):
                with tf.GradientTape() as tape:
                    loss = w[0] ** 2 - w[1] ** 2
                optimizer.apply_gradients([(tape.gradient(loss, w), w)])
                path = path.write(t, w.value())
            return path.stack()

        escapes[name] = ch10.escape_step(run().numpy())
    return escapes


@pytest.mark.parametrize("start", [ch10.SADDLE_START, ch10.EXERCISE_START], ids=["section 7", "exercise 3"])
def test_saddle_escapes_match_keras_in_float32(start):
    """The grader's float64 run and Keras' float32 run escape at the same steps (none sits near |y| = 1)."""
    assert _keras_saddle_escapes(start) == ch10.saddle_escapes(start)
    for name in ch10.OPTIMIZERS:
        y = np.abs(ch10.saddle_path(name, start=start)[:, 1])
        assert np.min(np.abs(y - 1.0)) > 1e-3, f"{name} passes too close to |y| = 1 for float32 to agree"


def test_saddle_runs_are_the_ones_the_chapter_describes():
    """Section 7's text and its assertion state these steps; exercise 3's run differs for every escaping rule
    but Adam (so the steps printed in section 7 are not its answer)."""
    assert ch10.saddle_escapes() == {"SGD": None, "Momentum": 72, "Nesterov": 67, "Adagrad": None,
                                     "RMSprop": 72, "Adam": 77}
    exercise = ch10.saddle_escapes(ch10.EXERCISE_START)
    assert exercise == {"SGD": None, "Momentum": 95, "Nesterov": 89, "Adagrad": None, "RMSprop": 73, "Adam": 77}


def test_saddle_escape_accepts_the_students_computation():
    answer = {}
    for name in ch10.OPTIMIZERS:
        out = np.nonzero(np.abs(ch10.saddle_path(name, start=(1.0, 0.0001))[:, 1]) > 1)[0]
        answer[name] = int(out[0]) if len(out) else None
    feedback = check("10.saddle_escape", answer)
    assert feedback.passed, feedback.message
    assert "Momentum 72 → 95" in feedback.message and "RMSprop 72 → 73" in feedback.message
    numpy_ints = {k: (None if v is None else np.int64(v)) for k, v in answer.items()}
    assert check("10.saddle_escape", numpy_ints).passed


def _right() -> dict:
    return dict(ch10.saddle_escapes(ch10.EXERCISE_START))


def test_saddle_escape_names_the_slip():
    escaped = [n for n, v in _right().items() if v is not None]
    stuck = [n for n, v in _right().items() if v is None]

    argmax_slip = _right() | {stuck[0]: 0}  # np.argmax of an all-False array
    assert "start" in _message(check("10.saddle_escape", argmax_slip))
    late = {n: (None if v is None else v + 1) for n, v in _right().items()}
    assert "one too late" in _message(check("10.saddle_escape", late))
    early = {n: (None if v is None else v - 1) for n, v in _right().items()}
    assert "one too early" in _message(check("10.saddle_escape", early))
    never = _right() | {escaped[0]: None}
    assert "does get |y| > 1" in _message(check("10.saddle_escape", never))
    invented = _right() | {stuck[0]: 100}
    assert "does not get |y| > 1" in _message(check("10.saddle_escape", invented))
    far = _right() | {escaped[0]: _right()[escaped[0]] + 10}
    assert "another step" in _message(check("10.saddle_escape", far))
    yes_no = {n: v is not None for n, v in _right().items()}
    assert "yes/no" in _message(check("10.saddle_escape", yes_no))
    lower = {n.lower(): v for n, v in _right().items()}
    assert "spelled differently" in _message(check("10.saddle_escape", lower))
    assert "lacks" in _message(check("10.saddle_escape", {"SGD": None}))
    assert "dict" in _message(check("10.saddle_escape", ["SGD"]))
    assert "outside" in _message(check("10.saddle_escape", _right() | {escaped[0]: 500}))
    assert "whole number" in _message(check("10.saddle_escape", _right() | {escaped[0]: 70.5}))


def test_saddle_escape_refuses_section_7s_steps():
    """The steps section 7 prints, copied whole or for one optimizer, are not the answer from the new start."""
    copied = check("10.saddle_escape", dict(ch10.saddle_escapes()))
    assert not copied.passed and "section 7's run" in _message(copied)
    one = check("10.saddle_escape", _right() | {"Momentum": ch10.saddle_escapes()["Momentum"]})
    assert not one.passed and "Momentum's step in section 7's run" in _message(one)


def test_saddle_escape_refuses_the_guess_that_everything_escapes_or_nothing_does():
    assert not check("10.saddle_escape", {n: None for n in ch10.OPTIMIZERS}).passed
    assert not check("10.saddle_escape", {n: 50 for n in ch10.OPTIMIZERS}).passed
    assert not check("10.saddle_escape", {n: 75 for n in ch10.OPTIMIZERS}).passed


# --- 10.best_learning_rate ----------------------------------------------------------------------------------


def best_learning_rate(histories):
    def lowest(history):
        finite = [v for v in history["val_loss"] if np.isfinite(v)]
        return min(finite) if finite else float("inf")

    return min(histories, key=lambda lr: lowest(histories[lr]))


def test_best_learning_rate(grading):
    feedback = check("10.best_learning_rate", best_learning_rate)
    assert feedback.passed, feedback.message

    def float32_key(histories):
        return np.float32(best_learning_rate(histories))

    assert check("10.best_learning_rate", float32_key).passed


@pytest.mark.parametrize(("fn", "part"), [
    (lambda h: min(h, key=lambda lr: h[lr]["val_loss"][-1]), "final validation loss"),
    (lambda h: min(h, key=lambda lr: min(h[lr]["loss"])), "training loss"),
    (lambda h: max(h, key=lambda lr: max(h[lr]["val_loss"])), "highest"),
    (lambda h: min(h, key=lambda lr: np.nanmin(h[lr]["val_loss"])), "NaN"),
    (lambda h: min(h, key=lambda lr: min(h[lr]["val_loss"])), "NaN"),
    (lambda h: min(min(x["val_loss"]) for x in h.values()), "a validation loss"),
    (lambda h: 0, "position"),
    (lambda h: 0.7777, "not one of the learning rates"),
    (lambda h: (best_learning_rate(h), 0.4), "pair"),
    (lambda h: max(h, key=lambda lr: h[lr]["val_accuracy"][-1]), "chosen_rate"),
    (lambda h: max(h, key=lambda lr: max(h[lr]["val_accuracy"])), "chosen_rate"),
])
def test_best_learning_rate_names_the_slip(fn, part):
    feedback = check("10.best_learning_rate", fn)
    assert not feedback.passed
    assert part in _message(feedback)


def test_best_learning_rate_hidden_cases(grading):
    public = {(1e-4, 1e-3, 1e-2): 1e-3, (0.001, 0.003, 0.03): 0.003, (0.1, 0.03, 0.01): 0.03}

    def memorised(histories):  # the public cases' answers, looked up
        return public[tuple(histories)]

    assert not check("10.best_learning_rate", memorised).passed

    def mutates(histories):  # the grader gives each call its own copy
        result = best_learning_rate(histories)
        histories.clear()
        return result

    assert check("10.best_learning_rate", mutates).passed


# --- 10.warmup_cosine ---------------------------------------------------------------------------------------


def warmup_cosine(step, peak, warmup_steps, decay_steps):
    s = min(step, warmup_steps + decay_steps)
    if s < warmup_steps:
        return peak * s / warmup_steps
    return peak * 0.5 * (1 + math.cos(math.pi * (s - warmup_steps) / decay_steps))


def test_the_grader_formula_is_keras_cosine_decay():
    for peak, warmup, decay in [(0.001, 20, 80), (0.1, 1, 10), (1.0, 7, 3)]:
        schedule = keras.optimizers.schedules.CosineDecay(0.0, decay, warmup_target=peak, warmup_steps=warmup)
        for step in range(0, 2 * (warmup + decay)):
            assert float(schedule(step)) == pytest.approx(ch10.cosine_with_warmup(step, peak, warmup, decay),
                                                          rel=1e-5, abs=1e-9)


def test_warmup_cosine(grading):
    feedback = check("10.warmup_cosine", warmup_cosine)
    assert feedback.passed, feedback.message

    def with_keras(step, peak, warmup_steps, decay_steps):
        schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps, warmup_target=peak,
                                                             warmup_steps=warmup_steps)
        return schedule(step)

    assert check("10.warmup_cosine", with_keras).passed


def _unclipped(step, peak, w, d):
    return peak * step / w if step < w else peak * 0.5 * (1 + math.cos(math.pi * (step - w) / d))


@pytest.mark.parametrize(("fn", "part"), [
    (_unclipped, "Keras clips the step"),
    (lambda step, peak, w, d: peak * step / w if step < w else
     peak * 0.5 * (1 + math.cos(math.pi * min(step, w + d) / d)), "end of the warm-up"),
    (lambda step, peak, w, d: peak * step / w if step < w else
     peak * (1 + math.cos(math.pi * min(step - w, d) / d)), "½"),
    (lambda step, peak, w, d: peak * step / w if step < w else peak * (1 - min(step - w, d) / d), "linear"),
    (lambda step, peak, w, d: peak * step / w if step < w else
     peak * 0.5 * (1 + math.cos(min(step - w, d) / d)), "π"),
    (lambda step, peak, w, d: peak * (step + 1) / w if step < w else warmup_cosine(step, peak, w, d), "one step ahead"),
    (lambda step, peak, w, d: peak, "off by"),
])
def test_warmup_cosine_names_the_slip(fn, part):
    feedback = check("10.warmup_cosine", fn)
    assert not feedback.passed
    assert part in _message(feedback)


def test_warmup_cosine_hidden_cases_catch_a_fixed_schedule(grading):
    def fixed(step, peak, warmup_steps, decay_steps):  # the public schedules' numbers, hard-coded
        return warmup_cosine(step, peak, 20 if peak == 0.001 else 4, 80 if peak == 0.001 else 16)

    assert not check("10.warmup_cosine", fixed).passed


# --- 10.tuned_accuracy (the chapter's result) ---------------------------------------------------------------


@pytest.mark.parametrize(("answer", "passed", "part"), [
    (0.88, True, "about 85%"), (0.77, True, ""), (0.65, False, "low"), (0.1, False, "chance"),
    (88.0, False, "percentage"), (-0.1, False, "not an accuracy"),
])
def test_tuned_accuracy(answer, passed, part):
    feedback = check("10.tuned_accuracy", answer)
    assert feedback.passed is passed
    assert part in _message(feedback)


# --- the notebook and the grader agree on the saddle run ----------------------------------------------------


def _settings() -> dict:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    source = next(s for s in sources if "fast_mode()" in s)
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def test_the_notebook_runs_the_saddle_the_grader_replays():
    settings = _settings()
    assert settings["SADDLE_START"] == ch10.SADDLE_START
    assert settings["SADDLE_STEPS"] == ch10.SADDLE_STEPS
    assert settings["SADDLE_LEARNING_RATE"] == ch10.SADDLE_LEARNING_RATE
    assert settings["SADDLE_MOMENTUM"] == ch10.SADDLE_MOMENTUM
    assert list(settings["VALLEY_HYPER"]) == list(ch10.OPTIMIZERS)


def test_exercise_3_names_the_start_the_grader_replays():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    text = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
                and "".join(c["source"]).startswith("**3.**"))
    assert "(1, 0.0001)" in text and ch10.EXERCISE_START == (1.0, 0.0001)
    assert f"learning rate {ch10.SADDLE_LEARNING_RATE}, momentum {ch10.SADDLE_MOMENTUM}, " \
           f"{ch10.SADDLE_STEPS} steps" in text
