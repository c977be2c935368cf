"""A real hub for the tests: local mode on loopback, in a temporary state folder.

`live_hub` (session) starts `python -m hub` on free ports with a copy of the course notebooks, and on the
way out stops every server, the hub and its proxy, and removes the system users it created. When a test
failed, the hub's log (which includes the students' servers' logs) is kept in test-artifacts/.
"""
from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

import singleuser
from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient
from testkit.temporary_hub import TemporaryHub

ARTIFACTS = REPO_ROOT / "test-artifacts"
ADMIN_PASSWORD = "instructor-pw-1"
_failed: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _failed.append(item.nodeid)


@pytest.fixture(scope="session", autouse=True)
def _students_can_run_python():
    """As root, students' system users must be able to run this Python.

    A Python under a private folder (pyenv in /root, mode 0700, as on this machine and in CI) is out of
    their reach: the hub refuses to start and says so. For the tests, let other users *enter* (not list)
    those folders, and put the modes back afterwards.
    """
    from hub.system_users import running_as_root, runtime_paths, student_access_problems

    changed: list[tuple[Path, int]] = []
    if running_as_root():
        for folder in student_access_problems([*runtime_paths(), singleuser.SERVER_COMMAND]):
            mode = stat.S_IMODE(folder.stat().st_mode)
            os.chmod(folder, mode | 0o001)
            changed.append((folder, mode))
    yield
    for folder, mode in reversed(changed):
        os.chmod(folder, mode)


def _running_hub(prefix: str, extra_env: dict[str, str] | None = None, verify: str | None = None):
    """A real hub in local mode on free loopback ports, with a copy of the course notebooks; everything it
    started (servers, proxy, system users) is gone afterwards. Its log is kept in test-artifacts/ when a
    test failed. `extra_env` adds to (or replaces) the hub's environment, e.g. limits of its own."""
    # Not under pytest's temporary folder: that one is private (0700), and students must reach their homes.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(root, 0o755)
    notebooks = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        pytest.fail("no notebooks in notebooks/: the hub serves them as the course content")
    hub = TemporaryHub(root, ADMIN_PASSWORD, {"COURSE_LOGIN_ATTEMPTS": "3", "COURSE_KERNEL_IDLE_TIMEOUT": "120",
                                              **(extra_env or {})}, verify=verify)
    hub.notebooks.mkdir()
    for path in notebooks:
        shutil.copy(path, hub.notebooks / path.name)
    (hub.data / "mnist").mkdir(parents=True)
    (hub.data / "mnist" / "README.txt").write_text("shared dataset\n")
    try:
        hub.start()
        yield hub
    finally:
        try:
            if hub.proc is not None and hub.proc.poll() is None:
                hub.stop_all_servers()
        finally:
            hub.stop()
            hub.remove_system_users()
            if _failed:
                ARTIFACTS.mkdir(exist_ok=True)
                stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
                shutil.copy(hub.log_path, ARTIFACTS / f"{prefix}{stamp}.log")
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def live_hub():
    """The real hub, running for the whole test session (shared: tests make users of their own with `unique`)."""
    yield from _running_hub("course-hub-test-")


@pytest.fixture(scope="module")
def hub_env() -> dict[str, str]:
    """Extra settings for `own_hub`: a module overrides this fixture to give its hub settings of its own."""
    return {}


@pytest.fixture(scope="module")
def hub_verify() -> str | None:
    """For `own_hub` on HTTPS (a module's `hub_env` with COURSE_TLS_CERT): the CA file that issued it."""
    return None


@pytest.fixture(scope="module")
def own_hub(hub_env, hub_verify):
    """A real hub of the module's own, for tests that count or sort every user the hub has, or that need
    settings of their own (`hub_env`, and `hub_verify` when they serve it over HTTPS)."""
    yield from _running_hub("course-hub-own-", hub_env, hub_verify)


@pytest.fixture(scope="module")
def admin(live_hub) -> HubClient:
    """The hub's admin, logged in: on the session's hub, or on a module's own where it makes `live_hub` that."""
    client = HubClient(live_hub.url)
    client.login("admin", live_hub.admin_password)
    return client


@pytest.fixture
def open_tmp():
    """A temporary folder other users can enter (pytest's own is private), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="course-hub-unit-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def unique():
    """Makes user names not used by an earlier test run: unique("ana") -> "ana3f9c"."""
    return lambda prefix: f"{prefix}{secrets.randbelow(0x10000):04x}"

