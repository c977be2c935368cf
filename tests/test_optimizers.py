"""course.optimizers, chapter 10's plumbing: choosing the rule and Keras' twin for a settings entry, the paths,
the one-line messages; and the chapter's own cells run again with the settings a student would change."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from course import optimizers
from course.optimizers import SettingsError, choose, descend, descend_keras, escape_step

matplotlib.use("Agg")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "10_optimizers.ipynb"


# The chapter's rules, as the chapter writes them (the notebook test below runs the chapter's own).
def sgd(w, g, s, t, learning_rate=0.01):
    return w - learning_rate * g


def momentum(w, g, s, t, learning_rate=0.01, momentum=0.9):
    s["v"] = momentum * s.get("v", 0.0) - learning_rate * g
    return w + s["v"]


def nesterov(w, g, s, t, learning_rate=0.01, momentum=0.9):
    s["v"] = momentum * s.get("v", 0.0) - learning_rate * g
    return w + (momentum * s["v"] - learning_rate * g)


def adam(w, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    import tensorflow as tf

    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g**2
    alpha_t = learning_rate * tf.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - alpha_t * s["m"] / (tf.sqrt(s["v"]) + epsilon)


RULES = {"SGD": sgd, "Momentum": momentum, "Nesterov": nesterov, "Adam": adam}


def valley(w):
    return 0.02 * w[0] ** 2 + w[1] ** 2


# --- choose ----------------------------------------------------------------------------------------------------


def test_an_entry_runs_its_own_rule_with_the_rules_defaults_filled_in():
    chosen = choose("Adam", {"learning_rate": 0.2}, RULES)
    assert chosen.rule is adam
    assert chosen.settings == {"learning_rate": 0.2, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    assert str(chosen) == "adam(learning_rate=0.2, beta_1=0.9, beta_2=0.999, epsilon=1e-07)"
    assert choose("SGD", None, RULES).settings == {"learning_rate": 0.01}


@pytest.mark.parametrize(("name", "hyper", "rule", "settings", "keras_nesterov"), [
    ("SGD", {"learning_rate": 0.9}, sgd, {"learning_rate": 0.9}, False),
    ("SGD", {"learning_rate": 0.9, "momentum": 0.5}, momentum, {"learning_rate": 0.9, "momentum": 0.5}, False),
    ("SGD", {"learning_rate": 0.9, "momentum": 0.5, "nesterov": True}, nesterov,
     {"learning_rate": 0.9, "momentum": 0.5}, True),
    ("SGD", {"learning_rate": 0.9, "momentum": 0}, sgd, {"learning_rate": 0.9}, False),
    ("Momentum", {"learning_rate": 0.1}, momentum, {"learning_rate": 0.1, "momentum": 0.9}, False),
    ("Momentum", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, nesterov,
     {"learning_rate": 0.1, "momentum": 0.9}, True),
    ("Nesterov", {"learning_rate": 0.1, "nesterov": False}, momentum, {"learning_rate": 0.1, "momentum": 0.9}, False),
    ("Momentum", {"learning_rate": 0.1, "momentum": 0.0}, sgd, {"learning_rate": 0.1}, False),
])
def test_keras_sgd_settings_pick_the_rule_keras_would_run(name, hyper, rule, settings, keras_nesterov):
    chosen = choose(name, hyper, RULES)
    assert chosen.rule is rule
    assert chosen.settings == settings
    twin = chosen.keras()
    assert type(twin).__name__ == "SGD"
    assert twin.nesterov is keras_nesterov
    assert float(twin.momentum) == pytest.approx(settings.get("momentum", 0.0))


@pytest.mark.parametrize(("name", "hyper"), [
    ("SGD", {"learning_rate": 0.9, "momentum": 0.5}),
    ("SGD", {"learning_rate": 0.5, "momentum": 0.5, "nesterov": True}),
    ("Momentum", {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}),
    ("Adam", {"learning_rate": 0.2, "beta_1": 0.8, "epsilon": 1e-3}),
    ("Adam", {"learning_rate": 1}),
])
def test_the_hand_written_rule_and_its_keras_twin_walk_the_same_path(name, hyper):
    chosen = choose(name, hyper, RULES)
    hand = descend(chosen.rule, valley, (-4.5, 1.5), 30, **chosen.settings)
    by_keras = descend_keras(chosen.keras(), valley, (-4.5, 1.5), 30)
    assert hand.shape == by_keras.shape == (31, 2)
    np.testing.assert_allclose(hand, by_keras, atol=1e-5)


@pytest.mark.parametrize(("name", "hyper", "part"), [
    ("Adam", {"learning_rate": 0.2, "amsgrad": True}, "Keras' optimizer has it, but the chapter's rule adam does not"),
    ("Adam", {"lr": 0.2}, "'lr', which is not a setting of adam (it takes learning_rate, beta_1, beta_2, epsilon)"),
    ("SGD", {"learning_rate": 0.9, "weight_decay": 0.1}, "Keras' optimizer has it"),
    ("Adam", {"learning_rate": "0.2"}, "learning_rate is '0.2', a string; give a number"),
    ("Adam", {"learning_rate": None}, "give a number"),
    ("Adam", {"learning_rate": float("nan")}, "finite"),
    ("SGD", {"learning_rate": 0.9, "nesterov": "yes"}, "True or False"),
    ("SGD", {"learning_rate": 0.9, "momentum": 1.5}, "from 0 up to"),
    ("SGD", {"learning_rate": 0.9, "momentum": -0.1}, "from 0 up to"),
    ("SGD", 0.9, "give a dict"),
    ("SGD", {1: 0.9}, "is not a name"),
    ("Adamax", {}, "no rule named 'Adamax'"),
])
def test_settings_the_rules_cannot_run_get_one_line(name, hyper, part):
    with pytest.raises(SettingsError) as error:
        choose(name, hyper, RULES)
    message = str(error.value)
    assert part in message
    assert "\n" not in message
    assert f"'{name}'" in message


def test_a_schedule_as_the_learning_rate_is_refused_in_one_line():
    import keras

    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    with pytest.raises(SettingsError, match="fixed rate") as error:
        choose("Adam", {"learning_rate": schedule}, RULES)
    assert "\n" not in str(error.value)


def test_a_rule_of_the_students_own_needs_no_keras_twin_until_asked():
    def halving(w, g, s, t, learning_rate=0.1):
        return w - learning_rate / t * g

    chosen = choose("Halving", {"learning_rate": 0.5}, {"Halving": halving})
    path = descend(chosen.rule, valley, (-4.5, 1.5), 5, **chosen.settings)
    assert path.shape == (6, 2)
    with pytest.raises(SettingsError, match="no Keras twin"):
        chosen.keras()


def test_keras_refusing_a_setting_is_one_line():
    def rmsprop_with_power(w, g, s, t, learning_rate=0.1, power=0.5):  # a setting Keras' RMSprop does not have
        return w - learning_rate * g

    chosen = choose("RMSprop", {"power": 0.3}, {"RMSprop": rmsprop_with_power})
    assert chosen.settings == {"learning_rate": 0.1, "power": 0.3}
    with pytest.raises(SettingsError, match="keras.optimizers.RMSprop refuses the settings for 'RMSprop'") as error:
        chosen.keras()
    assert "\n" not in str(error.value)


def test_a_rule_with_keyword_arguments_takes_any_setting():
    chosen = choose("Adam", {"learning_rate": 0.1, "beta_1": 0.8}, {"Adam": lambda w, g, s, t, **settings: w})
    assert chosen.settings == {"learning_rate": 0.1, "beta_1": 0.8}
    assert float(chosen.keras().beta_1) == pytest.approx(0.8)


# --- descend, descend_keras, escape_step -------------------------------------------------------------------------


def test_descend_records_the_start_and_every_step():
    path = descend(sgd, valley, (-4.5, 1.5), 50, learning_rate=0.3)
    assert path.shape == (51, 2) and path.dtype == np.float32
    np.testing.assert_array_equal(path[0], [-4.5, 1.5])
    np.testing.assert_allclose(path[-1, 0], -4.5 * (1 - 0.04 * 0.3) ** 50, rtol=1e-4)  # x × (1 − 0.04α) per step


def test_a_rule_sees_its_state_and_the_step_number():
    seen = []

    def counting(w, g, s, t, learning_rate=0.1):
        s["calls"] = s.get("calls", 0) + 1
        seen.append((s["calls"], float(t)))
        return w - learning_rate * g

    descend(counting, valley, (1.0, 1.0), 3)
    assert seen == [(1, 1.0), (2, 2.0), (3, 3.0)]


@pytest.mark.parametrize(("rule", "start", "steps", "part"), [
    (lambda w, g, s, t: None, (1.0, 1.0), 3, "returned None at step 1"),
    (lambda w, g, s, t: w[:1], (1.0, 1.0), 3, "returned shape (1,)"),
    (sgd, "here", 3, "is not a point"),
    (sgd, (1.0, float("inf")), 3, "finite"),
    (sgd, (1.0, 1.0), 0, "at least 1"),
    (sgd, (1.0, 1.0), 2.5, "whole number"),
])
def test_descend_says_what_is_wrong_in_one_line(rule, start, steps, part):
    with pytest.raises(SettingsError, match=part.replace("(", r"\(").replace(")", r"\)")) as error:
        descend(rule, valley, start, steps)
    assert "\n" not in str(error.value)


def test_a_loss_that_does_not_depend_on_w_is_named():
    with pytest.raises(SettingsError, match="gradient"):
        descend(sgd, lambda w: 1.0, (1.0, 1.0), 2)


def test_escape_step():
    path = np.array([[1.0, 0.001], [0.9, -0.5], [0.8, -1.0], [0.7, -1.5], [0.6, 3.0]])
    assert escape_step(path) == 3
    assert escape_step(path, limit=5.0) is None


def test_draw_paths_draws_one_panel_per_path_and_hides_the_rest(monkeypatch):
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    paths = {name: descend(sgd, valley, (-4.5, 1.5), 5, learning_rate=lr) for name, lr in [("a", 0.1), ("b", 0.5)]}
    optimizers.draw_paths(paths, valley, {"xlim": (-5, 1), "ylim": (-2, 2), "levels": 5}, "title")
    (fig,) = shown
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2 and visible[0].get_title().startswith("a: f = ")
    plt.close(fig)


# --- the chapter's own cells with the settings a student changes (issue #16, point 6) ---------------------------


def _cells() -> dict[str, str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return {c["id"]: "".join(c["source"]) for c in cells if c["cell_type"] == "code"}


# The settings, the rules, the Keras comparison (section 5), the valley's numbers (6) and the saddle (7).
CHAPTER_CELLS = ["c02", "c03", "c05", "c05c", "c07", "c09", "c12", "c14b", "c16b", "c18", "c18b"]


def _run_chapter(monkeypatch, change: str) -> dict:
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: plt.close("all"))
    cells = _cells()
    namespace: dict = {}
    for cell in CHAPTER_CELLS:
        exec(compile(cells[cell], f"<chapter 10, cell {cell}>", "exec"), namespace)  # noqa: S102 - our own notebook
        if cell == "c02":
            exec(change, namespace)  # noqa: S102 - the student's change to the settings cell
    return namespace


def test_sgd_with_momentum_and_other_changed_settings_run_in_the_chapter(monkeypatch):
    """Exercise 6 (a) gives SGD a momentum; a student also tries other settings of the same optimizers."""
    namespace = _run_chapter(monkeypatch, "\n".join([
        'VALLEY_HYPER["SGD"]["momentum"] = 0.5',
        'VALLEY_HYPER["Momentum"]["nesterov"] = True',
        'VALLEY_HYPER["Adam"].update(beta_1=0.8, epsilon=1e-4)',
        'VALLEY_HYPER["RMSprop"]["rho"] = 0.99',
        'del VALLEY_HYPER["Adagrad"]',
    ]))
    assert max(namespace["gaps"].values()) < 1e-5          # section 5's comparison held: still Keras' paths
    path = namespace["valley_paths"]["SGD"]
    assert float(namespace["valley"](path[-1])) < 0.001   # plain SGD at 0.9 ends at f ≈ 0.01
    assert namespace["escapes"]["SGD"] is None            # the saddle keeps its own settings


def test_a_diverging_rate_and_a_start_on_the_ridge_run_in_the_chapter(monkeypatch):
    """Exercise 6 (d) starts the saddle on its ridge; a learning rate too large makes |y| double at every step."""
    namespace = _run_chapter(monkeypatch, 'VALLEY_HYPER["SGD"]["learning_rate"] = 1.5\nSADDLE_START = (1.0, 0.0)')
    assert max(namespace["gaps"].values()) < 1e-5
    assert abs(namespace["valley_paths"]["SGD"][-1, 1]) > 1e10
    assert set(namespace["escapes"].values()) == {None}


def test_keras_sgd_with_nesterov_and_other_saddle_settings_run_in_the_chapter(monkeypatch):
    namespace = _run_chapter(monkeypatch, "\n".join([
        'VALLEY_HYPER["SGD"] = {"learning_rate": 0.5, "momentum": 0.5, "nesterov": True}',
        "SADDLE_LEARNING_RATE, SADDLE_MOMENTUM = 0.03, 0.5",
        "VALLEY_STEPS, SADDLE_STEPS = 10, 30",
    ]))
    assert max(namespace["gaps"].values()) < 1e-5
    assert namespace["saddle_paths"]["SGD"].shape == (31, 2)


def test_a_setting_the_rules_lack_stops_the_chapter_with_one_line(monkeypatch):
    with pytest.raises(SettingsError) as error:
        _run_chapter(monkeypatch, 'VALLEY_HYPER["Adam"]["amsgrad"] = True')
    assert str(error.value) == ("The settings for 'Adam' set amsgrad: Keras' optimizer has it, but the chapter's "
                                "rule adam does not (it takes learning_rate, beta_1, beta_2, epsilon).")
