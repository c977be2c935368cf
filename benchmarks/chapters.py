"""Run course chapters in fresh kernels and print their figures as a table.

    python benchmarks/chapters.py                      # every chapter, full mode
    python benchmarks/chapters.py --chapters 03 04 06  # chosen chapters
    python benchmarks/chapters.py --fast               # COURSE_FAST=1 (the CI sizes)

Each notebook reports its main figure by printing one line in its final results cell:

    RESULT chapter=NN metric=<name> value=<float> data=<description>

(for example ``RESULT chapter=04 metric=test_accuracy value=0.9231 data=MNIST 70,000 (full)``). NN is the chapter
as the notebook's file name has it: two digits, or two digits and a letter for a chapter that sorts between two
others (``00a_python_primer.ipynb``, ``chapter=00a``). This script parses those lines from the executed
notebook's outputs; a chapter that prints none shows "-". The table has one row per chapter: chapter, data
used, metric and value, wall time, peak memory, device, status.

Peak memory is what a student's memory limit (``COURSE_MEM_LIMIT``) has to hold: the largest summed memory of
the chapter's kernel and every process it started (chapter 13's workers), sampled every 0.2 s. Each process
counts its proportional set size (PSS, Linux's smaps_rollup: a page shared by n processes counts 1/n in each),
so TensorFlow's libraries, mapped by every worker, count once; RSS where PSS cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

NOTEBOOK_NAME = re.compile(r"^(?P<chapter>[0-9]{2}[a-z]?)_.+\.ipynb$")  # 03_linear_regression, 00a_python_primer
CHAPTER_ARG = re.compile(r"^([0-9]{1,2})([A-Za-z]?)$")
RESULT_LINE = re.compile(
    r"^RESULT\s+chapter=(?P<chapter>\S+)\s+metric=(?P<metric>\S+)\s+value=(?P<value>\S+)(?:\s+data=(?P<data>.*))?$"
)

_DEVICE_SCRIPT = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
names = []
for gpu in tf.config.list_physical_devices("GPU"):
    details = tf.config.experimental.get_device_details(gpu)
    names.append(details.get("device_name") or gpu.name)
print("GPU: " + ", ".join(names) if names else "CPU only")
"""


@dataclass
class Result:
    """One ``RESULT`` line of a notebook."""

    chapter: str
    metric: str
    value: float
    data: str = ""


@dataclass
class ChapterRun:
    """What running one notebook gave."""

    chapter: str
    notebook: str
    seconds: float
    results: list[Result] = field(default_factory=list)
    error: str | None = None
    peak_bytes: int | None = None  # the kernel's and its children's summed memory (PSS) at its largest

    @property
    def result(self) -> Result | None:
        """The chapter's figure: its last RESULT line naming this chapter (or the last line at all)."""
        own = [r for r in self.results if r.chapter == self.chapter]
        chosen = own or self.results
        return chosen[-1] if chosen else None


def parse_result_lines(text: str) -> list[Result]:
    """Every well-formed ``RESULT ...`` line in ``text``; malformed ones (a value that is no number) are skipped."""
    found = []
    for raw in text.replace("\r", "\n").splitlines():
        match = RESULT_LINE.match(raw.strip())
        if not match:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        found.append(Result(match["chapter"], match["metric"], value, (match["data"] or "").strip()))
    return found


def parse_results(notebook: Any) -> list[Result]:
    """The RESULT lines printed by a notebook's code cells (stdout streams and plain-text results), in order."""
    found: list[Result] = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text = output.get("text", "")
            elif output.get("output_type") in ("execute_result", "display_data"):
                text = output.get("data", {}).get("text/plain", "")
            else:
                continue
            found.extend(parse_result_lines("".join(text) if isinstance(text, list) else text))
    return found


def chapter_of(name: str) -> str | None:
    """The chapter of a notebook file name: "03_linear_regression.ipynb" -> "03", "00a_python_primer.ipynb" ->
    "00a" (a chapter that sorts between 00 and 01); None for any other name."""
    match = NOTEBOOK_NAME.match(name)
    return match["chapter"] if match else None


def chapter_key(text: str) -> str:
    """What a user types for a chapter, as the notebooks name it: "3" -> "03", "0a" or "00A" -> "00a"."""
    match = CHAPTER_ARG.match(text.strip())
    return f"{int(match[1]):02d}{match[2].lower()}" if match else text.strip()


def find_notebooks(chapters: Sequence[str] | None, folder: Path = NOTEBOOKS) -> list[tuple[str, Path]]:
    """(chapter, path) for the chosen chapters ("3" and "03" both work, "0a" and "00a" too), or for all of them,
    in chapter order (00, 00a, 01, ...); ValueError if unknown."""
    available = {}
    for path in sorted(folder.glob("*.ipynb")):
        chapter = chapter_of(path.name)
        if chapter is not None:
            available.setdefault(chapter, path)
    if not available:
        raise ValueError(f"no chapter notebooks (NN_name.ipynb or NNa_name.ipynb) in {folder}")
    if not chapters:
        return sorted(available.items())
    chosen = []
    for chapter in chapters:
        key = chapter_key(chapter)
        if key not in available:
            raise ValueError(f"no notebook for chapter {chapter!r}; available: {' '.join(sorted(available))}")
        if key not in (c for c, _ in chosen):
            chosen.append((key, available[key]))
    return chosen


def detect_device(python: str = sys.executable, timeout: float = 180.0) -> str:
    """The devices TensorFlow sees on this machine, e.g. "GPU: NVIDIA H100 80GB HBM3" or "CPU only"."""
    cores = f"{os.cpu_count() or '?'} CPU cores"
    try:
        done = subprocess.run([python, "-c", _DEVICE_SCRIPT], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__}); {cores}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        return f"unknown (TensorFlow did not start); {cores}"
    return f"{lines[-1]}; {cores}"


def proportional_set_size(pid: int) -> int | None:
    """A process's PSS in bytes from /proc/PID/smaps_rollup, or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class PeakMemory:
    """Samples the summed PSS (else RSS) of this process's children (a kernel and what it starts) in a thread; ``peak``
    is the largest sum seen. Without psutil it measures nothing (``peak`` stays None)."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak = interval, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += proportional_set_size(child.pid) or child.memory_info().rss
                except psutil.Error:  # it ended between the listing and the reading
                    pass
            if total:
                self.peak = max(self.peak or 0, total)
            self._stop.wait(self.interval)


def run_notebook(chapter: str, path: Path, *, timeout: int | None, kernel: str, keep: Path | None = None,
                 workdir: Path | None = None) -> ChapterRun:
    """Execute ``path`` top to bottom in a fresh kernel and collect its RESULT lines.

    The kernel works in ``workdir`` (default: a new temporary folder), never beside the notebook: what a
    chapter writes (TensorBoard logs, checkpoints) must not land in notebooks/, which students receive.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbconvert.preprocessors import ExecutePreprocessor

    notebook = nbformat.read(path, as_version=4)
    processor = ExecutePreprocessor(timeout=timeout if timeout and timeout > 0 else None, kernel_name=kernel)
    error = None
    scratch = tempfile.TemporaryDirectory(prefix=f"course-chapter-{chapter}-") if workdir is None else None
    cwd = Path(scratch.name) if scratch is not None else workdir
    start = time.perf_counter()
    memory = PeakMemory()
    try:
        with memory:
            processor.preprocess(notebook, {"metadata": {"path": str(cwd)}})
    except CellExecutionError as exc:
        error = _first_error_line(exc)
    except CellTimeoutError:
        error = f"a cell ran longer than {timeout} s (raise --timeout)"
    except DeadKernelError:
        error = "the kernel died (out of memory?)"
    except Exception as exc:  # a kernel that cannot start, a broken notebook file, ...
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    seconds = time.perf_counter() - start
    if scratch is not None:
        scratch.cleanup()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, keep / path.name)
    return ChapterRun(chapter, path.name, seconds, parse_results(notebook), error, memory.peak)


def _first_error_line(exc: Exception) -> str:
    ename = getattr(exc, "ename", None) or "error"
    evalue = " ".join(str(getattr(exc, "evalue", "") or "").split())
    text = f"{ename}: {evalue}" if evalue else ename
    return text if len(text) <= 160 else text[:157] + "..."


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"


def _gigabytes(size: int | None) -> str:
    return "-" if size is None else f"{size / 2**30:.2f} GiB"


def format_table(runs: Iterable[ChapterRun], device: str) -> str:
    """The results as an aligned text table (also valid Markdown)."""
    header = ["chapter", "data", "result", "wall time", "peak memory", "device", "status"]
    rows = []
    for run in runs:
        result = run.result
        figure = f"{result.metric} {result.value:.4g}" if result else "-"
        data = (result.data or "-") if result else "-"
        status = "ok" if run.error is None else f"FAILED: {run.error}"
        rows.append([run.chapter, data, figure, _duration(run.seconds), _gigabytes(run.peak_bytes), device, status])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run course chapters in fresh kernels and print their figures.")
    parser.add_argument("--chapters", nargs="+", metavar="NN",
                        help="chapters to run, e.g. 03 04 06 or 00a (default: all)")
    parser.add_argument("--fast", action="store_true", help="fast mode (COURSE_FAST=1), as CI runs them")
    parser.add_argument("--timeout", type=int, default=0, metavar="S", help="per-cell limit in seconds (default: none)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the NN_name.ipynb files")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the executed notebooks (with outputs) here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        chosen = find_notebooks(args.chapters, args.notebooks)
    except ValueError as exc:
        print(f"chapters.py: {exc}", file=sys.stderr)
        return 2
    if args.fast:
        os.environ["COURSE_FAST"] = "1"
    else:
        os.environ.pop("COURSE_FAST", None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # graded checks inside the notebooks must not write into the user's own progress file
    scratch = tempfile.TemporaryDirectory(prefix="course-bench-")
    os.environ["COURSE_PROGRESS_FILE"] = str(Path(scratch.name) / "progress.json")

    device = detect_device()
    mode = "fast" if args.fast else "full"
    print(f"Running {len(chosen)} chapter(s) in {mode} mode on {device}", flush=True)
    runs = []
    for chapter, path in chosen:
        print(f"  {chapter} {path.name} ...", end=" ", flush=True)
        run = run_notebook(chapter, path, timeout=args.timeout, kernel=args.kernel, keep=args.keep)
        runs.append(run)
        print(f"{_duration(run.seconds)}, peak {_gigabytes(run.peak_bytes)}"
              + ("" if run.error is None else f"  FAILED: {run.error}"), flush=True)
    scratch.cleanup()

    print()
    print(format_table(runs, device))
    if args.json:
        payload = {"mode": mode, "device": device,
                   "chapters": [{**asdict(run), "result": asdict(run.result) if run.result else None} for run in runs]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if any(run.error for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
