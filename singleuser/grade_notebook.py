"""Grade one notebook copy: execute it top to bottom in a fresh kernel, then write what its checks recorded.

Runs on a student's side, as the student (local mode, inside the hub's sandbox) or in a throwaway
container of the course image (Docker mode), never in the hub's process. The hub prepares everything it
relies on: a private folder holding the copy (never the student's own file), the working directory (that
folder), and the environment (COURSE_GRADING=true, COURSE_PROGRESS_FILE=<a file in that folder>,
COURSE_FAST, COURSE_DATA_DIR, HOME). The hub enforces the limits (wall clock, memory, CPU time, network);
this script only runs the cells and reports.

Cells that raise do not stop the run (nbclient's allow_errors): later exercises still count. The result
is JSON, written atomically to --result (default: grade-result.json beside the copy):

    {"version": 1, "checks": {"03.cost_by_hand": true, ...}, "attempts": {"03.cost_by_hand": 2, ...},
     "cells": 37, "cells_failed": 3, "first_error": "cell 7: NameError: name 'x' is not defined",
     "error": null, "seconds": 41.2}

`checks` and `attempts` come from the progress file the grading kernel's check() calls wrote (question id
-> passed in this run); `error` is set when the run itself broke (the notebook is not valid, the kernel
died or would not start), with what was recorded until then.

Usage: python grade_notebook.py NOTEBOOK [--result FILE] [--startup-timeout SECONDS]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

RESULT_VERSION = 1
RESULT_NAME = "grade-result.json"
KERNEL_NAME = "course-grading"
_LINE = 240  # characters of an error message kept


def one_line(text: str, limit: int = _LINE) -> str:
    """`text` on one line, at most `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _kernel_dir(folder: Path) -> Path:
    """A kernelspec of our own beside the copy: this Python's ipykernel, whatever the notebook's metadata
    names (a student cannot point the grader at another kernel)."""
    spec_dir = folder / ".grading-kernel" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "course grading", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return spec_dir.parent


def read_progress(path: Path) -> tuple[dict[str, bool], dict[str, int]]:
    """(question -> passed, question -> attempts) from a progress file; empty when there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, {}
    questions = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(questions, dict):
        return {}, {}
    passed: dict[str, bool] = {}
    attempts: dict[str, int] = {}
    for qid, entry in questions.items():
        if isinstance(qid, str) and isinstance(entry, dict):
            passed[qid] = bool(entry.get("passed"))
            count = entry.get("attempts")
            attempts[qid] = count if isinstance(count, int) and not isinstance(count, bool) else 0
    return passed, attempts


def cell_errors(nb: Any) -> tuple[int, int, str | None]:
    """(code cells, cells with an error output, the first error as 'cell N: Name: message')."""
    cells = failed = 0
    first = None
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        cells += 1
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            failed += 1
            if first is None:
                first = one_line(f"cell {index + 1}: {errors[0].get('ename', 'Error')}: {errors[0].get('evalue', '')}")
    return cells, failed, first


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _kernel_exit(client: Any) -> str:
    """How the kernel ended, when it is known ('killed by signal 9', 'exit code 1')."""
    try:
        process = client.km.provisioner.process
        code = process.poll()
    except AttributeError:
        return ""
    if code is None:
        return ""
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def grade(notebook: Path, result_path: Path, startup_timeout: int = 180) -> dict[str, Any]:
    """Execute `notebook` in place (it is the hub's copy) and write the result JSON; returns it."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from course import settings

    started = time.monotonic()
    progress = settings.PROGRESS_FILE.read(os.environ) or notebook.parent / "progress.json"
    result: dict[str, Any] = {"version": RESULT_VERSION, "checks": {}, "attempts": {}, "cells": 0,
                              "cells_failed": 0, "first_error": None, "error": None}
    nb = None
    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception as exc:  # noqa: BLE001 - not JSON, not a notebook: the run is over, say why
        result["error"] = one_line(f"the notebook cannot be read ({type(exc).__name__}: {exc})")
    if nb is not None:
        folder = notebook.parent
        specs = KernelSpecManager(kernel_dirs=[str(_kernel_dir(folder))], ensure_native_kernel=False)
        km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
        client = NotebookClient(nb, km=km, timeout=None, allow_errors=True, startup_timeout=startup_timeout,
                                record_timing=False, resources={"metadata": {"path": str(folder)}})
        try:
            client.execute()
        except DeadKernelError as exc:
            how = _kernel_exit(client)
            result["error"] = one_line("the kernel died" + (f" ({how})" if how else f": {exc}"))
        except Exception as exc:  # noqa: BLE001 - the kernel would not start, a cell could not be sent, ...
            result["error"] = one_line(f"{type(exc).__name__}: {exc}")
        result["cells"], result["cells_failed"], result["first_error"] = cell_errors(nb)
    result["checks"], result["attempts"] = read_progress(Path(progress))
    result["seconds"] = round(time.monotonic() - started, 1)
    _write_atomic(result_path, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute a copy of a notebook and report its graded checks.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--result", type=Path, help=f"where to write the result JSON (default: {RESULT_NAME} "
                                                    "beside the notebook)")
    parser.add_argument("--startup-timeout", type=int, default=180, help="seconds the kernel may take to start")
    args = parser.parse_args(argv)
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) != here]  # this folder is not a library
    notebook = args.notebook.resolve()
    result = grade(notebook, args.result or notebook.parent / RESULT_NAME, args.startup_timeout)
    print(f"course grading: {len(result['checks'])} check(s) recorded, {result['cells_failed']} of "
          f"{result['cells']} cell(s) raised" + (f"; {result['error']}" if result["error"] else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
