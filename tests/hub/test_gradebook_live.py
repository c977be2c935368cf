"""The gradebook on the real hub: students' kernels report with their server's own token straight to the
service, the hub's OAuth decides who sees what, the CSV carries live and graded results.

Two students (ana, ben) spawn their servers and run cells over the kernel websocket that POST attempts the
way the kernel reporter will (urllib, the server's own environment); the instructor (admin) and the
students open the service through the hub's OAuth with their browser sessions.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sqlite3
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.gradebook.questions import load_questions
from hub.gradebook.store import FILENAME, GRADED, Gradebook
from testkit.hub_client import HubClient, enroll

pytestmark = pytest.mark.hub

# Runs in a student's kernel: what the kernel's reporter does, with the server's own environment.
REPORT_CELL = """
import json, os, urllib.error, urllib.request
from course import settings
url = os.environ[settings.GRADEBOOK_URL.name] + "api/attempts"
token = os.environ[settings.JUPYTERHUB_API_TOKEN.name]

def post(body, token=token):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": "token " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

print(json.dumps({"url": url, "answers": [post(body) for body in BODIES] + [post(BODIES[0], token="wrong")]}))
"""
AT = "2026-12-01T10:0{}:00+00:00"


def _run_reports(client: HubClient, kernel: str, bodies: list[dict]) -> dict:
    out = client.run_cell(kernel, f"BODIES = {json.dumps(bodies)!r}\nBODIES = __import__('json').loads(BODIES)\n"
                          + REPORT_CELL)
    assert out.error is None, out.error
    return json.loads(out.stdout)


def _xsrf(page_text: str) -> str:
    found = re.search(r'data-xsrf="([^"]+)"', page_text)
    assert found, "the page carries its XSRF token"
    return found.group(1)


@pytest.fixture(scope="module")
def klass(live_hub, unique):
    """An instructor and two students with running servers, and what each kernel's reports got back."""
    admin = HubClient(live_hub.url)
    admin.login("admin", live_hub.admin_password)
    prefixes = ("ana", "ben")
    students = dict(zip(prefixes, enroll(admin, [unique(p) for p in prefixes])))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda c: c.start_server(), students.values()))
    ana, ben = students["ana"], students["ben"]
    ana_reports = _run_reports(ana, ana.start_kernel(), [
        {"user": ana.name, "attempts": [
            {"uid": "ana-k1-1", "question": "03.cost_by_hand", "passed": False, "at": AT.format(0)},
            {"uid": "ana-k1-2", "question": "03.cost_by_hand", "passed": True, "at": AT.format(1)},
            {"uid": "ana-k1-3", "question": "03.gradient", "passed": True, "at": AT.format(2)},
            {"uid": "ana-k1-4", "question": "99.x", "passed": True, "at": AT.format(3)}]},
        {"user": ana.name, "attempts": [  # the same batch again, as a reporter resends after a timeout
            {"uid": "ana-k1-1", "question": "03.cost_by_hand", "passed": False, "at": AT.format(0)},
            {"uid": "ana-k1-2", "question": "03.cost_by_hand", "passed": True, "at": AT.format(1)}]},
        {"user": ben.name, "attempts": [  # a forged name
            {"uid": "ana-k1-5", "question": "04.softmax_probs", "passed": False, "at": AT.format(4)}]},
    ])
    ben_reports = _run_reports(ben, ben.start_kernel(), [
        {"attempts": [{"uid": "ben-k1-1", "question": "04.softmax_probs", "passed": False, "at": AT.format(5)},
                      {"uid": "ben-k1-2", "question": "04.softmax_probs", "passed": True, "at": AT.format(6)}]},
    ])
    return {"admin": admin, "ana": ana, "ben": ben, "ana_reports": ana_reports, "ben_reports": ben_reports}


def _browser_session(live_hub, name: str, password: str) -> HubClient:
    """A logged-in session without an API token, as a browser has: the service sees it through OAuth."""
    client = HubClient(live_hub.url)
    client.login(name, password)
    page = client.get("services/gradebook/")  # hub login cookie -> OAuth -> the service's own cookie
    assert page.status_code == 200, page.text[:300]
    client.page = page
    return client


def test_kernels_report_straight_to_the_service_with_their_servers_token(klass, live_hub):
    reports = klass["ana_reports"]
    assert reports["url"] == f"http://127.0.0.1:{live_hub.port + 3}/services/gradebook/api/attempts"
    first, again, forged, wrong_token = reports["answers"]
    assert first[0] == 200 and first[1]["recorded"] == 3
    assert [r["uid"] for r in first[1]["refused"]] == ["ana-k1-4"]
    assert first[1]["refused"][0]["reason"].startswith("unknown question id '99.x': ")
    assert again == [200, {"recorded": 0, "refused": []}]
    assert forged[0] == 403 and f"cannot report for '{klass['ben'].name}'" in forged[1]["error"]
    assert wrong_token[0] == 401 and "error" in wrong_token[1]
    assert klass["ben_reports"]["answers"][0] == [200, {"recorded": 2, "refused": []}]


def test_the_instructor_sees_both_students_on_the_page_and_in_its_data(klass, live_hub):
    admin = _browser_session(live_hub, "admin", live_hub.admin_password)
    assert "Instructor (강사)" in admin.page.text and 'data-instructor="true"' in admin.page.text
    summary = admin.get("services/gradebook/api/summary")
    assert summary.status_code == 200, summary.text
    data = summary.json()
    rows = {r["name"]: r for r in data["students"]}
    ana, ben = rows[klass["ana"].name], rows[klass["ben"].name]
    assert "admin" not in rows
    assert (ana["chapters"]["03"]["passed"], ana["chapters"]["03"]["attempts"]) == (2, 3)
    assert ana["chapters"]["03"]["total"] == len([q for q in load_questions().values()
                                                  if q.chapter == "03" and q.kind == "exercise"])
    assert ana["chapters"]["03"]["last_at"] == AT.format(2) and ana["chapters"]["04"]["attempts"] == 0
    assert ben["questions"]["04.softmax_probs"] == {"attempts": 2, "passed": True, "last_at": AT.format(6),
                                                    "graded": None}
    assert data["totals"]["03"]["active"] >= 1


def test_a_student_sees_only_themself(klass, live_hub):
    ana = klass["ana"]
    session = _browser_session(live_hub, ana.name, f"{ana.name}-password")
    assert "Student (학생)" in session.page.text
    data = session.get("services/gradebook/api/summary").json()
    assert [r["name"] for r in data["students"]] == [ana.name] and "totals" not in data
    assert klass["ben"].name not in json.dumps(data)
    # with their own API token too
    assert [r["name"] for r in ana.http.get(ana.url("services/gradebook/api/summary"), headers={
        "Authorization": f"token {ana.token}"}).json()["students"]] == [ana.name]


def test_the_csv_for_instructors_with_live_and_graded_results(klass, live_hub):
    ana, ben = klass["ana"].name, klass["ben"].name
    book = Gradebook(live_hub.state / FILENAME)
    kinds = {q.id: q.kind for q in load_questions().values()}
    run = book.start_run(ben, "04", notebook="04_softmax_regression.ipynb", sha256="0" * 64)
    book.finish_run(run, GRADED, grades={"04.softmax_probs": True, "04.cross_entropy": True,
                                         "04.param_count": False}, kinds=kinds)
    timed_out = book.start_run(ana, "03")
    book.finish_run(timed_out, "timed out after 300 s", grades={"03.cost_by_hand": True}, kinds=kinds)
    admin = _browser_session(live_hub, "admin", live_hub.admin_password)
    answer = admin.get("services/gradebook/grades.csv")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(answer.text))}
    assert {ana, ben} <= set(rows) and "admin" not in rows
    assert (rows[ana]["ch03_live_passed"], rows[ana]["03.cost_by_hand_live"], rows[ana]["03.gradient_live"]) == \
        ("2", "1", "1")
    assert (rows[ana]["ch03_graded_passed"], rows[ana]["ch03_graded_status"]) == ("1", "timed out after 300 s")
    assert (rows[ben]["ch04_live_passed"], rows[ben]["04.softmax_probs_live"]) == ("1", "1")
    assert (rows[ben]["ch04_graded_passed"], rows[ben]["ch04_graded_status"]) == ("2", GRADED)
    assert (rows[ben]["04.softmax_probs_graded"], rows[ben]["04.param_count_graded"]) == ("1", "0")
    assert rows[ben]["ch03_graded_status"] == "" and rows[ben]["03.cost_by_hand_live"] == ""
    # a student gets 403 on the CSV, by their browser session or their token
    student = _browser_session(live_hub, ben, f"{ben}-password")
    assert student.get("services/gradebook/grades.csv").status_code == 403
    token = klass["ben"].token
    assert student.http.get(student.url("services/gradebook/grades.csv"),
                            headers={"Authorization": f"token {token}"}).status_code == 403
    # a service that is not a person gets 403 on everything
    tools = {"Authorization": f"token {live_hub.tools_token}"}
    for path in ("grades.csv", "api/summary"):
        assert student.http.get(student.url("services/gradebook/" + path), headers=tools).status_code == 403


def test_the_grade_button_starts_a_run_and_reports_its_status(klass, live_hub):
    from hub import cli

    admin = _browser_session(live_hub, "admin", live_hub.admin_password)
    ana = klass["ana"].name
    url = "services/gradebook/api/grade"
    refused = admin.http.post(admin.url(url), json={"chapters": ["03"], "students": [ana]})
    assert refused.status_code == 401  # a cookie without the page's XSRF token is not enough
    headers = {"X-XSRFToken": _xsrf(admin.page.text)}
    started = admin.http.post(admin.url(url), json={"chapters": ["03"], "students": [ana]}, headers=headers)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = admin.get(url).json()["jobs"][0]
        if job["finished_at"]:
            break
        time.sleep(1)
    assert job["finished_at"] and "\n" not in job["message"]
    actions = cli.register(argparse.ArgumentParser().add_subparsers()).format_help()
    if not re.search(r"^\s+grade\s", actions, re.M):  # until `course hub grade` exists in this branch
        assert (job["state"], job["message"]) == (
            "failed", "grading is not available: this hub has no `course hub grade` command yet")
    student = klass["ben"]
    assert student.http.post(student.url(url), json={"chapters": ["03"]},
                             headers={"Authorization": f"token {student.token}"}).status_code == 403


def test_the_database_is_private_in_wal_mode_and_the_token_is_never_logged(klass, live_hub):
    path = live_hub.state / FILENAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    secrets = live_hub.state / "secrets"
    log = live_hub.log_text()
    for name in ("gradebook_token", "gradebook_cookie_secret"):
        assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600
        assert (secrets / name).read_text().strip() not in log
    assert f"gradebook at http://127.0.0.1:{live_hub.port + 3}/services/gradebook/" in log
    assert not re.search(r"Uncaught exception \w+ /services/gradebook/", log)
