"""``course doctor``: what this machine has for the course, and what a chapter would miss."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from course.config import progress_path, user_cache_dir


@dataclass
class Finding:
    """One line of the report. A failed ``required`` finding makes the doctor exit non-zero."""

    topic: str
    ok: bool
    detail: str
    required: bool = True

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.required else "warn")
        return f"[{mark}] {self.topic:<20} {self.detail}"


def _python() -> Finding:
    version = platform.python_version()
    ok = (3, 10) <= sys.version_info[:2] <= (3, 13)
    return Finding("Python", ok, version + ("" if ok else " (TensorFlow 2.21 needs Python 3.10-3.13)"))


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide the C++ log lines TensorFlow writes straight to file descriptor 2 while it loads."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _tensorflow() -> list[Finding]:
    try:
        with _native_stderr_silenced():
            import keras
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe logs here too
    except Exception as exc:  # an import failure is the finding itself
        return [Finding("TensorFlow", False, f"cannot import ({exc.__class__.__name__}: {exc}); "
                        "install the course with `pip install -e '.[library]'`")]
    return [Finding("TensorFlow", True, tf.__version__), Finding("Keras", True, keras.__version__)]


def _devices() -> Finding:
    """The device line of every chapter: the GPU this kernel would use, or why it runs on the CPU only."""
    try:
        from course.gpu import device_line, device_state

        state = device_state()
        line = device_line(state)
    except Exception as exc:
        return Finding("Devices", False, f"could not list devices ({exc})", required=False)
    if state.gpus:
        return Finding("Devices", True, line)
    return Finding("Devices", False, f"{line} (every chapter runs, only slower)", required=False)


def _datasets() -> list[Finding]:
    from course.datasets import survey

    findings = []
    by_name: dict[str, list] = {}
    for item in survey(first_only=True):
        by_name.setdefault(item.dataset, []).append(item)
    for name, items in by_name.items():
        present = [i for i in items if i.status != "missing"]
        required = name == "mnist"
        if not present:
            findings.append(Finding(f"data: {name}", False, "not found; run `course data fetch "
                                    f"{name}` or `course data import PATH`", required))
            continue
        first = present[0]
        ok = first.status in ("verified", "unverified")
        detail = f"{first.status} at {first.location.path / name} ({first.location.kind}); {first.detail}"
        findings.append(Finding(f"data: {name}", ok, detail, required))
    return findings


def _font() -> Finding:
    try:
        from course.plotting import korean_font
        family = korean_font()
    except Exception as exc:
        return Finding("Korean font", False, f"plotting failed to load ({exc})")
    if family:
        return Finding("Korean font", True, family)
    return Finding("Korean font", False, "none found: install fonts-nanum (Debian) so plots show Korean text")


def _writable(topic: str, folder: Path) -> Finding:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    ok = probe.is_dir() and os.access(probe, os.W_OK)
    return Finding(topic, ok, f"{folder} " + ("writable" if ok else "is not writable: set HOME or fix permissions"))


def run_checks() -> list[Finding]:
    """Every finding, in report order."""
    return [_python(), *_tensorflow(), _devices(), *_datasets(), _font(),
            _writable("progress", progress_path().parent), _writable("data cache", user_cache_dir())]


def main_doctor(_args=None) -> int:
    """Print the report; exit status 1 when something a chapter needs is missing."""
    findings = run_checks()
    for finding in findings:
        print(finding.line())
    failed = [f for f in findings if f.required and not f.ok]
    if failed:
        print(f"\n{len(failed)} problem(s) a chapter would trip over: " + "; ".join(f.topic for f in failed))
        return 1
    print("\nEverything the chapters need is here.")
    return 0
