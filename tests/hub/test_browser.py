"""A student in a real browser (Playwright driving Debian's Chromium): sign in, JupyterLab opens on
~/course, open chapter 00, run all cells, see the environment report. The screenshot is kept in
test-artifacts/."""
from __future__ import annotations

import pytest

from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient
from testkit.jupyterlab import sign_in_and_run_all

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
        text = sign_in_and_run_all(page, live_hub.url, name, password, chapter)
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
