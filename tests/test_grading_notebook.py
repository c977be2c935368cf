"""singleuser/grade_notebook.py on its own (no sandbox, as the test's user): a fresh kernel runs a copy top to
bottom, cells that raise do not stop the rest, and the JSON names the checks, the failed cells and the first
error. The hub's sandbox around it is tested in tests/hub/test_grading_live.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import singleuser

SCRIPT = singleuser.FOLDER / "grade_notebook.py"


def run(folder: Path, nb, name: str = "03_linear_regression.ipynb", **env: str) -> tuple[dict, str]:
    path = folder / name
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    else:
        nbformat.write(nb, str(path))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "JUPYTER"))}
    environ.update({"COURSE_GRADING": "true", "COURSE_PROGRESS_FILE": str(folder / "progress.json"),
                    "COURSE_FAST": "1", "HOME": str(folder), **env})
    done = subprocess.run([sys.executable, str(SCRIPT), str(path)], cwd=folder, env=environ, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads((folder / "grade-result.json").read_text()), done.stdout


def test_errors_do_not_stop_later_exercises(tmp_path):
    nb = new_notebook(cells=[
        new_markdown_cell("# Chapter 03"),
        new_code_cell("from course.checks import check"),
        new_code_cell("undefined_name + 1"),
        new_code_cell("check('03.cost_by_hand', 0.525)"),
        new_code_cell("raise ValueError('second problem')"),
        new_code_cell("check('03.gradient', (0.0, 0.0))"),
        new_code_cell("import os\nprint(os.getcwd())\nopen('made-here.txt', 'w').write('x')"),
    ])
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}  # ignored: our own kernel
    result, stdout = run(tmp_path, nb)
    assert result["checks"] == {"03.cost_by_hand": True, "03.gradient": False}
    assert result["attempts"] == {"03.cost_by_hand": 1, "03.gradient": 1}
    assert (result["cells"], result["cells_failed"]) == (6, 2)
    assert result["first_error"] == "cell 3: NameError: name 'undefined_name' is not defined"
    assert result["error"] is None and result["version"] == 1
    assert (tmp_path / "made-here.txt").exists()  # the working directory is the copy's folder
    assert "2 check(s) recorded, 2 of 6 cell(s) raised" in stdout


def test_a_file_that_is_not_a_notebook_is_an_error_with_nothing_run(tmp_path):
    result, _ = run(tmp_path, b'{"cells": [')
    assert result["error"].startswith("the notebook cannot be read (")
    assert (result["checks"], result["cells"]) == ({}, 0)


def test_a_dead_kernel_keeps_what_was_recorded_before(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("from course.checks import check\ncheck('03.cost_by_hand', 0.525)"),
        new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        new_code_cell("check('03.gradient', (0.0, 0.0))"),
    ])
    result, _ = run(tmp_path, nb)
    assert result["error"] == "the kernel died (killed by signal 9)"
    assert result["checks"] == {"03.cost_by_hand": True}


def test_the_grading_kernel_sees_the_grading_environment(tmp_path):
    nb = new_notebook(cells=[new_code_cell(
        "import os\nfrom course.config import fast_mode\nfrom course.checks import check\n"
        "ok = os.environ['COURSE_GRADING'] == 'true' and fast_mode() and 'COURSE_GRADEBOOK_URL' not in os.environ\n"
        "check('03.cost_by_hand', 0.525 if ok else 99.0)")])
    result, _ = run(tmp_path, nb)
    assert result["checks"] == {"03.cost_by_hand": True}
