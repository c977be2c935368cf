"""A student in JupyterLab, driven through a Playwright page (Debian's Chromium): the browser tests' steps."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path


def trusting_chromium(play, executable: str, args: list[str], ca_file: str, home: Path):
    """Chromium (through Playwright's `play`) that trusts the CA in `ca_file`, as a lab's machines trust their
    campus CA: an NSS database of its own under `home`, made with certutil (Debian's libnss3-tools)."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "course-test-ca", "-i", ca_file],
                   check=True, capture_output=True)
    env = {**os.environ, "HOME": str(home)}
    return play.chromium.launch(executable_path=executable, args=args, headless=True, env=env)


def sign_in(page, base_url: str, name: str, password: str, notebook: str):
    """Log in on the hub's page and wait for JupyterLab to open on ~/course with `notebook` listed; returns its
    entry in the file browser."""
    page.goto(base_url + "hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    # the hub spawns the server and JupyterLab opens on ~/course
    page.wait_for_url(re.compile(rf"/user/{name}/lab/tree/course"), timeout=240_000)
    listing = page.locator(".jp-DirListing-item", has_text=notebook)
    listing.wait_for(timeout=120_000)
    crumbs = page.locator(".jp-FileBrowser .jp-BreadCrumbs").inner_text().strip().strip("/")
    assert crumbs == "course", crumbs
    return listing


def sign_in_trusting(base_url: str, name: str, password: str, ca_file: str, home: Path, screenshot: Path) -> str:
    """Chromium trusting the CA in `ca_file` (`trusting_chromium`, its NSS database under `home`) signs in on the
    hub over HTTPS until JupyterLab lists chapter 00 (`sign_in`), saves a screenshot; returns the page's URL."""
    from playwright.sync_api import sync_playwright

    from testkit.tiers import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as play:
        chromium = trusting_chromium(play, str(CHROMIUM), CHROMIUM_ARGS, ca_file, home)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            sign_in(page, base_url, name, password, "00_setup.ipynb")
            screenshot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(screenshot))
            return page.url
        finally:
            chromium.close()


def sign_in_and_run_all(page, base_url: str, name: str, password: str, notebook: str,
                        last_output: str = "Environment report") -> str:
    """Sign in (`sign_in`), open `notebook`, run all its cells and return the text of the first output that
    contains `last_output` (raises if any step does not happen)."""
    sign_in(page, base_url, name, password, notebook).dblclick()
    panel = page.locator(".jp-NotebookPanel").first
    panel.wait_for()
    # the notebook's kernel (python3) starts by itself: no "Select Kernel" dialog
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=180_000)
    assert page.locator(".jp-Dialog").count() == 0, "JupyterLab asked which kernel to use"
    panel.locator(".jp-Cell").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    output = page.locator(".jp-OutputArea-output", has_text=last_output)
    output.wait_for(state="attached", timeout=300_000)
    output.scroll_into_view_if_needed()
    return output.inner_text()
