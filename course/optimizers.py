"""Chapter 10's plumbing: run an update rule along a path, run a Keras optimizer along the same path, pick the
rule and the Keras optimizer that a settings entry such as ``VALLEY_HYPER["SGD"]`` names, and draw the paths.

The update rules themselves (``sgd``, ``momentum``, ``adam``, ...) are the chapter's: a rule is a function
``rule(w, g, s, t, **settings)`` that returns the new parameters ``w`` from the gradient ``g``, keeping its own
memory in the dict ``s`` (empty at the start) and told the step number ``t`` (1, 2, 3, ...).

Keras' ``SGD`` is one class for three of the chapter's rules: ``SGD()`` is plain SGD, ``SGD(momentum=β)`` is
momentum, ``SGD(momentum=β, nesterov=True)`` is Nesterov. :func:`choose` picks the chapter's rule the same way,
so an entry ``"SGD": {"learning_rate": 0.9, "momentum": 0.5}`` runs the momentum rule, as Keras would.

Bad settings raise :class:`SettingsError`, whose message is one line naming the entry and what it takes.
TensorFlow, Keras and Matplotlib are imported inside the functions, so ``import course.optimizers`` stays fast.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SGD_FAMILY", "Choice", "SettingsError", "choose", "descend", "descend_keras", "draw_path",
           "draw_paths", "draw_surface", "escape_step"]

# The chapter's names of the three rules that are all Keras' SGD class.
SGD_FAMILY = ("SGD", "Momentum", "Nesterov")

Rule = Callable[..., Any]


class SettingsError(ValueError):
    """A settings entry the chapter's rules cannot run; the message is one line."""


def _parameters(rule: Rule) -> tuple[dict[str, Any], bool]:
    """The settings a rule takes (after w, g, s, t) with their defaults, and whether it takes **kwargs."""
    try:
        signature = inspect.signature(rule)
    except (TypeError, ValueError):
        return {}, True
    params = list(signature.parameters.values())
    named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][4:]
    any_keyword = any(p.kind == p.VAR_KEYWORD for p in params)
    return {p.name: (None if p.default is p.empty else p.default) for p in named}, any_keyword


def _rule_name(rule: Rule) -> str:
    return getattr(rule, "__name__", type(rule).__name__)


def _keras_class(name: str) -> Any:
    """Keras' optimizer class for a rule's name (the three SGD rules share one), or None."""
    import keras

    return getattr(keras.optimizers, "SGD" if name in SGD_FAMILY else name, None)


def _keras_parameters(name: str) -> set[str]:
    cls = _keras_class(name)
    if cls is None:
        return set()
    return {p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs", "name")}


def _check_value(entry: str, key: str, value: Any) -> None:
    if key == "nesterov":
        if not isinstance(value, (bool, np.bool_)):
            raise SettingsError(f"{entry}: nesterov is {value!r}; give True or False.")
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        what = "a string" if isinstance(value, str) else type(value).__name__
        extra = " (the 2-D runs take a fixed rate; section 9 shows schedules)" if key == "learning_rate" else ""
        raise SettingsError(f"{entry}: {key} is {value!r}, {what}; give a number{extra}.")
    if not np.isfinite(float(value)):
        raise SettingsError(f"{entry}: {key} is {value!r}; give a finite number.")


@dataclass(frozen=True)
class Choice:
    """The rule that runs one settings entry, all of the settings it runs with, and its Keras twin."""

    name: str                      # the entry's name, e.g. "SGD"
    rule: Rule                     # the chapter's rule that runs it, e.g. momentum for SGD with a momentum
    settings: dict[str, Any] = field(default_factory=dict)  # the entry's settings and the rule's defaults
    nesterov: bool = False         # for Keras' SGD: the Nesterov form

    def keras(self) -> Any:
        """A new Keras optimizer with the same settings (Keras' SGD for the three SGD rules)."""
        cls = _keras_class(self.name)
        if cls is None:
            raise SettingsError(f"{self.name!r} is not an optimizer of keras.optimizers, so it has no Keras twin.")
        settings = {k: float(v) if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) else v
                    for k, v in self.settings.items()}   # Keras' SGD refuses a momentum of int 0
        if self.name in SGD_FAMILY:
            settings = {"learning_rate": settings["learning_rate"], "momentum": settings.get("momentum", 0.0),
                        "nesterov": self.nesterov}
        try:
            return cls(**settings)
        except (TypeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SettingsError(f"keras.optimizers.{cls.__name__} refuses the settings for {self.name!r}: "
                                f"{first}") from None

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.settings.items())
        return f"{_rule_name(self.rule)}({shown})"


def choose(name: str, hyper: Mapping[str, Any] | None, rules: Mapping[str, Rule]) -> Choice:
    """The rule of ``rules`` that runs the settings ``hyper`` of the entry ``name``, with every setting it takes.

    ``rules`` maps names ("SGD", "Momentum", ..., "Adam") to the chapter's rules. For the three names of Keras'
    SGD the settings choose the rule as Keras does: a nesterov of True gives ``rules["Nesterov"]``, else a
    momentum other than 0 gives ``rules["Momentum"]``, else ``rules["SGD"]``; a missing momentum or nesterov is
    what the entry's own name implies (the rule's default momentum; nesterov for "Nesterov" only). Settings the
    rule does not take raise :class:`SettingsError` (one line: which, and what the rule takes).
    """
    entry = f"The settings for {name!r}"
    if name not in rules:
        raise SettingsError(f"There is no rule named {name!r}; the rules are {', '.join(map(repr, rules))}.")
    if hyper is None:
        hyper = {}
    if not isinstance(hyper, Mapping):
        raise SettingsError(f"{entry} are {type(hyper).__name__} {hyper!r}; give a dict such as "
                            "{'learning_rate': 0.1}.")
    for key in hyper:
        if not isinstance(key, str):
            raise SettingsError(f"{entry}: the key {key!r} is not a name; write it in quotes, e.g. 'learning_rate'.")
    settings = dict(hyper)
    nesterov = False
    chosen = name
    if name in SGD_FAMILY:
        for key in ("momentum", "nesterov"):
            if key in settings:
                _check_value(entry, key, settings[key])
        own_defaults, _ = _parameters(rules[name])
        momentum = settings.get("momentum", own_defaults.get("momentum") or 0.0)
        nesterov = bool(settings.pop("nesterov", name == "Nesterov"))
        if momentum < 0 or momentum >= 1:
            raise SettingsError(f"{entry}: momentum is {momentum!r}; give a number from 0 up to (not including) 1.")
        chosen = "Nesterov" if nesterov else ("Momentum" if momentum else "SGD")
        if chosen not in rules:
            raise SettingsError(f"{entry} ask for the {chosen} rule, but there is no rule named {chosen!r}.")
        if chosen == "SGD":
            settings.pop("momentum", None)
        else:
            settings["momentum"] = momentum
    rule = rules[chosen]
    defaults, any_keyword = _parameters(rule)
    unknown = [key for key in settings if key not in defaults]
    if unknown and not any_keyword:
        key = unknown[0]
        takes = ", ".join(defaults) or "no settings"
        if key in _keras_parameters(name):
            raise SettingsError(f"{entry} set {key}: Keras' optimizer has it, but the chapter's rule "
                                f"{_rule_name(rule)} does not (it takes {takes}).")
        raise SettingsError(f"{entry} set {key!r}, which is not a setting of {_rule_name(rule)} (it takes {takes}).")
    for key, value in settings.items():
        _check_value(entry, key, value)
    missing = [key for key, default in defaults.items() if default is None and key not in settings]
    if missing:
        raise SettingsError(f"{entry} lack {missing[0]}, which {_rule_name(rule)} needs (it has no default).")
    full = {key: settings.get(key, default) for key, default in defaults.items()}
    full.update({key: settings[key] for key in unknown})
    return Choice(name=name, rule=rule, settings=full, nesterov=nesterov)


def _as_point(start: Any) -> Any:
    import tensorflow as tf

    try:
        point = np.asarray(start, dtype=np.float32)
    except (TypeError, ValueError):
        raise SettingsError(f"The start {start!r} is not a point: give numbers, e.g. (-4.5, 1.5).") from None
    if point.ndim != 1 or not np.isfinite(point).all():
        raise SettingsError(f"The start {start!r} is not a point: give finite numbers, e.g. (-4.5, 1.5).")
    return tf.constant(point)


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise SettingsError(f"The number of steps is {steps!r}; give a whole number of at least 1.")
    return int(steps)


def descend(rule: Rule, f: Callable[[Any], Any], start: Any, steps: int, **settings: Any) -> np.ndarray:
    """The path of ``rule`` on ``f`` from ``start``: an array of steps + 1 points, path[t] the point after step t.

    At each step ``tf.GradientTape`` measures the gradient g of f at w, then ``rule(w, g, s, t, **settings)``
    returns the new w (t is the step number as a float32 tensor, 1.0, 2.0, ...; ``s`` the rule's dict). It runs
    eagerly, one step at a time, so a rule may be any Python (print inside it to watch it work).
    """
    import tensorflow as tf

    steps = _check_steps(steps)
    w = _as_point(start)
    state: dict[str, Any] = {}
    path = [w.numpy()]
    for t in range(1, steps + 1):
        with tf.GradientTape() as tape:
            tape.watch(w)                   # w is a plain tensor, not a Variable: ask the tape to follow it
            loss = tf.convert_to_tensor(f(w))
        g = tape.gradient(loss, w)
        if g is None:
            raise SettingsError(f"The gradient of {_rule_name(f)} is None: compute the loss from w with "
                                "TensorFlow operations.")
        new = rule(w, g, state, tf.constant(float(t)), **settings)
        if new is None:
            raise SettingsError(f"The rule {_rule_name(rule)} returned None at step {t}: end it with return new_w.")
        w = tf.convert_to_tensor(new, dtype=tf.float32)
        if w.shape != path[0].shape:
            raise SettingsError(f"The rule {_rule_name(rule)} returned shape {tuple(w.shape)} at step {t}; w has "
                                f"shape {path[0].shape}.")
        path.append(w.numpy())
    return np.stack(path)


def descend_keras(optimizer: Any, f: Callable[[Any], Any], start: Any, steps: int) -> np.ndarray:
    """Like :func:`descend`, but each step is ``optimizer.apply_gradients`` on a ``tf.Variable``."""
    import tensorflow as tf

    steps = _check_steps(steps)
    w = tf.Variable(_as_point(start))
    optimizer.build([w])                    # create its state (velocities, averages) before the first step
    path = [w.numpy()]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = f(w)
        optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        path.append(w.numpy())
    return np.stack(path)


def escape_step(path: np.ndarray, limit: float = 1.0) -> int | None:
    """The first step t at which |y| = |path[t, 1]| exceeds ``limit``, or None if it never does."""
    out = np.nonzero(np.abs(np.asarray(path)[:, 1]) > limit)[0]
    return int(out[0]) if len(out) else None


def draw_surface(ax: Any, f: Callable[[Any], Any], xlim: tuple[float, float], ylim: tuple[float, float],
                 levels: Any) -> None:
    """Contour lines (등고선) of f over a grid, in grey; f is called on the stacked grid, f(np.stack([xs, ys]))."""
    xs, ys = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    ax.contour(xs, ys, f(np.stack([xs, ys])), levels=levels, colors="grey", linewidths=0.6)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def draw_path(ax: Any, path: np.ndarray, mark: tuple[float, float] = (0, 0)) -> None:
    """One path in blue, its start as a black dot and the point ``mark`` (the minimum) as a red star."""
    ax.plot(path[:, 0], path[:, 1], ".-", color="tab:blue", markersize=3, linewidth=1)
    ax.plot(*path[0], "ko")
    ax.plot(*mark, "r*", markersize=10)


def draw_paths(paths: Mapping[str, np.ndarray], f: Callable[[Any], Any], view: Mapping[str, Any], title: str,
               mark: tuple[float, float] = (0, 0)) -> None:
    """Each path on the contour lines of f, one panel per name (three to a row), f at its end in the title."""
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(paths) // 3))
    fig, axes = plt.subplots(rows, 3, figsize=(15, 3.75 * rows), sharex=True, sharey=True, squeeze=False)
    for ax in axes.ravel()[len(paths):]:
        ax.set_visible(False)
    for ax, (name, path) in zip(axes.ravel(), paths.items()):
        draw_surface(ax, f, **view)
        draw_path(ax, path, mark)
        ax.set_title(f"{name}: f = {float(f(path[-1])):.3g} after {len(path) - 1} steps")
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()
