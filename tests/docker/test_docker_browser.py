"""A student in a real browser (Playwright driving Debian's Chromium) through the compose deployment: sign in,
JupyterLab opens on ~/course inside their container, chapter 00 runs top to bottom through the hub's proxy and
shows the environment report (the container's Python, on CPU). The screenshot is kept in test-artifacts/."""
from __future__ import annotations

import re

import pytest

from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient

pytestmark = pytest.mark.docker

SCREENSHOT = REPO_ROOT / "test-artifacts" / "docker-browser-chapter00.png"


def test_a_student_runs_chapter_00_in_jupyterlab_in_their_container(deployment, admin, browser, unique):
    name, password = unique("fay"), "fay-password-1"
    HubClient(deployment.url).signup(name, password)
    admin.set_approval(name, True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    try:
        page.goto(deployment.url + "hub/login")
        page.fill("#username_input", name)
        page.fill("#password_input", password)
        page.click("#login_submit")
        page.wait_for_url(re.compile(rf"/user/{name}/lab/tree/course"), timeout=240_000)
        listing = page.locator(".jp-DirListing-item", has_text="00_setup.ipynb")
        listing.wait_for(timeout=120_000)
        assert page.locator(".jp-FileBrowser .jp-BreadCrumbs").inner_text().strip().strip("/") == "course"
        listing.dblclick()
        panel = page.locator(".jp-NotebookPanel").first
        panel.wait_for()
        page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=180_000)
        assert page.locator(".jp-Dialog").count() == 0  # the kernel started by itself
        panel.locator(".jp-Cell").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        report = page.locator(".jp-OutputArea-output", has_text="Environment report")
        report.wait_for(state="attached", timeout=300_000)
        report.scroll_into_view_if_needed()
        text = report.inner_text()
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
