"""The primer (00a) through the real hub: a student finds it in ~/course between 00_setup and 01_tensors and
runs it top to bottom in a kernel of their own server, cell after cell, as JupyterLab would.

The primer needs no TensorFlow, so this takes seconds once the server is up. Its imshow section reads the
MNIST digits from the shared data folder: the test puts the course's copy (var/data, which scripts/setup.sh
fills) into the hub's shared folder beside what is there.
"""
from __future__ import annotations

import os
import shutil

import pytest

from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient, enroll
from testkit.tiers import require

pytestmark = pytest.mark.hub

PRIMER = "00a_python_primer.ipynb"
MNIST = REPO_ROOT / "var" / "data" / "mnist"


def _share_mnist(data) -> None:
    shared = data / "mnist"
    shared.mkdir(parents=True, exist_ok=True)
    for path in MNIST.iterdir():
        target = shared / path.name
        if path.is_file() and not target.exists():
            shutil.copyfile(path, target)
            os.chmod(target, 0o644)


def test_a_student_runs_the_primer_top_to_bottom_on_the_hub(live_hub, unique, request):
    if not MNIST.is_dir() or not any(MNIST.iterdir()):
        require(request.config, f"no MNIST in {MNIST}: run scripts/setup.sh (it fills var/data)")
    _share_mnist(live_hub.data)
    admin = HubClient(live_hub.url)
    admin.login("admin", live_hub.admin_password)
    (student,) = enroll(admin, [unique("primer")])
    student.start_server()
    try:
        listing = student.server_api("GET", "contents/course").json()["content"]
        chapters = sorted(item["name"] for item in listing if item["name"].endswith(".ipynb"))
        at = chapters.index(PRIMER)
        assert chapters[at - 1:at + 2] == ["00_setup.ipynb", PRIMER, "01_tensors.ipynb"], chapters
        notebook = student.server_api("GET", f"contents/course/{PRIMER}").json()["content"]
        kernel = student.start_kernel()
        stdout, results = [], []
        for number, cell in enumerate(c for c in notebook["cells"] if c["cell_type"] == "code"):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out = student.run_cell(kernel, source, timeout=180)
            assert out.error is None, f"code cell {number} of {PRIMER} raised on the hub: {out.error}"
            stdout.append(out.stdout)
            results.append(out.result or "")
        text = "".join(stdout)
        assert "RESULT chapter=00a metric=numpy_speedup value=" in text
        assert "digit: shape (28, 28) dtype float32" in text  # the shared MNIST, read in the student's kernel
        waiting = [r for r in results if "Not answered yet: 00a." in r]
        assert len(waiting) == 8, results  # every exercise cell ran and waits for the student's answer
    finally:
        student.stop_server()
