"""A student in a real browser (Playwright driving Debian's Chromium): sign in, JupyterLab opens on
~/course, open chapter 00, run all cells, see the environment report. The screenshot is kept in
test-artifacts/."""
from __future__ import annotations

import re

import pytest

from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient

pytestmark = pytest.mark.browser

SCREENSHOT = REPO_ROOT / "test-artifacts" / "hub-browser-chapter00.png"


def _chapter_00(live_hub) -> str:
    found = sorted(live_hub.notebooks.glob("00_*.ipynb")) or sorted(live_hub.notebooks.glob("*.ipynb"))
    return found[0].name


def test_student_runs_chapter_00_in_jupyterlab(live_hub, browser, unique):
    name, password = unique("fay"), "fay-password-1"
    HubClient(live_hub.url).signup(name, password)
    admin = HubClient(live_hub.url)
    admin.login("admin", live_hub.admin_password)
    admin.set_approval(name, True)
    chapter = _chapter_00(live_hub)

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    try:
        page.goto(live_hub.url + "hub/login")
        page.fill("#username_input", name)
        page.fill("#password_input", password)
        page.click("#login_submit")
        # the hub spawns the server and JupyterLab opens on ~/course
        page.wait_for_url(re.compile(rf"/user/{name}/lab/tree/course"), timeout=240_000)
        listing = page.locator(".jp-DirListing-item", has_text=chapter)
        listing.wait_for(timeout=120_000)
        assert page.locator(".jp-FileBrowser .jp-BreadCrumbs").inner_text().strip().strip("/") == "course"
        listing.dblclick()
        panel = page.locator(".jp-NotebookPanel").first
        panel.wait_for()
        # the notebook's kernel (python3) starts by itself: no "Select Kernel" dialog
        page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=180_000)
        assert page.locator(".jp-Dialog").count() == 0
        panel.locator(".jp-Cell").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        report = page.locator(".jp-OutputArea-output", has_text="Environment report")
        report.wait_for(state="attached", timeout=300_000)
        report.scroll_into_view_if_needed()
        text = report.inner_text()
        assert "TensorFlow" in text and "Python" in text
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    except Exception:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT.with_name("hub-browser-failure.png")))
        raise
    finally:
        page.close()
    assert SCREENSHOT.stat().st_size > 10_000
