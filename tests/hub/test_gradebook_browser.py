"""The gradebook page in a real browser (Playwright driving Debian's Chromium) on the real hub: an instructor
and a student log in through the hub's login form and the hub's OAuth; the instructor sorts, filters,
drills down, starts a grading run and sees the page refresh itself; the student sees only their own results.
Screenshots are kept in test-artifacts/gradebook-*.png."""
from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

import pytest

from hub.gradebook.questions import load_questions
from hub.gradebook.store import FILENAME, GRADED, Attempt, Gradebook
from hub.settings import REPO_ROOT
from testkit.hub_client import HubClient, enroll

pytestmark = pytest.mark.browser


ARTIFACTS = REPO_ROOT / "test-artifacts"
PROGRESS = [10, 9, 7, 6, 4, 3, 1, 0]  # how many chapters each student has worked through


def _ago(minutes: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def live_hub(own_hub):
    """This module counts and sorts every student on the page: it gets a hub of its own."""
    return own_hub


@pytest.fixture(scope="module")
def klass(live_hub, unique):
    """Eight students with accounts on the hub, and a lab session's worth of attempts and grades."""
    admin = HubClient(live_hub.url)
    admin.login("admin", live_hub.admin_password)
    names = [unique(p) for p in ("ana", "ben", "cy", "dee", "eli", "fay", "gus", "hana")]
    enroll(admin, names, token=False)  # the hub now lists them; their servers are not started
    questions = load_questions()
    kinds = {q.id: q.kind for q in questions.values()}
    chapters = sorted({q.chapter for q in questions.values()})
    book = Gradebook(live_hub.state / FILENAME)
    rng = random.Random(7)
    for name, done in zip(names, PROGRESS):
        attempts = []
        for index, chapter in enumerate(chapters[:done]):
            recent = index >= done - 2
            for q in (q for q in questions.values() if q.chapter == chapter):
                tries = rng.choice([1, 1, 1, 2, 2, 3, 5])
                passes = rng.random() < (0.95 if index < done - 1 else 0.6)
                for t in range(tries):
                    minutes = rng.uniform(1, 12) if recent else rng.uniform(60, 60 * 24 * 5)
                    attempts.append(Attempt(f"seed-{q.id}-{t}", q.id, passes and t == tries - 1, _ago(minutes)))
        book.record_attempts(name, attempts, kinds)
    for name in names[:4]:
        run = book.start_run(name, "03", notebook="03_linear_regression.ipynb")
        grades = {q: rng.random() < 0.8 for q in questions if q.startswith("03.")}
        book.finish_run(run, GRADED if name != names[3] else "timed out after 300 s", grades=grades, kinds=kinds)
    book.start_run(names[0], "04")  # a run in progress
    return {"names": names, "book": book, "kinds": kinds}


def _login(browser, live_hub, name: str, password: str):
    context = browser.new_context(viewport={"width": 1500, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.errors = []  # JavaScript errors and refused loads (the page's CSP allows only its own files)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(live_hub.url + "hub/login?next=" + "/services/gradebook/")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r"/services/gradebook/"), timeout=120_000)
    return context, page


def _shot(page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"gradebook-{name}.png"), full_page=full_page)


def test_the_instructor_sorts_filters_drills_down_grades_and_sees_it_refresh(browser, live_hub, klass):
    names = klass["names"]
    context, page = _login(browser, live_hub, "admin", live_hub.admin_password)
    try:
        page.locator("#class-table").wait_for()
        rows = page.locator("#class-table tbody tr")
        assert rows.count() == len(names)
        assert page.locator(".role.instructor").inner_text() == "Instructor (강사)"
        heads = " ".join(page.locator("#class-table thead").inner_text().split())
        assert "Exercises passed (통과한 연습 문제)" in heads and "Last activity (최근 활동)" in heads
        _shot(page, "instructor-class")

        # sort by exercises passed, most first
        page.locator("#class-table thead th", has_text="Exercises passed").click()
        passed = [int(n) for n in rows.locator("td.num > b").all_inner_texts()]
        assert len(passed) == len(names) and passed == sorted(passed, reverse=True) and passed[0] > passed[-1]
        assert rows.first.get_attribute("data-student") in names[:2]  # the two who worked through most chapters
        page.locator("#class-table thead th", has_text="Exercises passed").click()
        assert [int(n) for n in rows.locator("td.num > b").all_inner_texts()] == sorted(passed)
        assert rows.first.get_attribute("data-student") == names[-1]  # the only one with nothing passed
        # filter by name
        page.fill("#search", names[2][:4])
        assert rows.count() == 1 and rows.first.get_attribute("data-student") == names[2]
        page.fill("#search", "")
        page.select_option("#show", "active")
        assert 1 <= rows.count() < len(names)
        page.select_option("#show", "all")

        # drill down: a chapter, one of its questions, a student
        opens = page.locator("#class-table thead a.open").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        assert opens[:3] == ["#chapter/00", "#chapter/00a", "#chapter/01"], opens  # the primer between 00 and 01
        page.locator("#class-table thead a.open[href='#chapter/03']").click()
        page.locator("#chapter-table").wait_for()
        assert page.locator("h1").inner_text() == "Chapter 03"
        _shot(page, "instructor-chapter")
        page.locator("#chapter-table thead a", has_text="cost_by_hand").click()
        page.locator("#question-table").wait_for()
        assert "Passed by (통과한 학생)" in page.locator(".stats").inner_text()
        _shot(page, "instructor-question")
        page.locator("#question-table a", has_text=names[1]).click()
        page.locator(".cards").wait_for()
        assert page.locator("h1").inner_text() == names[1] and page.locator(".card").count() >= 10
        _shot(page, "instructor-student", full_page=True)
        page.go_back()
        page.go_back()
        page.go_back()
        page.locator("#class-table").wait_for()

        # a grading run from the page: it starts, and its outcome is one line
        page.click("#grade-toggle")
        page.locator("#grading .chip", has_text="05").click()
        page.locator(f"#class-table tbody tr[data-student='{names[4]}'] input[type=checkbox]").check()
        page.click("#grade-start")
        job = page.locator("#grading .job").first
        job.wait_for()
        ended = page.locator("#grading .job .badge", has_text=re.compile("finished|failed|cancelled"))
        ended.first.wait_for(timeout=300_000)  # it may wait for a run an earlier module started (one at a time)
        panel = page.locator("#grading").inner_text()
        assert f"Chapter 05 · {names[4]}" in panel
        _shot(page, "instructor-grading")

        # the page refreshes itself: a new attempt shows up without a reload
        cell = page.locator(f"#class-table tbody tr[data-student='{names[-1]}'] td.ch").first
        before = cell.locator(".n").inner_text()
        assert before == "0"
        kernel_report = [Attempt("live-1", "00.gpu_count", True, _ago(0))]
        klass["book"].record_attempts(names[-1], kernel_report, klass["kinds"])
        page.wait_for_function(
            "name => document.querySelector(`#class-table tr[data-student='${name}'] td.ch .n`).textContent === '1'",
            arg=names[-1], timeout=30_000)
        assert page.errors == []
    except Exception:
        _shot(page, "instructor-failure")
        raise
    finally:
        context.close()


def test_a_student_sees_only_their_own_results(browser, live_hub, klass):
    names = klass["names"]
    me = names[2]
    context, page = _login(browser, live_hub, me, f"{me}-password")
    try:
        page.locator(".cards").wait_for()
        assert page.locator("h1").inner_text() == "Your results (나의 결과)"
        assert page.locator(".role.student").inner_text() == "Student (학생)"
        text = page.locator("body").inner_text()
        assert all(other not in text for other in names if other != me)
        assert "Download CSV" not in text and page.locator("#class-table").count() == 0
        _shot(page, "student-own", full_page=True)
        # the CSV is not for students, even from their logged-in browser
        answer = page.request.get(live_hub.url + "services/gradebook/grades.csv")
        assert answer.status == 403
        assert page.errors == []
    except Exception:
        _shot(page, "student-failure")
        raise
    finally:
        context.close()
