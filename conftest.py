"""Test tiers and the content guard for every test the run collects, the notebooks' nbval cells included.

Every test gets one tier marker (`unit` unless its module says otherwise; `notebooks` for nbval cells).
A tier whose system packages are missing is skipped with the reason, or, with `--require-all-tiers`
(scripts/test.sh and so CI), fails: any skip fails then. Fixtures live in tests/conftest.py.
"""
from __future__ import annotations

import subprocess

import pytest

from testkit.tiers import REPO, REQUIRE_ALL, TIERS, require, tier_problem

_BEFORE = pytest.StashKey["set[str] | None"]()


def pytest_addoption(parser):
    parser.addoption(REQUIRE_ALL, action="store_true",
                     help="fail instead of skipping when a tier cannot run here (scripts/test.sh, CI)")


def pytest_configure(config):
    for name, text in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if type(item).__module__.startswith("nbval"):
            item.add_marker(pytest.mark.notebooks)
        elif not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)


def pytest_runtest_setup(item):
    for tier in TIERS:
        if item.get_closest_marker(tier):
            require(item.config, tier_problem(tier))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under --require-all-tiers a skipped test counts as failed: CI must not hide a missing part."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.config.getoption(REQUIRE_ALL) and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but scripts/test.sh runs every tier: {reason}"


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

