"""Test tiers and the content guard for every test the run collects, the notebooks' nbval cells included.

Every test gets one tier marker (`unit` unless its module says otherwise; `notebooks` for nbval cells).
A tier whose system packages are missing is skipped with the reason, or, with `--require-all-tiers`
(scripts/test.sh and so CI), fails: any skip fails then. Fixtures live in tests/conftest.py.

When the run executes chapters under nbval, one more test follows them, `notebooks-record-no-exercise`:
executing the chapters as committed (every exercise still `None`) must record no exercise attempt in the
progress file the kernels write (COURSE_PROGRESS_FILE; scripts/test.sh starts a fresh one), only the
chapters' own results; and it passes only if every notebook cell ran and passed.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from testkit.tiers import OUTSIDE_PROJECT, REPO, REQUIRE_ALL, TIERS, require, tier_problem

_BEFORE = pytest.StashKey["set[str] | None"]()
_CELLS = pytest.StashKey["dict[str, str]"]()  # nbval cell node id -> outcome of its call ("" until it ran)
_CHAPTERS = pytest.StashKey["set[str]"]()  # the chapters ("06", "00a") whose notebooks run
_NOTEBOOK = re.compile(r"^([0-9]{2}[a-z]?)_.*\.ipynb$")  # a chapter's notebook: 06_cnn.ipynb, 00a_python_primer.ipynb
_RECORDED = pytest.StashKey["dict[str, dict] | None"]()  # progress entries before the first notebook cell
_OUTSIDE = pytest.StashKey["set[str]"]()  # why tests that need a reference outside the project skipped
PROOF = "notebooks-record-no-exercise"


def pytest_addoption(parser):
    parser.addoption(REQUIRE_ALL, action="store_true",
                     help="fail instead of skipping when a tier cannot run here (scripts/test.sh, CI)")


def pytest_configure(config):
    for name, text in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _is_notebook_cell(item) -> bool:
    return type(item).__module__.startswith("nbval")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Tier markers first (before -k/-m select); after selection, the proof follows the notebook cells that run."""
    for item in items:
        if _is_notebook_cell(item):
            item.add_marker(pytest.mark.notebooks)
        elif not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)
    result = yield
    cells = [item for item in items if _is_notebook_cell(item)]
    if cells:
        config.stash[_CELLS] = {item.nodeid: "" for item in cells}
        config.stash[_CHAPTERS] = {m[1] for item in cells if (m := _NOTEBOOK.match(item.path.name))}
        proof = ExecutedAsCommitted.from_parent(items[0].session, name=PROOF)
        proof.add_marker(pytest.mark.notebooks)
        items.append(proof)
    return result


def _progress_file() -> Path:
    from course.config import progress_path

    return progress_path()


def _recorded(path: Path) -> dict[str, dict]:
    from course.checks.progress import CorruptProgress, load

    try:
        return load(path)["questions"]
    except CorruptProgress:
        return {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _is_notebook_cell(item) and item.config.stash.get(_RECORDED, None) is None:
        item.config.stash[_RECORDED] = _recorded(_progress_file())  # before the first kernel starts
    for tier in TIERS:
        if item.get_closest_marker(tier):
            require(item.config, tier_problem(tier))


class ExecutedAsCommitted(pytest.Item):
    """Executing the chapters as committed recorded no exercise attempt: only chapter results.

    Every exercise is checked in one cell, the one whose answer is still `None` (which records nothing);
    a demonstration that calls an exercise's check would record an attempt (and pass) without the student.
    Passes only if every notebook cell of the run passed, and it checks that the kernels wrote to the file
    it reads: each chapter that ran must have recorded its chapter results there.
    """

    def runtest(self):
        from course.checks import registry
        from course.checks.progress import kind_of

        cells = self.config.stash.get(_CELLS, {})
        not_run = [nodeid for nodeid, outcome in cells.items() if outcome != "passed"]
        if not cells or not_run:
            raise ProofFailed(f"{len(not_run)} of {len(cells)} notebook cells did not run and pass "
                              f"({', '.join(not_run[:3])}{' ...' if len(not_run) > 3 else ''}): the chapters did "
                              "not all execute as committed, so nothing is proven.")
        path = _progress_file()
        before = self.config.stash.get(_RECORDED, None) or {}
        after = _recorded(path)
        new = {qid: entry for qid, entry in after.items()
               if entry.get("attempts", 0) > before.get(qid, {}).get("attempts", 0)}
        exercises = sorted(f"{qid} ({'passed' if entry.get('passed') else 'failed'})"
                           for qid, entry in new.items() if kind_of(qid, entry) == "exercise")
        if exercises:
            raise ProofFailed(
                f"Executing the chapters as committed recorded {len(exercises)} exercise attempt(s) in {path}: "
                + ", ".join(exercises) + ". A demonstration cell calls an exercise's check; an exercise is "
                "checked only in the cell with its None placeholder (a demonstration prints its figure, "
                "asserts it, or checks a chapter result).")
        chapters = self.config.stash.get(_CHAPTERS, set())
        missing = sorted(q.id for q in registry().values()
                         if q.kind == "result" and q.chapter in chapters
                         and not (q.id in new and new[q.id].get("passed")))
        if missing:
            raise ProofFailed(
                f"The chapters ran, but their results {', '.join(missing)} were not recorded as reached in {path}: "
                "the kernels did not write to the progress file this test reads (COURSE_PROGRESS_FILE), so "
                "an exercise recorded elsewhere would go unseen.")

    def repr_failure(self, excinfo, style=None):
        if excinfo.errisinstance(ProofFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{PROOF}: the chapters as committed record no exercise"


class ProofFailed(AssertionError):
    """What the notebooks' run shows is not the proof (a message, no traceback)."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under --require-all-tiers a skipped test counts as failed: CI must not hide a missing part."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.config.getoption(REQUIRE_ALL) and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if OUTSIDE_PROJECT in reason:  # a reference file the project may not carry: say it, do not fail
            item.config.stash.setdefault(_OUTSIDE, set()).add(reason.split(OUTSIDE_PROJECT, 1)[1])
            return
        report.outcome = "failed"
        report.longrepr = f"skipped, but scripts/test.sh runs every tier: {reason}"
    cells = item.config.stash.get(_CELLS, None)
    if cells is not None and item.nodeid in cells and (report.when == "call" or not report.passed):
        if cells[item.nodeid] in ("", "passed"):  # the first failure of setup, call or teardown sticks
            cells[item.nodeid] = report.outcome


def _untracked_in_notebooks() -> set[str] | None:
    done = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--ignored", "--untracked-files=all",
                           "--", "notebooks"], capture_output=True, text=True)
    if done.returncode != 0:
        return None  # not a git checkout: nothing to compare against
    return {line[3:] for line in done.stdout.splitlines() if line[:2] in ("??", "!!")}


def pytest_sessionstart(session):
    session.config.stash[_BEFORE] = _untracked_in_notebooks()


def pytest_sessionfinish(session, exitstatus):
    """Tests, and the notebooks they run, never write into notebooks/: it is what every student receives."""
    before, after = session.config.stash.get(_BEFORE, None), _untracked_in_notebooks()
    if before is None or after is None:
        return
    new = sorted(after - before)
    if new:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("ERROR: the test run wrote into notebooks/ (course content is what git tracks): "
                                + ", ".join(new[:10]) + (" ..." if len(new) > 10 else ""), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED



def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say, at the end, which reference files outside the project were absent (their tests skipped)."""
    for reason in sorted(config.stash.get(_OUTSIDE, set())):
        terminalreporter.write_line(f"NOTE: tests skipped, {OUTSIDE_PROJECT}{reason}", yellow=True, bold=True)
