"""benchmarks/chapters.py: RESULT-line parsing, chapter selection, the table, and one real notebook run."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("chapters", ROOT / "benchmarks" / "chapters.py")
chapters = importlib.util.module_from_spec(_spec)
sys.modules["chapters"] = chapters  # dataclasses look their module up there
_spec.loader.exec_module(chapters)


def test_parse_result_lines_reads_well_formed_lines_only():
    text = (
        "epoch 1\n"
        "RESULT chapter=04 metric=test_accuracy value=0.9231 data=MNIST subset of 10,000 digits\n"
        "RESULT chapter=05 metric=final_cost value=abc data=x\n"   # not a number: skipped
        "  RESULT chapter=03 metric=final_cost value=1e-3\n"       # no data part: allowed
        "NO RESULT chapter=01 metric=x value=1\n"
    )
    found = chapters.parse_result_lines(text)
    assert [(r.chapter, r.metric, r.value, r.data) for r in found] == [
        ("04", "test_accuracy", 0.9231, "MNIST subset of 10,000 digits"),
        ("03", "final_cost", 0.001, ""),
    ]


def test_parse_results_looks_at_stdout_and_plain_text_only():
    nb = new_notebook(cells=[new_code_cell("x")])
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="RESULT chapter=01 metric=a value=1\n"),
        nbformat.v4.new_output("stream", name="stdout", text="RESULT chapter=01 metric=b value=2\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "RESULT chapter=01 metric=c value=3"},
                               execution_count=1),
    ]
    assert [r.metric for r in chapters.parse_results(nb)] == ["b", "c"]


def test_chapter_run_prefers_its_own_chapter_and_tolerates_none():
    run = chapters.ChapterRun("06", "06_cnn.ipynb", 1.0,
                              [chapters.Result("06", "test_accuracy", 0.99), chapters.Result("04", "x", 1.0)])
    assert run.result.metric == "test_accuracy"
    assert chapters.ChapterRun("01", "01.ipynb", 1.0).result is None


def test_find_notebooks(tmp_path):
    for name in ("00_setup.ipynb", "03_linear.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [c for c, _ in chapters.find_notebooks(None, tmp_path)] == ["00", "03"]
    assert [c for c, _ in chapters.find_notebooks(["3", "03", "00"], tmp_path)] == ["03", "00"]
    with pytest.raises(ValueError, match="available: 00 03"):
        chapters.find_notebooks(["07"], tmp_path)


def test_find_notebooks_takes_a_chapter_with_a_letter_between_two_others(tmp_path):
    for name in ("01_tensors.ipynb", "00a_python_primer.ipynb", "00_setup.ipynb", "0a_short.ipynb",
                 "00ab_two_letters.ipynb", "00A_upper.ipynb"):
        (tmp_path / name).write_text("{}")
    found = chapters.find_notebooks(None, tmp_path)
    assert [(c, p.name) for c, p in found] == [("00", "00_setup.ipynb"), ("00a", "00a_python_primer.ipynb"),
                                               ("01", "01_tensors.ipynb")]
    assert [c for c, _ in chapters.find_notebooks(["0a", "00A", "00a", "0"], tmp_path)] == ["00a", "00"]
    with pytest.raises(ValueError, match="no notebook for chapter '00b'; available: 00 00a 01"):
        chapters.find_notebooks(["00b"], tmp_path)


def test_the_primers_result_line_is_read():
    assert chapters.parse_result_lines("RESULT chapter=00a metric=numpy_speedup value=52.3 data=1,000 numbers\n") \
        == [chapters.Result("00a", "numpy_speedup", 52.3, "1,000 numbers")]
    run = chapters.ChapterRun("00a", "00a_python_primer.ipynb", 1.0,
                              [chapters.Result("00", "x", 1.0), chapters.Result("00a", "numpy_speedup", 40.0)])
    assert run.result.metric == "numpy_speedup"


def test_the_course_notebooks_are_all_found_in_order():
    found = [c for c, _ in chapters.find_notebooks(None)]
    assert found[:3] == ["00", "00a", "01"] and found == sorted(found)


def test_format_table_shows_dash_for_missing_figures():
    runs = [
        chapters.ChapterRun("01", "01_tensors.ipynb", 12.3),
        chapters.ChapterRun("04", "04_softmax.ipynb", 75.0, [chapters.Result("04", "test_accuracy", 0.92311, "MNIST")],
                            peak_bytes=3 * 2**29),
        chapters.ChapterRun("05", "05_nn.ipynb", 3.0, error="ValueError: boom"),
    ]
    lines = chapters.format_table(runs, "CPU only").splitlines()
    assert lines[0].split("|")[1].strip() == "chapter"
    assert "| 01 " in lines[2] and "| -" in lines[2]
    assert "test_accuracy 0.9231" in lines[3] and "1m15s" in lines[3] and "| 1.50 GiB " in lines[3]
    assert "FAILED: ValueError: boom" in lines[4]


def test_main_runs_a_notebook_in_a_fresh_kernel(tmp_path, capsys):
    nb = new_notebook(cells=[
        new_code_cell("import os\nfast = os.environ.get('COURSE_FAST')"),
        new_code_cell("print(f'RESULT chapter=07 metric=final_cost value=0.125 data=fast={fast}')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "07_demo.ipynb")
    broken = new_notebook(cells=[new_code_cell("raise ValueError('boom')")])
    nbformat.write(broken, tmp_path / "08_broken.ipynb")

    code = chapters.main(["--notebooks", str(tmp_path), "--fast", "--json", str(tmp_path / "out.json"),
                          "--keep", str(tmp_path / "kept")])
    out = capsys.readouterr().out
    assert code == 1  # one chapter failed
    assert "final_cost 0.125" in out and "fast=1" in out
    assert "FAILED: ValueError: boom" in out
    assert (tmp_path / "kept" / "07_demo.ipynb").exists()
    import json
    payload = json.loads((tmp_path / "out.json").read_text())
    assert payload["mode"] == "fast" and payload["chapters"][0]["result"]["value"] == 0.125


def test_the_peak_memory_is_the_kernels_and_its_childrens(tmp_path):
    """A kernel that holds 300 MB and starts a child holding 200 MB at the same time peaks above 500 MB; what
    they share (the interpreter's pages) counts once."""
    child = "import time; b = bytearray(200 * 2**20); time.sleep(2)"
    code = (f"import subprocess, sys\nheld = bytearray(300 * 2**20)\n"
            f"subprocess.run([sys.executable, '-c', {child!r}])")
    nb = new_notebook(cells=[new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "05_memory.ipynb")
    run = chapters.run_notebook("05", tmp_path / "05_memory.ipynb", timeout=120, kernel="python3")
    assert run.error is None and 500 * 2**20 < run.peak_bytes < 2 * 2**30


def test_proportional_set_size_reads_this_process():
    pss = chapters.proportional_set_size(os.getpid())
    assert pss is not None and 0 < pss < 2 * 2**30
    assert chapters.proportional_set_size(2**22 + 12345) is None  # no such process


def test_main_rejects_an_unknown_chapter(tmp_path, capsys):
    (tmp_path / "00_setup.ipynb").write_text("{}")
    assert chapters.main(["--notebooks", str(tmp_path), "--chapters", "42"]) == 2
    assert "no notebook for chapter '42'" in capsys.readouterr().err


def test_a_chapter_runs_in_a_scratch_folder_never_beside_the_notebook(tmp_path):
    """Regression: run beside the notebook, chapters 08 and 09 left logs/ and saved/ in notebooks/."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = new_notebook(cells=[new_code_cell(
        "from pathlib import Path\nPath('saved').mkdir()\nPath('saved/ckpt-40.index').write_text('x')\n"
        f"scratch = int(Path.cwd() != Path({str(folder)!r}))\n"
        "print(f'RESULT chapter=09 metric=cwd_is_scratch value={scratch}')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "09_demo.ipynb")
    run = chapters.run_notebook("09", folder / "09_demo.ipynb", timeout=120, kernel="python3")
    assert run.error is None and run.result.value == 1.0
    assert sorted(p.name for p in folder.iterdir()) == ["09_demo.ipynb"]
