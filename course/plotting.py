"""Figures for the course notebooks: image grids, training curves, regression fits, confusion matrices.

Every function returns a matplotlib ``Figure``. It works headless (Agg) and in Jupyter, where a figure
shows once, also when the call is a cell's last line. Importing this module sets up a Korean font
(NanumGothic, Debian ``fonts-nanum``) when it is installed, and quietly keeps the default font otherwise.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.font_manager as font_manager
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "LivePlot",  # noqa: F822 (built on first use by the module __getattr__ below)
    "configure_korean_font",
    "korean_font",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_history",
    "plot_regression",
    "show_images",
]

KOREAN_FONT_FAMILIES: tuple[str, ...] = ("NanumGothic",)
MAX_IMAGES = 100
WRONG_COLOR = "red"
RIGHT_COLOR = "black"

_korean_family: str | None = None


# --- Korean font ------------------------------------------------------------------------------------


def _font_available(family: str) -> bool:
    """True when matplotlib knows ``family``; registers its file when it was installed after the cache."""
    if any(entry.name == family for entry in font_manager.fontManager.ttflist):
        return True
    for path in font_manager.findSystemFonts():
        if Path(path).stem == family:
            font_manager.fontManager.addfont(path)
            return any(entry.name == family for entry in font_manager.fontManager.ttflist)
    return False


def configure_korean_font(families: Sequence[str] = KOREAN_FONT_FAMILIES) -> str | None:
    """Use the first installed font of ``families`` for all text (other glyphs fall back to the default).

    Returns the family in use, or None (default font kept, nothing printed) when none is installed.
    """
    global _korean_family
    rc = matplotlib.rcParams
    rc["axes.unicode_minus"] = False  # Korean fonts often lack U+2212; use '-' so minus signs never become boxes
    try:
        chosen = next((family for family in families if _font_available(family)), None)
    except Exception:  # a broken font cache must never break `import course.plotting`
        chosen = None
    current = [f for f in rc["font.family"] if f != _korean_family] or ["sans-serif"]
    if chosen is not None:
        # Latin text, arrows and math (log-axis exponents use U+2212 through mathtext, which has no per-glyph
        # fallback) come from DejaVu Sans; Hangul falls back, glyph by glyph, to the Korean font.
        current = ["DejaVu Sans", chosen] + [f for f in current if f not in (chosen, "DejaVu Sans")]
        if "sans-serif" not in current:
            current.append("sans-serif")
    rc["font.family"] = current
    _korean_family = chosen
    return chosen


def korean_font() -> str | None:
    """The Korean font family in use (e.g. ``"NanumGothic"``), or None when none is installed."""
    return _korean_family


# --- figures that show once in Jupyter ----------------------------------------------------------------


class CourseFigure(Figure):
    """A Figure that shows exactly once in Jupyter's inline backend, also as a cell's last expression."""

    @property
    def _ipython_display_(self) -> Any:
        # Only take over inline display; other backends (ipympl, qt) keep their own behaviour.
        return self._display_inline if "inline" in str(matplotlib.get_backend()).lower() else None

    def _display_inline(self) -> None:
        from IPython.display import display

        plt.close(self)  # leave pyplot's list so the end-of-cell flush does not draw it a second time
        try:
            from IPython.core.pylabtools import print_figure

            png = print_figure(self, "png", bbox_inches="tight")
        except Exception:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight")
            png = buffer.getvalue()
        display({"image/png": png, "text/plain": repr(self)}, raw=True)


def _figure(figsize: tuple[float, float]) -> Figure:
    return plt.figure(figsize=figsize, FigureClass=CourseFigure)


# --- input checks -------------------------------------------------------------------------------------


def _numeric(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception as error:  # ragged lists and the like
        raise ValueError(f"{name} must be a numeric array; could not convert it ({error})") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array; got dtype {array.dtype}")
    return array


def _class_ids(values: Any, name: str, count: int | None = None) -> np.ndarray:
    """Class ids from int labels, one-hot rows or probability rows (argmax)."""
    array = _numeric(values, name)
    if array.ndim == 2:
        array = array[:, 0] if array.shape[1] == 1 else array.argmax(axis=1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be class ids (N,) or one-hot rows (N, classes); got shape {array.shape}")
    if count is not None and len(array) != count:
        raise ValueError(f"{count} images but {len(array)} {name}: pass exactly one per image")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
        raise ValueError(f"{name} must be whole class numbers like 0..9; got non-integer values")
    array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be class numbers >= 0; got {array.min()}")
    return array


def _check_names(class_names: Sequence[str] | None, *ids: np.ndarray) -> list[str] | None:
    if class_names is None:
        return None
    if isinstance(class_names, str):
        raise ValueError("class_names must be a list of names, e.g. ['T-shirt', 'Trouser', ...], not one string")
    names = [str(n) for n in class_names]
    top = max((int(a.max()) for a in ids if a.size), default=-1)
    if top >= len(names):
        raise ValueError(f"class {top} has no name: class_names has {len(names)} entries (0..{len(names) - 1})")
    return names


def _as_images(images: Any) -> np.ndarray:
    array = _numeric(images, "images")
    if array.ndim == 2:
        side = math.isqrt(array.shape[1])
        if side * side != array.shape[1]:
            raise ValueError(
                f"flat images need a square pixel count like 784 = 28x28; got {array.shape[1]}: "
                "reshape them to (N, H, W) first"
            )
        array = array.reshape(-1, side, side)
    elif array.ndim == 4:
        if array.shape[-1] == 1:
            array = array[..., 0]
        elif array.shape[-1] not in (3, 4):
            raise ValueError(f"(N, H, W, C) images need 1, 3 or 4 channels; got C={array.shape[-1]}")
    elif array.ndim != 3:
        raise ValueError(
            f"images must have shape (N, 28, 28), (N, 784) or (N, H, W, C); got {array.shape} "
            "(for a single image pass images[None])"
        )
    if len(array) == 0:
        raise ValueError("no images to show: pass at least one image")
    if len(array) > MAX_IMAGES:
        raise ValueError(f"{len(array)} images is too many for one grid: show at most {MAX_IMAGES}, e.g. images[:36]")
    if array.ndim == 4 and array.dtype.kind == "f" and (array.min() < 0 or array.max() > 1):
        low, high = float(array.min()), float(array.max())
        array = (array - low) / (high - low or 1.0)  # imshow wants RGB floats in [0, 1]
    return array


def _as_1d(values: Any, name: str) -> np.ndarray:
    array = _numeric(values, name).astype(np.float64)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D list of numbers (or shape (n, 1)); got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity: check the data (or a diverged training run)")
    return array


def _scalar(value: Any, name: str) -> float:
    array = _numeric(value, name)
    if array.size != 1:
        raise ValueError(f"{name} must be one number (e.g. W.numpy().item()); got shape {array.shape}")
    result = float(array.reshape(-1)[0])
    if not math.isfinite(result):
        raise ValueError(f"{name} is {result}: training diverged; try a smaller learning rate")
    return result


# --- show_images --------------------------------------------------------------------------------------


def show_images(
    images: Any,
    labels: Any = None,
    predictions: Any = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 6,
    title: str | None = None,
) -> Figure:
    """A grid of images titled with their labels; wrong predictions get a red "true → predicted" title."""
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a whole number >= 1, e.g. ncols=6; got {ncols!r}")
    grid = _as_images(images)
    count = len(grid)
    true = None if labels is None else _class_ids(labels, "labels", count)
    pred = None if predictions is None else _class_ids(predictions, "predictions", count)
    names = _check_names(class_names, *(a for a in (true, pred) if a is not None))

    def name(i: int) -> str:
        return names[i] if names is not None else str(i)

    cols = min(int(ncols), count)
    rows = math.ceil(count / cols)
    fig = _figure((1.6 * cols, 1.8 * rows + (0.4 if title else 0.0)))
    for i in range(count):
        ax = fig.add_subplot(rows, cols, i + 1)
        image = grid[i]
        ax.imshow(image, cmap="binary" if image.ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        if true is not None and pred is not None:
            wrong = true[i] != pred[i]
            text = f"{name(true[i])} → {name(pred[i])}" if wrong else name(true[i])
            ax.set_title(text, color=WRONG_COLOR if wrong else RIGHT_COLOR, fontsize=10)
        elif true is not None:
            ax.set_title(name(true[i]), color=RIGHT_COLOR, fontsize=10)
        elif pred is not None:
            ax.set_title(f"→ {name(pred[i])}", color=RIGHT_COLOR, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- plot_history -------------------------------------------------------------------------------------


def _history_dict(history: Any) -> dict[str, np.ndarray]:
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping):
        raise ValueError(
            "history must be what model.fit returns (a History) or a dict like {'loss': [...]}; "
            f"got {type(history).__name__}"
        )
    if not data:
        raise ValueError("history is empty: train for at least one epoch first (model.fit(..., epochs=1))")
    result = {}
    for key, values in data.items():
        try:
            array = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"history[{key!r}] must be a list of numbers, one per epoch") from None
        result[str(key)] = array
    return result


def _panel_grid(count: int) -> tuple[int, int]:
    """(rows, columns) for ``count`` panels: at most three side by side."""
    cols = max(1, min(count, 3))
    return math.ceil(max(count, 1) / cols), cols


def _history_figsize(count: int) -> tuple[float, float]:
    rows, cols = _panel_grid(count)
    return 4.5 * cols, 3.4 * rows


def _draw_history(
    fig: Figure,
    curves: Mapping[str, tuple[Any, Any]],
    metrics: Sequence[str],
    *,
    xlabel: str = "epoch",
    note: str = "",
    title: str | None = None,
) -> None:
    """Draw the training curves into ``fig`` (cleared first): one panel per metric, train against ``val_``.

    ``curves`` maps a key such as ``"loss"`` or ``"val_loss"`` to its (x, values); ``note`` is added to every
    panel title (LivePlot's " (epoch 3/20)"). Both ``plot_history`` and ``LivePlot`` draw through this function.
    """
    fig.clear()
    rows, cols = _panel_grid(len(metrics))
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        for key, label in ((metric, "train (훈련)"), (f"val_{metric}", "validation (검증)")):
            x, values = curves.get(key, ((), ()))
            if len(values):
                ax.plot(x, values, marker="o" if len(values) <= 30 else None, markersize=3, label=label)
        ax.set_title(f"{metric}{note}")
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()


def plot_history(history: Any, metrics: Sequence[str] | str | None = None, title: str | None = None) -> Figure:
    """Training curves: one panel per metric, train against its ``val_`` counterpart when present."""
    data = _history_dict(history)
    if metrics is None:
        chosen = [k for k in data if not k.startswith("val_")] or [k[4:] for k in data]
    else:
        chosen = [metrics] if isinstance(metrics, str) else list(metrics)
        if not chosen:
            raise ValueError("metrics is empty: pass names like ['loss', 'accuracy'] or leave it out")
        for metric in chosen:
            if metric not in data and f"val_{metric}" not in data:
                raise ValueError(f"no metric {metric!r} in the history; it has: {', '.join(data)}")
    fig = _figure(_history_figsize(len(chosen)))
    curves = {key: (np.arange(1, len(values) + 1), values) for key, values in data.items()}
    _draw_history(fig, curves, chosen, title=title)
    return fig


# --- plot_regression ----------------------------------------------------------------------------------


def _mse_grid(x: np.ndarray, y: np.ndarray, ws: np.ndarray, bs: np.ndarray) -> np.ndarray:
    """mean((w x + b - y)^2) on a (w, b) grid, from sums so large data sets cost no extra memory."""
    mx, my, mxx, mxy, myy = x.mean(), y.mean(), (x * x).mean(), (x * y).mean(), (y * y).mean()
    return ws**2 * mxx + 2 * ws * bs * mx + bs**2 - 2 * ws * mxy - 2 * bs * my + myy


def _least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    spread = ((x - x.mean()) ** 2).sum()
    if spread == 0:
        return 0.0, float(y.mean())
    w = float(((x - x.mean()) * (y - y.mean())).sum() / spread)
    return w, float(y.mean() - w * x.mean())


def _span(values: list[float], center: float) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = max(0.5 * (high - low), 1.0, 0.5 * abs(center))
    return low - pad, high + pad


def plot_regression(
    x: Any,
    y: Any,
    w: Any = None,
    b: Any = None,
    *,
    cost_surface: bool = False,
    path: Any = None,
) -> Figure:
    """Data points and the line y = w·x + b; ``cost_surface=True`` adds MSE contours over (W, b) and ``path``."""
    xs, ys = _as_1d(x, "x"), _as_1d(y, "y")
    if len(xs) != len(ys):
        raise ValueError(f"x has {len(xs)} values but y has {len(ys)}: pass one y per x")
    if len(xs) == 0:
        raise ValueError("no data points: pass at least one (x, y) pair")
    if (w is None) != (b is None):
        raise ValueError("pass both w and b (the line y = w·x + b), or neither")
    line = None if w is None else (_scalar(w, "w"), _scalar(b, "b"))
    steps = None
    if path is not None:
        if not cost_surface:
            raise ValueError("path is drawn on the cost surface: pass cost_surface=True as well")
        try:
            steps = np.asarray(path, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("path must be a sequence of (w, b) pairs, e.g. [(0.5, 1.0), (0.9, 2.1)]") from None
        if steps.ndim != 2 or steps.shape[1] != 2 or len(steps) == 0:
            raise ValueError(
                f"path must be a sequence of (w, b) pairs, e.g. [(0.5, 1.0), (0.9, 2.1)]; got shape {steps.shape}"
            )
        if not np.all(np.isfinite(steps)):
            raise ValueError("path contains NaN or infinity: training diverged; try a smaller learning rate")

    fig = _figure((11.0, 4.2) if cost_surface else (5.5, 4.2))
    ax = fig.add_subplot(1, 2 if cost_surface else 1, 1)
    if line is not None:
        lo, hi = float(xs.min()), float(xs.max())
        if lo == hi:
            lo, hi = lo - 1.0, hi + 1.0
        ends = np.array([lo, hi])
        sign = "+" if line[1] >= 0 else "-"
        ax.plot(ends, line[0] * ends + line[1], color="tab:red",
                label=f"y = {line[0]:.3g}x {sign} {abs(line[1]):.3g}")
    ax.scatter(xs, ys, color="tab:blue", zorder=3, label="data (데이터)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("데이터와 직선 (data and line)")
    ax.grid(alpha=0.3)
    ax.legend()

    if cost_surface:
        cost_ax = fig.add_subplot(1, 2, 2)
        best_w, best_b = _least_squares(xs, ys)
        all_w, all_b = [best_w], [best_b]
        if line is not None:
            all_w.append(line[0])
            all_b.append(line[1])
        if steps is not None:
            all_w.extend(steps[:, 0])
            all_b.extend(steps[:, 1])
        ws, bs = np.meshgrid(np.linspace(*_span(all_w, best_w), 120), np.linspace(*_span(all_b, best_b), 120))
        cost = _mse_grid(xs, ys, ws, bs)
        low, high = float(cost.min()), float(cost.max())
        levels = np.geomspace(max(low, high * 1e-4, 1e-12), high, 15) if high > max(low, 0) * 1.001 else None
        cost_ax.contour(ws, bs, cost, levels=levels, cmap="viridis")
        cost_ax.plot([best_w], [best_b], "*", color="black", markersize=12, label="minimum (최소)")
        if steps is not None:
            cost_ax.plot(steps[:, 0], steps[:, 1], ".-", color="tab:orange", label="gradient descent (경사 하강법)")
        if line is not None:
            cost_ax.plot([line[0]], [line[1]], "o", color="tab:red", label="current W, b")
        cost_ax.set_xlabel("W")
        cost_ax.set_ylabel("b")
        cost_ax.set_title("비용 함수 (cost = MSE)")
        cost_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- plot_confusion_matrix ----------------------------------------------------------------------------


def plot_confusion_matrix(y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None) -> Figure:
    """Counts of (true class, predicted class) as an annotated heat map; rows are the true classes."""
    true = _class_ids(y_true, "y_true")
    pred = _class_ids(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} labels but y_pred has {len(pred)}: pass one prediction per label")
    if len(true) == 0:
        raise ValueError("no labels: pass at least one (y_true, y_pred) pair")
    names = _check_names(class_names, true, pred)
    classes = len(names) if names is not None else int(max(true.max(), pred.max())) + 1
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (true, pred), 1)

    size = min(3.0 + 0.55 * classes, 14.0)
    fig = _figure((size, size))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(counts, cmap="Blues")
    if classes <= 30:
        threshold = counts.max() / 2
        for row in range(classes):
            for col in range(classes):
                ax.text(col, row, str(counts[row, col]), ha="center", va="center", fontsize=9,
                        color="white" if counts[row, col] > threshold else "black")
    labels = names if names is not None else [str(i) for i in range(classes)]
    ax.set_xticks(range(classes), labels, rotation=45 if max(map(len, labels)) > 3 else 0, ha="right"
                  if max(map(len, labels)) > 3 else "center")
    ax.set_yticks(range(classes), labels)
    ax.set_xlabel("predicted (예측)")
    ax.set_ylabel("true (정답)")
    accuracy = float(np.trace(counts)) / len(true)
    ax.set_title(f"혼동 행렬 (confusion matrix), accuracy {accuracy:.1%}")
    fig.tight_layout()
    return fig


# --- plot_activations ---------------------------------------------------------------------------------

LEAKY_ALPHA = 0.2  # tf.nn.leaky_relu's default


def plot_activations() -> Figure:
    """Sigmoid, tanh, ReLU and leaky ReLU side by side, with Korean subtitles."""
    x = np.linspace(-6.0, 6.0, 241)
    curves = [
        ("시그모이드 (sigmoid)", 1.0 / (1.0 + np.exp(-x))),
        ("하이퍼볼릭 탄젠트 (tanh)", np.tanh(x)),
        ("렐루 (ReLU)", np.maximum(x, 0.0)),
        (f"리키 렐루 (leaky ReLU, α = {LEAKY_ALPHA})", np.where(x > 0, x, LEAKY_ALPHA * x)),
    ]
    fig = _figure((9.0, 6.5))
    for i, (title, y) in enumerate(curves):
        ax = fig.add_subplot(2, 2, i + 1)
        ax.axhline(0, color="gray", linewidth=0.8)
        ax.axvline(0, color="gray", linewidth=0.8)
        ax.plot(x, y, color="tab:blue", linewidth=2)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    fig.suptitle("활성화 함수 (activation functions)")
    fig.tight_layout()
    return fig


# --- LivePlot (a keras callback, built on first use so importing this module does not load keras) -----


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel attached)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _format_value(value: float) -> str:
    return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e6 else f"{value:.3e}"


def _number(value: Any) -> float:
    """One number from a Python, NumPy or TensorFlow scalar (or a one-element array); ValueError otherwise."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"got {type(value).__name__} {value!r}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"got {type(value).__name__}") from None
    if array.size != 1:
        raise ValueError(f"got {array.size} values of shape {array.shape}")
    return float(array.reshape(-1)[0])


def _make_liveplot_class() -> type:
    import keras

    class LivePlot(keras.callbacks.Callback):
        """Live training curves: redrawn in place in Jupyter, one printed line per update elsewhere.

        With Keras: ``model.fit(..., verbose=0, callbacks=[LivePlot(metrics=("loss", "accuracy"))])``.
        In your own loop (``GradientTape``): call ``live.update(step, loss=..., accuracy=...)`` after each step or
        epoch, then ``live.finish()`` (or use ``with LivePlot(...) as live:``). Each metric gets a panel with its
        ``val_`` counterpart, drawn as ``plot_history`` draws them.

        - ``every``: show every ``every`` steps (epochs); values are recorded at every update all the same.
        - ``total``: the number of steps (epochs) of the run, for "epoch 3/20" and to always show the last one;
          ``model.fit`` tells it its ``epochs``.
        - ``unit``: what a step is called ("epoch", "step"); ``title``: a heading, e.g. the model's name.
        - ``transient=True``: when training ends, replace the figure by its last line (for a run whose curves a
          later figure compares with other runs).
        """

        def __init__(
            self,
            metrics: Sequence[str] | str = ("loss",),
            every: int = 1,
            *,
            total: int | None = None,
            unit: str = "epoch",
            title: str | None = None,
            transient: bool = False,
        ) -> None:
            super().__init__()
            chosen = (metrics,) if isinstance(metrics, str) else tuple(metrics)
            if not chosen or not all(isinstance(m, str) and m for m in chosen):
                raise ValueError(f"metrics must be metric names like ('loss', 'accuracy'); got {metrics!r}")
            if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
                raise ValueError(f"every must be a whole number of epochs >= 1, e.g. LivePlot(every=5); got {every!r}")
            if total is not None and (isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 1):
                raise ValueError(f"total must be the number of steps (a whole number >= 1) or None; got {total!r}")
            if not isinstance(unit, str) or not unit:
                raise ValueError(f"unit must name a step, e.g. 'epoch' or 'step'; got {unit!r}")
            self.metrics = chosen
            self.every = int(every)
            self.total = None if total is None else int(total)
            self.unit = unit
            self.title = title
            self.transient = bool(transient)
            self._active = False
            self._reset()

        # --- state ----------------------------------------------------------------------------------

        def _reset(self) -> None:
            self.series: dict[str, list[tuple[float, float]]] = {}
            self._last_logs: dict[str, float] = {}
            self._last_step: float | None = None
            self._shown_step: float | None = None
            self._handle: Any = None
            self._figure: Figure | None = None
            self._warned = False
            self._run_total = self.total

        def _start(self, total: int | None = None) -> None:
            self._reset()
            if self._run_total is None:
                self._run_total = total
            self._notebook = _in_notebook()
            self._active = True

        def _record(self, step: float, numbers: Mapping[str, float]) -> None:
            previous = self._shown_step if self._shown_step is not None else 0.0
            self._last_step, self._last_logs = step, dict(numbers)
            for key, value in numbers.items():
                self.series.setdefault(key, []).append((step, value))
            self._warn_missing(numbers)
            crossed = math.floor(step / self.every) > math.floor(previous / self.every)
            if crossed or (self._run_total is not None and step >= self._run_total):
                self._show()

        # --- your own training loop -----------------------------------------------------------------

        def update(self, step: float, logs: Mapping[str, Any] | None = None, **values: Any) -> None:
            """Record the values of one step (or epoch) and show them when ``step`` reaches the next ``every``.

            ``live.update(step, loss=loss)`` or ``live.update(epoch, {"loss": ..., "val_loss": ...})``; numbers may
            be Python, NumPy or TensorFlow scalars. Steps should grow; the first update starts a new figure.
            """
            try:
                where = _number(step)
            except ValueError as error:
                raise ValueError(f"LivePlot.update: step must be one number, e.g. the epoch; {error}") from None
            numbers = {}
            for key, value in {**dict(logs or {}), **values}.items():
                try:
                    numbers[str(key)] = _number(value)
                except ValueError as error:
                    raise ValueError(f"LivePlot.update: {key} must be one number, e.g. float(loss); {error}") from None
            if not numbers:
                raise ValueError("LivePlot.update: no values; pass them by name, e.g. live.update(step, loss=loss)")
            if not self._active:
                self._start()
            self._record(where, numbers)

        def finish(self) -> None:
            """End the run: show its last state if it is not shown yet (``transient``: replace the figure by it)."""
            if not self._active:
                return
            self._active = False
            if self._last_step is None:
                return
            if self._shown_step != self._last_step:
                self._show()  # stopped between two shown steps (early stopping, Ctrl-C): show the final state
            if self.transient and self._handle is not None:
                self._handle.update({"text/plain": self._line()}, raw=True)
                self._figure = None

        def __enter__(self) -> LivePlot:
            return self

        def __exit__(self, *exc_info: Any) -> None:
            self.finish()

        # --- keras callback -------------------------------------------------------------------------

        def on_train_begin(self, logs: dict | None = None) -> None:
            self._start((self.params or {}).get("epochs"))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            numbers = {}
            for key, value in (logs or {}).items():
                try:
                    numbers[key] = _number(value)
                except ValueError:
                    continue
            self._record(epoch + 1, numbers)

        def on_train_end(self, logs: dict | None = None) -> None:
            self.finish()

        # --- showing --------------------------------------------------------------------------------

        def _keys(self, available: Mapping[str, float]) -> list[str]:
            keys = [k for m in self.metrics for k in (m, f"val_{m}") if k in available]
            return keys or list(available)

        def _warn_missing(self, available: Mapping[str, float]) -> None:
            missing = [m for m in self.metrics if m not in available and f"val_{m}" not in available]
            if missing and not self._warned:
                self._warned = True
                print(f"LivePlot: {', '.join(map(repr, missing))} not in the training logs; they have "
                      f"{', '.join(available) or 'nothing'}: pass LivePlot(metrics=(...)) with those names",
                      file=sys.stderr)

        def _where(self) -> str:
            step = self._last_step
            text = "-" if step is None else f"{step:g}" if float(step).is_integer() else f"{step:.2f}"
            return f"{self.unit} {text}" + (f"/{self._run_total}" if self._run_total is not None else "")

        def _line(self) -> str:
            values = " ".join(f"{k}={_format_value(self._last_logs[k])}" for k in self._keys(self._last_logs))
            return f"{self.title + ', ' if self.title else ''}{self._where()}: {values}".rstrip()

        def _show(self) -> None:
            self._shown_step = self._last_step
            if getattr(self, "_notebook", False):
                self._redraw()
            else:
                print(self._line(), flush=True)

        def _redraw(self) -> None:
            from IPython.display import display

            if self._figure is None:
                self._figure = Figure(figsize=_history_figsize(len(self.metrics)))
            curves = {key: tuple(zip(*points)) for key, points in self.series.items() if points}
            _draw_history(self._figure, curves, self.metrics, xlabel=self.unit, note=f" ({self._where()})",
                          title=self.title)
            buffer = io.BytesIO()
            self._figure.savefig(buffer, format="png")
            data = {"image/png": buffer.getvalue(), "text/plain": f"<LivePlot: {self._line()}>"}
            if self._handle is None:
                self._handle = display(data, raw=True, display_id=True)
            else:
                self._handle.update(data, raw=True)

    LivePlot.__module__ = __name__
    LivePlot.__qualname__ = "LivePlot"
    return LivePlot


_liveplot: type | None = None


def __getattr__(name: str) -> Any:
    global _liveplot
    if name == "LivePlot":
        if _liveplot is None:
            _liveplot = _make_liveplot_class()
        return _liveplot
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


configure_korean_font()
