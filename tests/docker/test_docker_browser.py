"""A student in a real browser (Playwright driving Debian's Chromium) through the compose deployment: sign in,
JupyterLab opens on ~/course inside their container, chapter 00 runs top to bottom through the hub's proxy and
shows the environment report (the container's Python, on CPU). The screenshot is kept in test-artifacts/."""
from __future__ import annotations

import re

import pytest

from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient
from testkit.jupyterlab import sign_in_and_run_all

pytestmark = pytest.mark.docker

SCREENSHOT = REPO_ROOT / "test-artifacts" / "docker-browser-chapter00.png"


def test_a_student_runs_chapter_00_in_jupyterlab_in_their_container(deployment, admin, browser, unique):
    name, password = unique("fay"), "fay-password-1"
    HubClient(deployment.url).signup(name, password)
    admin.set_approval(name, True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    try:
        text = sign_in_and_run_all(page, deployment.url, name, password, "00_setup.ipynb")
        assert "/opt/course/venv/bin/python" in text and "TensorFlow" in text  # the container's Python
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                              has_text=re.compile(r"Traceback|Error"))
        assert errors.count() == 0, errors.first.inner_text()
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    except Exception:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT.with_name("docker-browser-failure.png")))
        raise
    finally:
        page.close()
    assert SCREENSHOT.stat().st_size > 10_000
    container = deployment.inspect(f"jupyter-{name}")
    assert container["State"]["Running"]
