"""Approving a class on the real hub: 30 students sign up, the instructor approves them all in a real browser
(Playwright driving Debian's Chromium) with two clicks, one request; then all 30 log in. The page and its POST
are for instructors only, XSRF-protected, and set states (never toggle). Screenshots: test-artifacts/approval-*.png.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient

ARTIFACTS = REPO_ROOT / "test-artifacts"
CLASS_SIZE = 30


@pytest.fixture(scope="module")
def live_hub(own_hub):
    """This module counts every pending account on the page: it gets a hub of its own."""
    return own_hub


@pytest.fixture(scope="module")
def klass(live_hub, unique) -> list[str]:
    """A class of 30 that signed up through the form (passwords `<name>-password`), none approved yet."""
    names = [unique(f"s{i:02d}x") for i in range(CLASS_SIZE)]
    for name in names:
        HubClient(live_hub.url).signup(name, f"{name}-password")
    return names


def _xsrf(client: HubClient) -> str:
    """The _xsrf value of `client`'s session, as a form on the hub would carry it."""
    client.get("hub/home")
    return client._xsrf_header()["X-XSRFToken"]


@pytest.mark.browser
def test_instructor_approves_a_class_of_30_with_two_clicks(live_hub, klass, browser):
    for name in klass[:2]:
        assert "not been approved" in HubClient(live_hub.url).login_error(name, f"{name}-password")
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    try:
        page.goto(live_hub.url + "hub/login?next=/hub/authorize")
        page.fill("#username_input", "admin")
        page.fill("#password_input", live_hub.admin_password)
        page.click("#login_submit")
        page.wait_for_url(re.compile(r"/hub/authorize"))
        assert page.inner_text("#course-pending-heading") == f"Waiting for approval ({CLASS_SIZE})"
        rows = page.locator("#course-pending tbody tr")
        assert [rows.nth(i).get_attribute("id") for i in range(rows.count())] == klass  # oldest sign-up first
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows.nth(0).locator("td").nth(2).inner_text())
        assert page.locator("#course-approved tbody tr").count() == 1  # the admin
        posts.clear()
        page.click("#course-select-all")  # click 1
        assert page.inner_text("#course-approve-selected") == f"Approve selected ({CLASS_SIZE})"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "approval-class-selected.png"), full_page=True)
        page.click("#course-approve-selected")  # click 2
        page.wait_for_selector("#course-approval-done")
        assert page.inner_text("#course-approval-done") == f"Approved {CLASS_SIZE} account(s)."
        assert [p for p in posts if "/hub/authorize" in p] == [live_hub.url + "hub/authorize"]  # one request
        assert page.inner_text("#course-pending-heading") == "Waiting for approval (0)"
        assert page.locator("#course-approved tbody tr").count() == CLASS_SIZE + 1
        # the search box: one student among 31 approved accounts (the list is collapsed for a large class)
        assert page.get_attribute("#course-approved-list", "open") is None
        page.fill("#course-filter", klass[7])
        assert page.locator("#course-approved tbody tr:visible").count() == 1
        assert page.locator(f"#course-approved tr[id='{klass[7]}']").is_visible()
        page.screenshot(path=str(ARTIFACTS / "approval-class-approved.png"), full_page=True)
        assert errors == []
    finally:
        context.close()

    def log_in(name: str) -> str | None:
        return HubClient(live_hub.url).login_error(name, f"{name}-password")

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(log_in, klass)) == [None] * CLASS_SIZE


@pytest.mark.hub
def test_a_student_gets_403_for_the_page_and_its_posts(live_hub, admin, unique):
    names = [unique("stu"), unique("wait")]
    for name in names:
        HubClient(live_hub.url).signup(name, f"{name}-password")
    admin.set_approval(names[0], True)
    student = HubClient(live_hub.url)
    student.login(names[0], f"{names[0]}-password")
    xsrf = _xsrf(student)
    assert student.get("hub/authorize").status_code == 403
    for path, data in (("hub/authorize", {"action": "approve", "username": [names[1]]}),
                       (f"hub/authorize/{names[1]}", {"action": "approve"}),
                       ("hub/authorize", {"action": "discard", "username": [names[1]]}),
                       (f"hub/discard/{names[1]}", {})):
        answer = student.http.post(student.url(path), data={**data, "_xsrf": xsrf}, allow_redirects=False)
        assert answer.status_code == 403, path
    assert "not been approved" in HubClient(live_hub.url).login_error(names[1], f"{names[1]}-password")


@pytest.mark.hub
def test_the_selection_post_sets_states_and_needs_xsrf(live_hub, admin, unique):
    names = [unique("set"), unique("set"), unique("bin")]
    for name in names:
        HubClient(live_hub.url).signup(name, f"{name}-password")

    def post(data: dict, xsrf: bool = True):
        extra = {"_xsrf": admin.form_xsrf("hub/authorize")} if xsrf else {}
        return admin.http.post(admin.url("hub/authorize"), data={**data, **extra}, allow_redirects=False)

    assert post({"action": "approve", "username": names[:2]}, xsrf=False).status_code == 403
    assert f"<tr id=\"{names[0]}\" data-name" in admin.get("hub/authorize").text  # still pending
    assert post({"action": "toggle", "username": names[:2]}).status_code == 400
    assert post({"action": "approve"}).status_code == 400  # nothing selected
    assert post({"action": "approve", "username": [names[0], "nobody0"]}).status_code == 404
    done = post({"action": "approve", "username": names[:2]})
    assert done.status_code == 302 and done.headers["Location"].endswith("authorize?done=approve&count=2")
    again = post({"action": "approve", "username": names[:2]})  # approving twice changes nothing
    assert again.headers["Location"].endswith("count=0")
    assert f'id="{names[0]}" class="success"' in admin.get("hub/authorize").text
    # discarding a selection removes only sign-ups that were never approved
    gone = post({"action": "discard", "username": [names[0], names[2]]})
    assert gone.headers["Location"].endswith("authorize?done=discard&count=1")
    page = admin.get("hub/authorize").text
    assert f'id="{names[0]}" class="success"' in page and f'id="{names[2]}"' not in page
    for name in names[:2]:
        assert HubClient(live_hub.url).login_error(name, f"{name}-password") is None
