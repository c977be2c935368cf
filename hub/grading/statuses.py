"""A run's status and detail for the gradebook, and the grades it earned.

Statuses: "graded" (detail: how many cells raised and the first error), "not started" (no notebook, or the
course's own version untouched: nothing runs), "timed out after 300 s", "out of memory (limit 3 GiB)", and
"failed: <one line>" (the notebook is not valid JSON, the kernel died or hit its CPU time, the sandbox
could not be set up, ...). Whatever ended a run, the checks it recorded until then are its grades; only
questions of the chapter being graded, as listed in course/checks/questions.json, are recorded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.gradebook.questions import QuestionInfo
from hub.gradebook.store import GRADED, NOT_STARTED
from hub.grading.sandbox import SandboxRun, format_bytes

SKIPPED_BUSY = "skipped: already being graded"  # never recorded: another grader holds this run's lock
_LINE = 240


def timed_out(seconds: int) -> str:
    return f"timed out after {seconds} s"


def out_of_memory(limit_bytes: int) -> str:
    return f"out of memory (limit {format_bytes(limit_bytes)})"


def failed(reason: str) -> str:
    return "failed: " + one_line(reason)


def one_line(text: Any, limit: int = _LINE) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass
class Verdict:
    """What the gradebook records for one run."""

    status: str
    detail: str = ""
    grades: dict[str, bool] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


def recorded_checks(run: SandboxRun) -> dict[str, bool]:
    """question -> passed: from the grader's result, else (the run was cut short) from the progress file
    the grading kernel's checks wrote."""
    source: Any = (run.result or {}).get("checks")
    if not isinstance(source, dict):
        questions = (run.progress or {}).get("questions")
        if not isinstance(questions, dict):
            return {}
        source = {q: e.get("passed") for q, e in questions.items() if isinstance(e, dict)}
    return {q: bool(p) for q, p in source.items() if isinstance(q, str)}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _kernel_error(error: str, cpu_seconds: int) -> str:
    if "signal 24" in error:  # SIGXCPU: RLIMIT_CPU's soft limit
        return f"the kernel used its {cpu_seconds} s of CPU time"
    return error


def verdict(run: SandboxRun, *, chapter_questions: dict[str, QuestionInfo], timeout: int, memory_bytes: int,
            notes: list[str] | None = None) -> Verdict:
    """The status, detail and grades of a finished (or ended) run."""
    checks = recorded_checks(run)
    grades = {q: p for q, p in checks.items() if q in chapter_questions}
    kinds = {q: chapter_questions[q].kind for q in grades}
    other = sorted(q for q in checks if q not in chapter_questions)
    result = run.result or {}
    detail: list[str] = []
    error = result.get("error") if isinstance(result.get("error"), str) else None
    if run.timed_out:
        status = timed_out(timeout)
    elif run.oom_kills > 0:
        status = out_of_memory(memory_bytes)
    elif run.result is None:
        tail = _last_line(run.output_tail)
        if run.setup_failed:
            status = failed("the sandbox could not be set up" + (f" ({tail})" if tail else ""))
        else:
            code = run.exit_code
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            status = failed(f"the grader ended without a result ({how})" + (f": {tail}" if tail else ""))
    elif error:
        status = failed(_kernel_error(error, 2 * timeout))
    else:
        status = GRADED
    if run.result is not None:
        cells, raised, first = result.get("cells", 0), result.get("cells_failed", 0), result.get("first_error")
        if raised:
            detail.append(f"{raised} of {cells} cells raised; first: {first}")
        elif status == GRADED:
            detail.append(f"every one of {cells} cells ran")
    if status != GRADED and grades:
        detail.append(f"{len(grades)} check(s) recorded before it ended count")
    if other:
        detail.append("ignored checks of other chapters or unknown ids: " + ", ".join(other[:8])
                      + (" ..." if len(other) > 8 else ""))
    timing = f"{run.seconds:.0f} s"
    if run.peak_bytes:
        timing += f", peak memory {format_bytes(run.peak_bytes)}"
    detail.append(timing)
    detail.extend(notes or [])
    return Verdict(status, "; ".join(one_line(d, 400) for d in detail), grades, kinds)


def not_started(reason: str) -> Verdict:
    return Verdict(NOT_STARTED, reason)
