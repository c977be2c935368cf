"""The chapters as committed: all ten present, no outputs, and the shape every chapter promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = ["00_setup", "01_tensors", "02_mnist", "03_linear_regression", "04_softmax_regression",
            "05_neural_networks", "06_cnn", "07_rnn", "08_tensorboard", "09_saving_restoring"]


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def test_every_chapter_exists():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == CHAPTERS


@pytest.mark.parametrize("name", CHAPTERS)
def test_committed_without_outputs(name):
    for cell in load(name)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}: strip outputs before committing"
            assert cell["execution_count"] is None


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_shape(name):
    cells = load(name)["cells"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and "학습 목표" in first, "learning goals (학습 목표) come first"
    text = "\n".join("".join(c["source"]) for c in cells)
    assert "fast_mode()" in text, "one visible settings cell reads fast_mode()"
    assert "요약" in text and "check(" in text, "a summary (요약) and graded exercises"
