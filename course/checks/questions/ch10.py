"""Chapter 10 (optimizers): a momentum step, Adam's bias correction, escaping the saddle, picking a learning
rate from validation curves, the warm-up + cosine schedule, and the tuned network's test accuracy."""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import numpy as np

from course.checks.authoring import Wrong, call_student, close, expect_array, expect_number, hidden_case, reject_slips
from course.checks.catalog import RESULT, question
from course.checks.describe import describe, short

# --- exercise 1: one momentum step in PyTorch's convention (b ← βb + g, w ← w − αb) --------------------------


def _momentum_case(answer: Any, w: Any, b: Any, g: Any, lr: float, beta: float, what: str | None = None) -> None:
    """Call the student's momentum_step on one case and compare with (w − α(βb + g), βb + g)."""
    w, b, g = (np.asarray(a, dtype=np.float64) for a in (w, b, g))
    name = what or f"momentum_step(w={short(w.tolist())}, b={short(b.tolist())}, g={short(g.tolist())}, " \
                   f"learning_rate={lr}, momentum={beta})"
    args = [float(a) if a.ndim == 0 else a.copy() for a in (w, b, g)]
    result = call_student(answer, *args, lr, beta, name="momentum_step")
    if result is None:
        raise Wrong("momentum_step(...) returned None.", hint="End the function with return new_w, new_b.")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Wrong(f"momentum_step(...) returned {describe(result)}; expected a pair (new_w, new_b).",
                    hint="Return both: return new_w, new_b.")
    new_w = expect_array(result[0], shape=w.shape, name="new_w").astype(np.float64)
    new_b = expect_array(result[1], shape=w.shape, name="new_b").astype(np.float64)
    want_b = beta * b + g
    want_w = w - lr * want_b

    def same(x: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.allclose(x, y, rtol=1e-5, atol=1e-6))

    if same(new_w, want_w) and same(new_b, want_b):
        return
    if same(new_w, want_b) and same(new_b, want_w):
        raise Wrong("new_w and new_b are swapped.", hint="Return (new_w, new_b): the parameters first.")
    keras_v = beta * b - lr * g
    if same(new_b, keras_v) and same(new_w, w + keras_v):
        raise Wrong(f"{name}: that is Keras' convention, with the learning rate inside the velocity "
                    "(v ← βv − αg, w ← w + v).",
                    hint="This exercise asks for the other one: b ← βb + g (no α), then w ← w − α·b.")
    if same(new_b, want_b):
        if same(new_w, w - lr * b):
            raise Wrong(f"{name}: new_w moves with the old b.",
                        hint="Update b first, then step with the new b: w ← w − α·(βb + g).")
        if same(new_w, w + lr * want_b):
            raise Wrong(f"{name}: new_w moves uphill (w + α·b).", hint="Subtract the step: w ← w − α·b.")
        if same(new_w, w - want_b):
            raise Wrong(f"{name}: new_w forgets the learning rate.", hint="w ← w − α·b: multiply b by α.")
    if same(new_b, b + beta * g) or same(new_b, beta * g + (1 - beta) * b):
        raise Wrong(f"{name}: new_b puts β on the wrong term.",
                    hint="β keeps a fraction of the old velocity: b ← β·b + g.")
    if same(new_b, beta * b + (1 - beta) * g):
        raise Wrong(f"{name}: new_b is a running average (β·b + (1 − β)·g), as in Adam's m.",
                    hint="Plain momentum adds the whole gradient: b ← β·b + g.")
    expect_array(new_b, want_b, tol=1e-6, rel=1e-5, name=f"new_b of {name}")
    expect_array(new_w, want_w, tol=1e-6, rel=1e-5, name=f"new_w of {name}")


_RNG = np.random.default_rng(10)
_HIDDEN_MOMENTUM = [
    hidden_case(_momentum_case, 2.0, -1.0, 0.5, 0.1, 0.0, "momentum_step with momentum 0 (plain SGD)"),
    hidden_case(_momentum_case, _RNG.normal(size=(2, 3)).round(3), _RNG.normal(size=(2, 3)).round(3),
                     _RNG.normal(size=(2, 3)).round(3), 0.03, 0.99, "momentum_step on a 2 × 3 array, momentum 0.99"),
    hidden_case(_momentum_case, _RNG.normal(size=50).round(3), np.zeros(50), _RNG.normal(size=50).round(3), 0.5, 0.9,
                     "momentum_step from b = 0 on 50 parameters"),
]


@question(
    "10.momentum_step",
    title="One momentum step in PyTorch's convention: b ← βb + g, w ← w − αb",
    hint="new_b = momentum * b + g; new_w = w - learning_rate * new_b; return new_w, new_b.",
    hidden=_HIDDEN_MOMENTUM,
)
def momentum_step(answer: Any) -> str:
    _momentum_case(answer, 1.0, 0.5, 2.0, 0.1, 0.9)
    _momentum_case(answer, [1.0, -2.0, 3.0], [0.1, 0.0, -0.3], [0.5, -1.0, 2.0], 0.05, 0.9)
    _momentum_case(answer, [0.0, 4.0], [1.0, -1.0], [0.0, 0.0], 0.2, 0.5)
    return ("Right. Keras' velocity is v = −α·b: with a constant learning rate both conventions walk the same path; "
            "when a schedule changes α, Keras' old velocity keeps the old α in it.")


# --- exercise 2: Adam's bias correction 1 / (1 − βᵗ) ----------------------------------------------------------


def _correction_case(answer: Any, beta: float, t: int, what: str | None = None) -> None:
    expected = 1.0 / (1.0 - beta**t)
    name = what or f"bias_correction({beta}, {t})"
    result = call_student(answer, beta, t, name="bias_correction")
    if result is None:
        raise Wrong("bias_correction(...) returned None.", hint="End the function with return ... .")
    value = expect_number(result, expected, tol=float("inf"), name=name)
    if close(value, expected, rel=1e-6):
        return
    slips = [
        (1.0 - beta**t, f"{name} = {value:.6g} is 1 − βᵗ, the fraction m has reached: what m is divided by.",
         "m̂ = m / (1 − βᵗ): return the inverse, 1 / (1 − βᵗ)."),
        (beta**t, f"{name} = {value:.6g} is βᵗ.", "The factor is 1 / (1 − βᵗ)."),
        (1.0 / (1.0 - beta), f"{name} = {value:.6g} does not depend on t.", "Raise β to the power t: 1 / (1 − β**t)."),
    ]
    if t > 1:
        slips.append((1.0 / (1.0 - beta ** (t - 1)), f"{name} = {value:.6g} is one step behind (t − 1).",
                      "The first step is t = 1, where the factor is 1 / (1 − β)."))
    slips.append((1.0 / (1.0 - beta ** (t + 1)), f"{name} = {value:.6g} is one step ahead (t + 1).",
                  "Use βᵗ with the step number t itself."))
    reject_slips(value, slips, rel=1e-6)
    expect_number(value, expected, tol=0.0, rel=1e-6, name=name)


_HIDDEN_CORRECTION = [
    hidden_case(_correction_case, 0.5, 3, "bias_correction with β = 0.5 after 3 steps"),
    hidden_case(_correction_case, 0.95, 50, "bias_correction with β = 0.95 after 50 steps"),
    hidden_case(_correction_case, 0.9, 1000, "bias_correction after 1,000 steps (it has reached 1)"),
]


@question(
    "10.bias_correction",
    title="Adam's bias-correction factor m̂ / m = 1 / (1 − βᵗ) after step t",
    hint="After t steps of a constant gradient m = (1 − βᵗ)·g, so Adam multiplies it by 1 / (1 − beta ** t).",
    hidden=_HIDDEN_CORRECTION,
)
def bias_correction(answer: Any) -> str:
    for beta, t in ((0.9, 10), (0.9, 2), (0.999, 100), (0.9, 1), (0.999, 1)):
        _correction_case(answer, beta, t)
    return ("Right: 10 after the first step with β₁ = 0.9 (1,000 for β₂ = 0.999), falling towards 1 as t grows; "
            "Keras folds √(1 − β₂ᵗ) / (1 − β₁ᵗ) into the learning rate.")


# --- exercise 3: when each optimizer escapes the saddle, started 10 times closer to the ridge ------------------

# The saddle run of section 7 as committed (the notebook's settings cell; a test keeps them equal).
SADDLE_START = (1.0, 0.001)
SADDLE_STEPS = 150
SADDLE_LEARNING_RATE = 0.01
SADDLE_MOMENTUM = 0.9
OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam")
# The exercise's run: the same, from a start 10 times closer to the ridge y = 0 (every escaping path passes
# |y| = 1 at least 0.004 away from it, so float32 and float64 agree on the step).
EXERCISE_START = (1.0, 1e-4)


def saddle_path(name: str, start: tuple[float, float] = SADDLE_START, steps: int = SADDLE_STEPS,
                lr: float = SADDLE_LEARNING_RATE, beta: float = SADDLE_MOMENTUM) -> np.ndarray:
    """The path of one optimizer on f = x² − y² with Keras' conventions (float64): steps + 1 points."""
    w = np.array(start, dtype=np.float64)
    v, m = np.zeros(2), np.zeros(2)
    acc = np.full(2, 0.1)  # Keras' Adagrad starts its accumulator at 0.1
    path = [w.copy()]
    for t in range(1, steps + 1):
        g = np.array([2.0 * w[0], -2.0 * w[1]])
        if name == "SGD":
            w = w - lr * g
        elif name == "Momentum":
            v = beta * v - lr * g
            w = w + v
        elif name == "Nesterov":
            v = beta * v - lr * g
            w = w + (beta * v - lr * g)
        elif name == "Adagrad":
            acc = acc + g**2
            w = w - lr * g / np.sqrt(acc + 1e-7)
        elif name == "RMSprop":
            v = 0.9 * v + 0.1 * g**2
            w = w - lr * g / np.sqrt(v + 1e-7)
        elif name == "Adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            w = w - lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
        else:
            raise ValueError(f"unknown optimizer {name!r}")
        path.append(w.copy())
    return np.array(path)


def escape_step(path: np.ndarray) -> int | None:
    """The first t with |y| > 1 on a path (path[t] is the point after step t), or None."""
    out = np.nonzero(np.abs(path[:, 1]) > 1.0)[0]
    return int(out[0]) if len(out) else None


@functools.cache
def saddle_escapes(start: tuple[float, float] = SADDLE_START) -> dict[str, int | None]:
    """Each optimizer's escape step in the saddle run from ``start`` (section 7's run by default)."""
    return {name: escape_step(saddle_path(name, start=start)) for name in OPTIMIZERS}


def _step_value(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise Wrong(f"The value for {name} is {value}, a yes/no.",
                    hint="Give the step number t at which |y| first exceeds 1, or None if it never does.")
    number = expect_number(value, 0, tol=float("inf"), name=f"the step for {name}")
    if number != int(number):
        raise Wrong(f"The step for {name} is {number:g}, not a whole number.",
                    hint="The step number is an index into the path: path[t] is the point after step t.")
    return int(number)


def _start(point: tuple[float, float]) -> str:
    return f"({point[0]:g}, {point[1]:g})"


@question(
    "10.saddle_escape",
    title="The step at which each optimizer escapes the saddle (|y| > 1), or None",
    hint="Run section 7's loop again with the start (1.0, 0.0001), then for each path: "
         "steps = np.nonzero(np.abs(path[:, 1]) > 1)[0]; the first one, or None when there is none.",
)
def saddle_escape(answer: Any) -> str:
    if not isinstance(answer, dict):
        raise Wrong(f"The answer is {describe(answer)}; expected a dict from each optimizer's name to a step.",
                    hint='For example {"SGD": None, "Momentum": 12, ...}, one entry per name in saddle_paths.')
    keys = {str(k): k for k in answer}
    missing = [n for n in OPTIMIZERS if n not in keys]
    if missing:
        lowered = {str(k).lower() for k in answer}
        if all(n.lower() in lowered for n in missing):
            raise Wrong(f"Some names are spelled differently: {', '.join(missing)}.",
                        hint="Use the keys of saddle_paths exactly: " + ", ".join(OPTIMIZERS) + ".")
        raise Wrong(f"The dict lacks {', '.join(missing)}.", hint="Give one entry per optimizer in saddle_paths.")
    extra = [k for k in keys if k not in OPTIMIZERS]
    if extra:
        raise Wrong(f"The dict has names that are not in saddle_paths: {short(extra)}.")
    given = {n: _step_value(answer[keys[n]], n) for n in OPTIMIZERS}
    expected = saddle_escapes(EXERCISE_START)
    section7 = saddle_escapes(SADDLE_START)
    start = _start(EXERCISE_START)
    outside = [n for n, v in given.items() if v is not None and not 0 <= v <= SADDLE_STEPS]
    if outside:
        raise Wrong(f"The step for {outside[0]} is outside 0 ... {SADDLE_STEPS}.",
                    hint=f"path[t] is the point after step t; the run has {SADDLE_STEPS} steps.")
    if given == section7 != expected:
        raise Wrong(f"These are the steps of section 7's run, from {_start(SADDLE_START)}; this exercise starts "
                    f"at {start}.",
                    hint=f"Run the six optimizers again from {start}, with the same learning rate and steps.")
    for name in OPTIMIZERS:
        got, want = given[name], expected[name]
        if got == want:
            continue
        if got == 0:
            raise Wrong(f"Step 0 for {name} is the start, where |y| = {EXERCISE_START[1]:g}.",
                        hint="np.argmax on a comparison gives 0 when nothing is True; check that some |y| > 1.")
        if want is None:
            raise Wrong(f"{name} does not get |y| > 1 within the {SADDLE_STEPS} steps from {start}, but you gave "
                        f"step {got}.",
                        hint="Look at its largest |y|: np.abs(path[:, 1]).max().")
        if got is None:
            raise Wrong(f"{name} does get |y| > 1 within the {SADDLE_STEPS} steps from {start}.",
                        hint="Compare |y|, not y: the path may leave downwards (y < −1) as well as upwards.")
        if abs(got - want) == 1:
            raise Wrong(f"The step for {name} is one {'too late' if got > want else 'too early'}.",
                        hint="path[0] is the start and path[t] the point after step t: the index is the step.")
        if got == section7[name]:
            raise Wrong(f"{got} is {name}'s step in section 7's run, from {_start(SADDLE_START)}; from {start} "
                        "it escapes at another step.",
                        hint=f"Run {name} again from {start}, with the same learning rate and steps.")
        raise Wrong(f"{name} first has |y| > 1 at another step than {got}.",
                    hint=f"Use section 7's run (learning rate {SADDLE_LEARNING_RATE}, momentum {SADDLE_MOMENTUM}, "
                         f"{SADDLE_STEPS} steps) from {start}, and |y| > 1, not f < −1 or |y| ≥ 1.")
    moved = ", ".join(f"{n} {section7[n]} → {expected[n]}" for n in OPTIMIZERS
                      if expected[n] is not None and section7[n] is not None)
    return (f"Right. From 10 times closer to the ridge: {moved}. Momentum's |y| grows by a factor each step, so "
            "each tenfold closer start costs it the same number of extra steps; RMSProp and Adam divide by the size "
            "of the gradient, so how small it is hardly matters.")


# --- exercise 4: the learning rate with the lowest validation loss ------------------------------------------

_NAN = float("nan")


def _history(val: list[float], train: list[float] | None = None,
             accuracy: list[float] | None = None) -> dict[str, list[float]]:
    """A Keras history dict; the validation accuracy follows the validation loss unless given."""
    train = train if train is not None else [v - 0.05 for v in val]
    accuracy = accuracy if accuracy is not None else [0.95 - v / 2 for v in val]
    return {"loss": train, "val_loss": val, "accuracy": [a + 0.02 for a in accuracy], "val_accuracy": accuracy}


def _best(histories: dict) -> float:
    return min(histories, key=lambda lr: np.nanmin(np.where(np.isfinite(histories[lr]["val_loss"]),
                                                            histories[lr]["val_loss"], np.inf)))


def _best_lr_case(answer: Any, histories: dict, what: str) -> None:
    expected = _best(histories)
    result = call_student(answer, copy.deepcopy(histories), name="best_learning_rate")
    if result is None:
        raise Wrong("best_learning_rate(...) returned None.", hint="End the function with return ... .")
    if isinstance(result, (tuple, list)) and len(result) == 2:
        raise Wrong(f"best_learning_rate returned a pair ({short(result)}) for {what}.",
                    hint="Return only the learning rate (the dict key).")
    value = expect_number(result, expected, tol=float("inf"), name=f"best_learning_rate on {what}")
    if close(value, expected, rel=1e-6):  # a float32 copy of the key is the same rate
        return
    rates = list(histories)
    matches = [lr for lr in rates if close(value, lr, rel=1e-6)]
    if not matches:
        lows = [float(np.nanmin(h["val_loss"])) for h in histories.values() if np.isfinite(h["val_loss"]).any()]
        if any(close(value, low, rel=1e-9) for low in lows):
            raise Wrong(f"best_learning_rate returned {value:g}, a validation loss, for {what}.",
                        hint="Return the learning rate (the dict key) whose run reached that loss.")
        if value == int(value) and 0 <= value < len(rates):
            raise Wrong(f"best_learning_rate returned {value:g}, a position, for {what}.",
                        hint="Return the learning rate itself (the dict key), not its index.")
        raise Wrong(f"best_learning_rate returned {value:g}, which is not one of the learning rates of {what}.")
    value = matches[0]
    chosen = histories[value]
    if not np.isfinite(chosen["val_loss"]).all():
        raise Wrong(f"For {what} you picked {value:g}, a run with NaN in its validation loss.",
                    hint="NaN is neither smaller nor larger than anything, so min() is fooled by it: keep only the "
                         "finite values of each run, and count a run with none as infinitely bad.")
    slips = [
        (min(histories, key=lambda lr: histories[lr]["val_loss"][-1]),
         f"For {what} you picked {value:g}: the lowest final validation loss, not the lowest at any epoch.",
         "Take each run's smallest validation loss over all epochs (min of the whole list)."),
        (min(histories, key=lambda lr: np.nanmin(histories[lr]["loss"])),
         f"For {what} you picked {value:g}: the lowest training loss.",
         "Use 'val_loss': the training loss keeps falling as a model overfits."),
        (max(histories, key=lambda lr: np.nan_to_num(histories[lr]["val_accuracy"][-1], nan=-1.0)),
         f"For {what} you picked {value:g}: the best validation accuracy, the way chosen_rate was picked.",
         "This function uses the validation loss: each run's lowest 'val_loss' over all epochs."),
        (max(histories, key=lambda lr: np.nanmax(histories[lr]["val_loss"])),
         f"For {what} you picked {value:g}: the highest validation loss.", "Take the lowest, with min."),
    ]
    for slip, message, hint in slips:
        if value == slip:
            raise Wrong(message, hint=hint)
    raise Wrong(f"For {what} you picked {value:g}; another learning rate reaches a lower validation loss.",
                hint="For each run take the smallest finite value of its 'val_loss', then the learning rate with "
                     "the smallest of these.")


_CASES_BEST = [
    ("three runs", {
        1e-4: _history([1.2, 0.95, 0.80, 0.72]),
        1e-3: _history([0.70, 0.52, 0.47, 0.45]),
        1e-2: _history([0.60, 0.50, 0.52, 0.56], train=[0.5, 0.3, 0.2, 0.1]),
    }),
    ("runs whose best epoch is not the last", {
        0.001: _history([0.70, 0.50, 0.48, 0.47]),
        0.003: _history([0.55, 0.42, 0.46, 0.55]),
        0.03: _history([0.9, 0.8, 0.85, 0.9], accuracy=[0.6, 0.7, 0.8, 0.86]),  # confident and often right
    }),
    ("runs where one diverged to NaN", {
        0.1: _history([_NAN, _NAN, _NAN]),
        0.03: _history([0.9, 0.45, _NAN]),
        0.01: _history([0.7, 0.55, 0.50]),
    }),
]


_HIDDEN_BEST = [
    hidden_case(_best_lr_case, {0.5: _history([0.3])}, "a single run of one epoch"),
    hidden_case(_best_lr_case, {1.0: _history([_NAN, 2.3]), 0.3: _history([0.8, 0.6, 0.61, 0.7, 0.9, 1.2]),
                  0.1: _history([0.9, 0.7, 0.62, 0.6, 0.605, 0.61]), 0.03: _history([1.0, 0.8, 0.7, 0.65, 0.62, 0.61])},
                 "four runs, the NaN run listed first"),
    hidden_case(_best_lr_case, {lr: _history(list(np.linspace(1.0, 0.3 + abs(np.log10(lr) + 2.5) / 10, 8)))
                  for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)}, "a sweep of six rates"),
]


@question(
    "10.best_learning_rate",
    title="A function best_learning_rate(histories): the rate whose validation loss gets lowest",
    hint="For each run take the smallest finite value of history['val_loss'] (float('inf') when there is none), "
         "then the learning rate (the key) with the smallest of these.",
    hidden=_HIDDEN_BEST,
)
def best_learning_rate(answer: Any) -> str:
    for what, histories in _CASES_BEST:
        _best_lr_case(answer, histories, what)
    return "Right: the lowest point of each validation curve, where early stopping would have kept the weights."


# --- exercise 5: the warm-up + cosine schedule of keras.optimizers.schedules.CosineDecay ----------------------


def cosine_with_warmup(step: float, peak: float, warmup_steps: int, decay_steps: int) -> float:
    """Keras' CosineDecay(0.0, decay_steps, warmup_target=peak, warmup_steps=warmup_steps) at ``step``."""
    s = min(float(step), warmup_steps + decay_steps)
    if s < warmup_steps:
        return peak * s / warmup_steps
    return peak * 0.5 * (1.0 + math.cos(math.pi * (s - warmup_steps) / decay_steps))


def _schedule_case(answer: Any, peak: float, warmup: int, decay: int, steps: list[int],
                   what: str | None = None) -> None:
    for step in steps:
        expected = cosine_with_warmup(step, peak, warmup, decay)
        name = (f"{what}, " if what else "") + f"warmup_cosine({step}, {peak:g}, {warmup}, {decay})"
        result = call_student(answer, step, peak, warmup, decay, name="warmup_cosine")
        if result is None:
            raise Wrong("warmup_cosine(...) returned None.", hint="End the function with return ... .")
        value = expect_number(result, expected, tol=float("inf"), name=name)
        tol = 1e-6 * abs(peak)  # float32 (a TensorFlow answer) rounds the end of the cosine to about 1e-8·peak
        if close(value, expected, tol=tol, rel=1e-5):
            continue
        s = step - warmup
        slips = []
        if step < warmup:
            slips.append((peak * (step + 1) / warmup, f"{name} = {value:.6g}: the warm-up is one step ahead.",
                          "At step 0 the rate is 0 (Keras starts from initial_learning_rate = 0.0): peak · step / W."))
        else:
            slips += [
                (peak * 0.5 * (1 + math.cos(math.pi * s / decay)),
                 f"{name} = {value:.6g}: after the last step the rate should stay at its final value.",
                 "Keras clips the step: use min(step − W, D) in the cosine."),
                (peak * 0.5 * (1 + math.cos(math.pi * min(step, warmup + decay) / decay)),
                 f"{name} = {value:.6g}: the cosine starts at step 0 instead of at the end of the warm-up.",
                 "After the warm-up, count from its end: (step − W) / D."),
                (peak * (1 + math.cos(math.pi * min(s, decay) / decay)),
                 f"{name} = {value:.6g} is twice the rate: the ½ in front of (1 + cos) is missing.",
                 "peak · ½ · (1 + cos(π · (step − W) / D)) goes from peak down to 0."),
                (peak * (1 - min(s, decay) / decay), f"{name} = {value:.6g}: that is a linear decay.",
                 "Follow half a cosine: ½ · (1 + cos(π · fraction))."),
                (peak * 0.5 * (1 + math.cos(min(s, decay) / decay)), f"{name} = {value:.6g}: π is missing.",
                 "The angle goes from 0 to π: cos(π · (step − W) / D)."),
            ]
        for slip, message, hint in slips:
            if close(value, slip, tol=tol, rel=1e-5):
                raise Wrong(message, hint=hint)
        expect_number(value, expected, tol=tol, rel=1e-5, name=name)


_HIDDEN_SCHEDULE = [
    hidden_case(_schedule_case, 0.1, 1, 10, [0, 1, 2, 6, 11, 12, 500], "a warm-up of one step"),
    hidden_case(_schedule_case, 3e-4, 500, 9500, [0, 250, 499, 500, 5250, 9999, 10_000, 20_000], "a long schedule"),
    hidden_case(_schedule_case, 1.0, 7, 3, [3, 7, 8, 9, 10, 11], "a decay shorter than the warm-up"),
]


@question(
    "10.warmup_cosine",
    title="A function warmup_cosine(step, peak, warmup_steps, decay_steps) equal to Keras' CosineDecay with warm-up",
    hint="s = min(step, W + D); if s < W: peak * s / W; else peak * 0.5 * (1 + cos(pi * (s - W) / D)).",
    hidden=_HIDDEN_SCHEDULE,
)
def warmup_cosine(answer: Any) -> str:
    _schedule_case(answer, 0.001, 20, 80, [0, 5, 19, 20, 21, 60, 99, 100, 150])
    _schedule_case(answer, 0.01, 4, 16, [2, 4, 12, 20, 40])
    return "Right: a linear ramp to the peak, half a cosine down to 0, and 0 after the end, as Keras computes it."


# --- the chapter's result -------------------------------------------------------------------------------------


@question(
    "10.tuned_accuracy",
    title="Test accuracy of the tuned Fashion-MNIST network",
    hint="Pass the test accuracy of the network trained with the schedule, a fraction between 0 and 1 "
         "(model.evaluate(x_test, y_test) returns [loss, accuracy]).",
    kind=RESULT,
)
def tuned_accuracy(answer: Any) -> str:
    value = expect_number(answer, 0.8, tol=float("inf"), name="the test accuracy")
    if 1.0 < value <= 100.0:
        raise Wrong(f"{value:.4g} looks like a percentage.", hint="Pass a fraction between 0 and 1 (divide by 100).")
    if not 0.0 <= value <= 1.0:
        raise Wrong(f"{value:.4g} is not an accuracy (a fraction between 0 and 1).")
    if value < 0.2:
        raise Wrong(f"{value:.1%} is near chance (10%): the network did not learn.",
                    hint="Look at the learning rate the sweep chose: a diverged run stays at chance.")
    if value < 0.70:
        raise Wrong(f"{value:.1%} is low for a 128-unit network on Fashion-MNIST (about 77% after 5 epochs on 2,000 "
                    "images, 85% after 10 epochs on 10,000).",
                    hint="Check the learning rate and the schedule, or train for more epochs.")
    return (f"{value:.1%}. With 10,000 images and 10 epochs (full mode) this network reaches about 85%; "
            "a CNN (chapter 06) does better.")
