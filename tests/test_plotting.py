"""Tests for course.plotting: real figures (Agg), the Korean font, LivePlot, and display in a real Jupyter kernel."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402

from course import plotting  # noqa: E402
from course.plotting import (  # noqa: E402
    configure_korean_font,
    korean_font,
    plot_activations,
    plot_confusion_matrix,
    plot_history,
    plot_regression,
    show_images,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# --- import cost and the Korean font ------------------------------------------------------------------


def test_import_does_not_load_keras_or_tensorflow():
    code = ("import sys, course.plotting as p; "
            "print(p.korean_font(), 'keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["NanumGothic", "False", "False"]


def test_korean_font_is_nanum_gothic_and_minus_is_ascii():
    assert korean_font() == "NanumGothic"
    assert matplotlib.rcParams["font.family"][:2] == ["DejaVu Sans", "NanumGothic"]
    assert matplotlib.rcParams["axes.unicode_minus"] is False


def test_log_axis_exponents_and_arrows_have_glyphs(caplog):
    caplog.set_level(logging.WARNING, logger="matplotlib")
    fig = plt.figure()
    ax = fig.add_subplot()
    ax.semilogy([1e-6, 1e-2])  # exponent labels go through mathtext, which has no per-glyph fallback
    ax.set_title("기울기 소실 3 → 8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _png(fig)
    assert not [r for r in caplog.records if "glyph" in r.getMessage().lower()]


def test_korean_text_renders_without_missing_glyphs():
    fig = plot_activations()
    fig.axes[0].set_xlabel("입력 값 −1 → 1, α ✓")  # Hangul, U+2212, arrow, Greek, and a glyph NanumGothic lacks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = _png(fig)
    assert png.startswith(b"\x89PNG")


def test_missing_font_falls_back_quietly(capsys, caplog):
    caplog.set_level(logging.DEBUG, logger="matplotlib")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert configure_korean_font(families=("NoSuchKoreanFont",)) is None
        assert korean_font() is None
        assert "NanumGothic" not in matplotlib.rcParams["font.family"]
        assert capsys.readouterr() == ("", "")
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        # Control: without the font, Korean text really is missing glyphs (so the test above can fail).
        fig = plt.figure()
        fig.text(0.1, 0.5, "시그모이드")
        with pytest.warns(UserWarning, match="Glyph .* missing"):
            _png(fig)
    finally:
        assert configure_korean_font() == "NanumGothic"
    assert matplotlib.rcParams["font.family"].count("NanumGothic") == 1


# --- show_images --------------------------------------------------------------------------------------


def _title_colors(fig):
    return [to_rgba(ax.title.get_color()) for ax in fig.axes]


def test_show_images_titles_mark_wrong_predictions_red():
    images = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    predictions = np.eye(10)[[0, 1, 2, 3, 4, 5, 6, 1]]  # one-hot rows; the last one is wrong
    fig = show_images(images, labels, predictions, ncols=4, title="테스트 숫자")
    assert len(fig.axes) == 8
    assert [ax.title.get_text() for ax in fig.axes] == ["0", "1", "2", "3", "4", "5", "6", "7 → 1"]
    colors = _title_colors(fig)
    assert colors[-1] == to_rgba("red")
    assert all(c == to_rgba("black") for c in colors[:-1])
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    assert fig.get_suptitle() == "테스트 숫자"
    rows_cols = {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes}
    assert rows_cols == {(2, 4)}


def test_show_images_one_hot_labels_class_names_and_shapes():
    names = ["T-shirt", "Trouser", "Pullover"]
    fig = show_images(np.zeros((3, 28, 28, 1)), labels=np.eye(3)[[2, 0, 1]], class_names=names)
    assert [ax.title.get_text() for ax in fig.axes] == ["Pullover", "T-shirt", "Trouser"]
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    rgb = show_images(np.random.default_rng(1).normal(size=(2, 10, 12, 3)))  # floats outside [0, 1]
    data = rgb.axes[0].images[0].get_array()
    assert data.shape == (10, 12, 3) and data.min() >= 0 and data.max() <= 1
    assert [ax.title.get_text() for ax in rgb.axes] == ["", ""]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": np.zeros((8, 28, 28)), "labels": np.zeros(7)}, "8 images but 7 labels"),
        ({"images": np.zeros((2, 28, 28)), "predictions": np.zeros((3, 10))}, "2 images but 3 predictions"),
        ({"images": np.zeros((2, 300))}, "square pixel count"),
        ({"images": np.zeros((28, 28, 3, 2, 1))}, "images must have shape"),
        ({"images": np.zeros((0, 28, 28))}, "at least one image"),
        ({"images": np.zeros((101, 4, 4))}, "at most 100"),
        ({"images": np.zeros((2, 5, 5, 2))}, "1, 3 or 4 channels"),
        ({"images": np.zeros((2, 4, 4)), "labels": [0.5, 1]}, "whole class numbers"),
        ({"images": np.zeros((2, 4, 4)), "labels": [0, -1]}, ">= 0"),
        ({"images": np.zeros((2, 4, 4)), "labels": [0, 3], "class_names": ["a", "b"]}, "class 3 has no name"),
        ({"images": np.zeros((2, 4, 4)), "ncols": 0}, "ncols must be"),
        ({"images": [["a"]]}, "numeric array"),
    ],
)
def test_show_images_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        show_images(**kwargs)
    assert "\n" not in str(info.value)


# --- plot_history -------------------------------------------------------------------------------------


def test_plot_history_one_panel_per_metric_with_validation():
    history = {"loss": [1.0, 0.5, 0.3], "accuracy": [0.5, 0.7, 0.8], "val_loss": [1.1, 0.6, 0.5]}
    fig = plot_history(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    loss_lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in loss_lines] == ["train (훈련)", "validation (검증)"]
    assert list(loss_lines[1].get_ydata()) == [1.1, 0.6, 0.5]
    assert list(loss_lines[0].get_xdata()) == [1, 2, 3]
    assert len(fig.axes[1].get_lines()) == 1
    only = plot_history(history, metrics="accuracy")
    assert [ax.get_title() for ax in only.axes] == ["accuracy"]


def test_plot_history_accepts_a_keras_history(keras_history):
    fig = plot_history(keras_history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "mae"]
    assert len(fig.axes[0].get_lines()) == 2
    assert np.allclose(fig.axes[0].get_lines()[0].get_ydata(), keras_history.history["loss"])


@pytest.mark.parametrize(
    ("history", "metrics", "message"),
    [
        ({"loss": [1.0]}, ["acc"], "no metric 'acc' in the history; it has: loss"),
        ({}, None, "history is empty"),
        ([1, 2, 3], None, "what model.fit returns"),
        ({"loss": ["a", "b"]}, None, r"history\['loss'\] must be a list of numbers"),
        ({"loss": [1.0]}, [], "metrics is empty"),
    ],
)
def test_plot_history_rejects_bad_input(history, metrics, message):
    with pytest.raises(ValueError, match=message):
        plot_history(history, metrics)


# --- plot_regression ----------------------------------------------------------------------------------

X, Y = [1.0, 2.0, 3.0, 4.0], [6.0, 5.0, 7.0, 10.0]


def test_plot_regression_draws_points_and_fitted_line():
    fig = plot_regression(X, Y, np.array([[1.4]]), np.float32(3.5))
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    assert np.allclose(line.get_xdata(), [1, 4])
    assert np.allclose(line.get_ydata(), [1.4 * 1 + 3.5, 1.4 * 4 + 3.5])
    assert line.get_label() == "y = 1.4x + 3.5"
    assert np.allclose(ax.collections[0].get_offsets(), np.column_stack([X, Y]))


def test_plot_regression_cost_surface_with_path():
    path = [(0.0, 0.0), (0.6, 1.2), (1.0, 2.2), (1.3, 3.0)]
    fig = plot_regression(X, Y, 1.3, 3.0, cost_surface=True, path=path)
    assert len(fig.axes) == 2
    cost_ax = fig.axes[1]
    assert (cost_ax.get_xlabel(), cost_ax.get_ylabel()) == ("W", "b")
    contours = [c for c in cost_ax.collections if isinstance(c, ContourSet)]
    assert len(contours) == 1 and len(contours[0].levels) > 5
    lines = {line.get_label(): line for line in cost_ax.get_lines()}
    assert np.allclose(lines["gradient descent (경사 하강법)"].get_xydata(), path)
    assert np.allclose(lines["minimum (최소)"].get_xydata(), [[1.4, 3.5]])  # least squares for these points
    assert np.allclose(lines["current W, b"].get_xydata(), [[1.3, 3.0]])
    low, high = cost_ax.get_xlim()
    assert low < 0.0 and high > 1.4  # the whole path and the minimum are in view


def test_mse_grid_matches_the_direct_formula():
    x, y = np.array(X), np.array(Y)
    ws, bs = np.meshgrid(np.linspace(-1, 3, 5), np.linspace(0, 5, 4))
    direct = ((ws[..., None] * x + bs[..., None] - y) ** 2).mean(axis=-1)
    assert np.allclose(plotting._mse_grid(x, y, ws, bs), direct)
    assert np.isclose(plotting._mse_grid(x, y, np.array(1.4), np.array(3.5)), 1.05)


def test_plot_regression_cost_surface_without_a_line():
    fig = plot_regression(X, Y, cost_surface=True)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_lines() == []
    assert any(isinstance(c, ContourSet) for c in fig.axes[1].collections)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((X, Y[:3]), {}, "x has 4 values but y has 3"),
        ((X, Y, 1.0), {}, "pass both w and b"),
        ((X, Y, 1.0, 2.0), {"path": [(0, 0)]}, "pass cost_surface=True"),
        ((X, Y), {"cost_surface": True, "path": [1, 2, 3]}, r"sequence of \(w, b\) pairs"),
        ((X, Y, [1.0, 2.0], 0.0), {}, "w must be one number"),
        ((X, Y, float("nan"), 0.0), {}, "training diverged"),
        (([1.0, np.inf], [1.0, 2.0]), {}, "NaN or infinity"),
        (([], []), {}, "at least one"),
    ],
)
def test_plot_regression_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_regression(*args, **kwargs)


# --- plot_confusion_matrix and plot_activations -------------------------------------------------------


def test_confusion_matrix_counts_are_annotated():
    y_true = [0, 0, 1, 2, 2, 2]
    probabilities = np.eye(3)[[0, 1, 1, 2, 0, 2]] * 0.8 + 0.05  # argmax gives the predicted class
    fig = plot_confusion_matrix(y_true, probabilities, class_names=["고양이", "개", "새"])
    ax = fig.axes[0]
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert np.array_equal(ax.images[0].get_array(), expected)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert cells == {(r, c): expected[r, c] for r in range(3) for c in range(3)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["고양이", "개", "새"]
    assert "66.7%" in ax.get_title()
    assert ax.get_ylabel() == "true (정답)"


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="y_true has 3 labels but y_pred has 2"):
        plot_confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="class 2 has no name"):
        plot_confusion_matrix([0, 1, 2], [0, 1, 1], class_names=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        plot_confusion_matrix([], [])


def test_plot_activations_four_panels_with_korean_titles():
    fig = plot_activations()
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4
    for word in ("시그모이드", "탄젠트", "렐루 (ReLU)", "리키 렐루"):
        assert any(word in t for t in titles), word
    at = {}
    for ax in fig.axes:
        line = ax.get_lines()[-1]
        x, y = line.get_xdata(), line.get_ydata()
        at[ax.get_title().split(" (")[0]] = (np.interp(0.0, x, y), np.interp(-1.0, x, y))
    assert np.allclose(at["시그모이드"], (0.5, 1 / (1 + np.e)))
    assert np.allclose(at["하이퍼볼릭 탄젠트"], (0.0, np.tanh(-1)))
    assert np.allclose(at["렐루"], (0.0, 0.0))
    assert np.allclose(at["리키 렐루"], (0.0, -0.2))


def test_inline_display_hook_is_off_outside_jupyter():
    fig = plot_activations()
    assert isinstance(fig, plotting.CourseFigure)
    assert fig._ipython_display_ is None  # Agg: normal matplotlib behaviour


# --- LivePlot outside Jupyter -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.linspace(0, 1, 32, dtype=np.float32).reshape(-1, 1)
    return model, x, 2 * x + 1


@pytest.fixture(scope="module")
def keras_history(keras_model):
    model, x, y = keras_model
    return model.fit(x, y, validation_split=0.25, epochs=2, verbose=0)


def test_liveplot_prints_one_line_per_epoch(keras_model, capsys):
    model, x, y = keras_model
    live = plotting.LivePlot()
    model.fit(x, y, validation_split=0.25, epochs=3, verbose=0, callbacks=[live])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}/3: loss=")  # fit tells LivePlot the number of epochs
        assert " val_loss=" in line and "mae" not in line
    loss = float(lines[-1].split("loss=")[1].split()[0])
    assert np.isclose(loss, live.series["loss"][-1][1], atol=1e-4)


def test_liveplot_every_and_missing_metric(keras_model, capsys):
    model, x, y = keras_model
    live = plotting.LivePlot(metrics=("mae", "acc"), every=2)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[live])
    captured = capsys.readouterr()
    assert [line.split(":")[0] for line in captured.out.splitlines()] == ["epoch 2/3", "epoch 3/3"]
    assert all(" mae=" in line and "loss" not in line for line in captured.out.splitlines())
    warning = captured.err.strip().splitlines()
    assert len(warning) == 1 and "'acc' not in the training logs" in warning[0] and "mae" in warning[0]


def test_liveplot_rejects_bad_arguments():
    with pytest.raises(ValueError, match="every must be a whole number"):
        plotting.LivePlot(every=0)
    with pytest.raises(ValueError, match="metrics must be metric names"):
        plotting.LivePlot(metrics=[])
    with pytest.raises(ValueError, match="total must be the number of steps"):
        plotting.LivePlot(total=0)
    with pytest.raises(ValueError, match="unit must name a step"):
        plotting.LivePlot(unit="")
    import keras

    assert isinstance(plotting.LivePlot(), keras.callbacks.Callback)


# --- LivePlot in your own training loop (GradientTape) ------------------------------------------------


def test_liveplot_update_prints_every_n_steps_and_the_last_one(capsys):
    import tensorflow as tf

    live = plotting.LivePlot(metrics="loss", every=3, total=7, unit="step")
    for step in range(1, 8):
        live.update(step, loss=tf.constant(1.0 / step), accuracy=np.float32(step / 10))  # TF and NumPy scalars
    live.finish()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["step 3/7", "step 6/7", "step 7/7"]
    assert lines[0] == "step 3/7: loss=0.3333"  # only the chosen metric (and its val_) is printed
    assert [x for x, _ in live.series["loss"]] == [1, 2, 3, 4, 5, 6, 7]  # every step is recorded
    assert np.isclose(live.series["accuracy"][-1][1], 0.7)


def test_liveplot_finish_shows_a_run_that_stopped_between_two_updates(capsys):
    with plotting.LivePlot(metrics=("loss",), every=5, title="sine") as live:
        for epoch in range(1, 8):
            live.update(epoch, {"loss": 2.0 / epoch, "val_loss": 3.0 / epoch})
    assert capsys.readouterr().out.splitlines() == [
        "sine, epoch 5: loss=0.4000 val_loss=0.6000",
        "sine, epoch 7: loss=0.2857 val_loss=0.4286",  # shown by finish(), at the end of the with block
    ]
    live.finish()  # a second finish prints nothing
    live.update(1, loss=1.0)  # the next update starts a new run
    assert capsys.readouterr().out == ""
    assert live.series == {"loss": [(1.0, 1.0)]}


def test_liveplot_update_steps_that_skip_multiples_of_every(capsys):
    live = plotting.LivePlot(every=50, unit="step")
    for step in range(20, 201, 20):  # recorded every 20 steps: shown once per 50 steps passed
        live.update(step, loss=float(step))
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["step 60", "step 100",
                                                                                   "step 160", "step 200"]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1,), {"loss": "low"}, "loss must be one number"),
        ((1,), {"loss": [1.0, 2.0]}, "loss must be one number"),
        ((1,), {}, "no values"),
        (("one",), {"loss": 1.0}, "step must be one number"),
    ],
)
def test_liveplot_update_rejects_bad_values(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plotting.LivePlot().update(*args, **kwargs)


class _FakeHandle:
    def __init__(self, shown: list) -> None:
        self.shown = shown

    def update(self, data: dict, raw: bool = False) -> None:
        self.shown.append(("update", data))


@pytest.fixture
def fake_notebook(monkeypatch):
    """LivePlot believes it runs in Jupyter; what it displays is collected in a list."""
    import IPython.display

    shown: list = []

    def display(data, raw=False, display_id=False):
        shown.append(("display", data))
        return _FakeHandle(shown)

    monkeypatch.setattr(plotting, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    return shown


def _curves(fig) -> list[tuple[str, list[tuple[str, list, list]]]]:
    return [(ax.get_title(), [(line.get_label(), list(line.get_xdata()), list(line.get_ydata()))
                              for line in ax.get_lines()]) for ax in fig.axes]


def test_liveplot_and_plot_history_draw_the_same_panels(fake_notebook, capsys):
    history = {"loss": [0.9, 0.5, 0.4, 0.3], "accuracy": [0.6, 0.7, 0.8, 0.85], "val_loss": [1.0, 0.7, 0.6, 0.6]}
    live = plotting.LivePlot(metrics=("loss", "accuracy"), every=2, total=4)
    for epoch in range(1, 5):
        live.update(epoch, {key: values[epoch - 1] for key, values in history.items()})
    live.finish()
    assert capsys.readouterr().out == ""  # in Jupyter nothing is printed
    assert [kind for kind, _ in fake_notebook] == ["display", "update"]  # one display, redrawn in place
    assert fake_notebook[-1][1]["image/png"].startswith(b"\x89PNG")
    assert fake_notebook[-1][1]["text/plain"] == "<LivePlot: epoch 4/4: loss=0.3000 val_loss=0.6000 accuracy=0.8500>"
    drawn = _curves(live._figure)
    expected = _curves(plot_history(history, ["loss", "accuracy"]))
    assert [title for title, _ in drawn] == ["loss (epoch 4/4)", "accuracy (epoch 4/4)"]
    assert [lines for _, lines in drawn] == [lines for _, lines in expected]  # same lines, labels and points
    assert live._figure.get_size_inches().tolist() == plot_history(history).get_size_inches().tolist()


def test_plot_history_and_liveplot_share_one_drawing_function(monkeypatch, fake_notebook):
    calls = []
    real = plotting._draw_history
    monkeypatch.setattr(plotting, "_draw_history", lambda *a, **k: (calls.append(k.get("xlabel")), real(*a, **k)))
    plot_history({"loss": [1.0, 0.5]})
    live = plotting.LivePlot(unit="step")
    live.update(1, loss=1.0)
    assert calls == [None, "step"]
    assert live._figure.axes[0].get_xlabel() == "step"


def test_liveplot_transient_replaces_the_figure_by_its_last_line(fake_notebook):
    live = plotting.LivePlot(every=2, total=5, unit="step", title="stochastic (1)", transient=True)
    for step in range(1, 6):
        live.update(step, val_loss=1.0 / step)
    live.finish()
    assert [kind for kind, _ in fake_notebook] == ["display", "update", "update", "update"]  # steps 2, 4, 5, end
    assert fake_notebook[-1][1] == {"text/plain": "stochastic (1), step 5/5: val_loss=0.2000"}
    assert live.series["val_loss"][-1] == (5.0, 0.2)


def test_liveplot_redraw_is_cheap():
    """One redraw (what an update costs in Jupyter) stays well under a second, so chapters can redraw often."""
    import time

    curves = {key: (np.arange(1, 301), 1.0 / np.arange(1, 301)) for key in ("loss", "val_loss", "accuracy")}
    figure = plotting.Figure(figsize=plotting._history_figsize(2))
    start = time.perf_counter()
    for _ in range(3):
        plotting._draw_history(figure, curves, ("loss", "accuracy"), note=" (epoch 300/300)")
        _png(figure)
    assert (time.perf_counter() - start) / 3 < 1.0


# --- inside a real Jupyter kernel ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # let ipykernel pick the inline backend
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120, env=env, cwd=str(ROOT))
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run(kc, code: str) -> list[dict]:
    messages: list[dict] = []
    reply = kc.execute_interactive(code, output_hook=messages.append, timeout=240, allow_stdin=False)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", errors
    return messages


def _pngs(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["msg_type"] in ("display_data", "execute_result")
            and "image/png" in m["content"]["data"]]


def test_figures_show_exactly_once_in_jupyter(kernel):
    _run(kernel, "import numpy as np\nfrom course.plotting import show_images, plot_history, korean_font")
    # the call as a cell's last expression: shown once, not by both the display hook and the inline flush
    assert len(_pngs(_run(kernel, "show_images(np.zeros((3, 28, 28)), labels=[1, 2, 3])"))) == 1
    # assigned: shown once at the end of the cell
    assert len(_pngs(_run(kernel, "fig = show_images(np.zeros((2, 28, 28)))"))) == 1
    # shown again on request in a later cell
    assert len(_pngs(_run(kernel, "fig"))) == 1
    # two figures in one cell: both shown
    assert len(_pngs(_run(kernel, "plot_history({'loss': [1, 0.5]})\nplot_history({'loss': [2, 1]})"))) == 2
    out = _run(kernel, "print(korean_font())")
    assert [m["content"]["text"] for m in out if m["msg_type"] == "stream"] == ["NanumGothic\n"]


def test_liveplot_updates_one_display_in_jupyter(kernel):
    code = """
import keras, numpy as np
from course.plotting import LivePlot
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
x = np.linspace(0, 1, 16).reshape(-1, 1)
model.fit(x, 2 * x, validation_split=0.25, epochs=3, verbose=0, callbacks=[LivePlot()])
"""
    messages = _run(kernel, code)
    shown = [m for m in messages if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]]
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert len(shown) == 1
    display_id = shown[0]["content"]["transient"]["display_id"]
    assert len(updates) == 2
    assert {u["content"]["transient"]["display_id"] for u in updates} == {display_id}
    assert all(u["content"]["data"]["image/png"] for u in updates)
    assert not [m for m in messages if m["msg_type"] == "stream" and "epoch" in m["content"]["text"]]


def test_liveplot_custom_loop_in_jupyter(kernel):
    code = """
from course.plotting import LivePlot
live = LivePlot(metrics="loss", every=10, total=30, unit="step", transient=True)
for step in range(1, 31):
    live.update(step, loss=1.0 / step)
live.finish()
"""
    messages = _run(kernel, code)
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert len(shown) == 1 and "image/png" in shown[0]["content"]["data"]  # shown at step 10
    assert [sorted(u["content"]["data"]) for u in updates] == [["image/png", "text/plain"]] * 2 + [["text/plain"]]
    assert updates[-1]["content"]["data"]["text/plain"] == "step 30/30: loss=0.0333"
    assert not [m for m in messages if m["msg_type"] == "stream"]
