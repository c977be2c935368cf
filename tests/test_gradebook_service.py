"""The gradebook service's request handling: a real tornado app on loopback with JupyterHub's own HubOAuth,
talking to a small stand-in for the hub's REST API (who owns a token, the list of users).

The real hub is in tests/hub/test_gradebook_live.py; here every rule of the contract is checked quickly:
who may report and for whom, what is refused and why, who sees what, the CSV, and grading runs."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from hub.gradebook import ACCESS_SCOPE
from hub.gradebook.grading import GradingJobs, outcome
from hub.gradebook.questions import EXERCISE, RESULT, QuestionInfo
from hub.gradebook.report import Course
from hub.gradebook.service import MAX_ATTEMPTS, Service, hub_oauth, make_app, parse_attempts
from hub.gradebook.store import GRADED, Gradebook
from hub.settings import load_settings

PREFIX = "/services/gradebook/"
SERVICE_TOKEN = "gradebook-service-token"
COURSE = Course.load({q.id: q for q in [
    QuestionInfo("03.cost_by_hand", "03", EXERCISE, "Cost by hand"),
    QuestionInfo("03.gradient", "03", EXERCISE, "The gradient"),
    QuestionInfo("03.trained", "03", RESULT, "W and b after training"),
    QuestionInfo("04.softmax", "04", EXERCISE, "Softmax"),
]})
ACCESS = ["access:services", ACCESS_SCOPE]
QUIET = ("gradebook", "tornado.access", "tornado.application", "tornado.general", "JupyterHub")


def _user(name: str, *scopes: str) -> dict:
    return {"kind": "user", "name": name, "admin": False, "scopes": list(scopes)}


TOKENS = {
    "ana-server": _user("ana", "users:activity!user=ana", "access:servers!server=ana/", ACCESS_SCOPE),
    "ben-server": _user("ben", "users:activity!user=ben", "access:servers!server=ben/", ACCESS_SCOPE),
    "ana-old-server": _user("ana", "users:activity!user=ana", "access:servers!server=ana/"),
    "prof-browser": _user("prof", "access:services", "read:users:name!user=prof"),
    "root-browser": {**_user("root", "access:services"), "admin": True},
    "culler": {"kind": "service", "name": "idle-culler", "scopes": ["access:services"]},
}
HUB_USERS = [{"kind": "user", "name": n, "admin": n == "root"} for n in ("ana", "ben", "cy", "prof", "root")]


class FakeUser(web.RequestHandler):
    def get(self):
        token = self.request.headers.get("Authorization", "").partition(" ")[2]
        if token not in TOKENS:
            self.set_status(403)
            self.finish({"status": 403, "message": "no such token"})
            return
        self.finish(TOKENS[token])


class FakeUsers(web.RequestHandler):
    def get(self):
        if self.request.headers.get("Authorization") != f"token {SERVICE_TOKEN}":
            raise web.HTTPError(403)
        offset, limit = int(self.get_argument("offset", "0")), 2  # small pages: the service must follow them
        items = HUB_USERS[offset:offset + limit]
        following = {"offset": offset + limit, "limit": limit} if offset + limit < len(HUB_USERS) else None
        self.finish({"items": items, "_pagination": {"offset": offset, "limit": limit, "total": len(HUB_USERS),
                                                     "next": following}})


class Running:
    """The stand-in hub and the gradebook on one event loop in a thread."""

    def __init__(self, tmp_path, grader: list[str]):
        self.tmp_path = tmp_path
        self.grader = grader
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self):
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        hub_sockets = bind_sockets(0, "127.0.0.1")
        hub_server = HTTPServer(web.Application([(r"/hub/api/user", FakeUser), (r"/hub/api/users", FakeUsers)]))
        hub_server.add_sockets(hub_sockets)
        hub_port = hub_sockets[0].getsockname()[1]
        settings = load_settings({"COURSE_HUB_STATE_DIR": str(self.tmp_path / "state"),
                                  "COURSE_HUB_ADMIN_USERS": "prof"})
        auth = hub_oauth(PREFIX, api_token=SERVICE_TOKEN, api_url=f"http://127.0.0.1:{hub_port}/hub/api",
                         oauth_client_id="service-gradebook", hub_prefix="/hub/", access_scopes=set(ACCESS))
        self.book = Gradebook(settings.state_dir / "gradebook.sqlite")
        grader_env = {**os.environ, "COURSE_HUB_STATE_DIR": str(settings.state_dir), "COURSE_HUB_ADMIN_USERS": "prof"}
        self.service = Service(settings, auth, book=self.book, course=COURSE,
                               grading=GradingJobs(self.grader, environ=grader_env))
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(make_app(self.service, b"x" * 32), max_body_size=1024 * 1024)
        server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}{PREFIX}"
        self.ready.set()
        await self.stop_event.wait()
        server.stop()
        hub_server.stop()

    def __enter__(self):
        # The service logs from its thread; an earlier test may have left the root logger writing to a stream
        # pytest has closed since (alembic configures logging when a hub database is opened). Keep ours quiet.
        self.loggers = {name: logging.getLogger(name).disabled for name in QUIET}
        for name in QUIET:
            logging.getLogger(name).disabled = True
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)
        for name, disabled in self.loggers.items():
            logging.getLogger(name).disabled = disabled

    def request(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"token {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=20, allow_redirects=False, **kw)

    def report(self, token: str | None, body) -> requests.Response:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.request("POST", "api/attempts", token, data=data)


@pytest.fixture
def gradebook(tmp_path):
    with Running(tmp_path, [sys.executable, "-m", "hub.cli", "grade"]) as running:
        yield running


def _attempt(uid: str, question: str = "03.cost_by_hand", passed=True, at: str = "2026-12-01T10:00:00+00:00"):
    return {"uid": uid, "question": question, "passed": passed, "at": at}


# -- reports from kernels ------------------------------------------------------------------------------------


def test_a_report_stores_valid_attempts_once_and_refuses_the_rest_with_a_reason(gradebook):
    batch = {"user": "ana", "attempts": [
        _attempt("k1-1", passed=False), _attempt("k1-2"), _attempt("k1-3", "03.trained"),
        _attempt("k1-4", "99.x"), {"uid": "k1-5", "question": "03.gradient", "passed": "yes", "at": "now"},
        _attempt("k1-6", at="2026-12-01T10:00:00"), "not an object",
        {**_attempt("k1-7", "03.gradient"), "answer": [1, 2, 3]},  # an answer is never stored
    ]}
    answer = gradebook.report("ana-server", batch)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["recorded"] == 4
    reasons = {r["uid"]: r["reason"] for r in body["refused"]}
    assert reasons["k1-4"].startswith("unknown question id '99.x': ")
    assert reasons["k1-5"] == "'passed' must be true or false"
    assert "time zone" in reasons["k1-6"] and None in reasons
    assert all("\n" not in r for r in reasons.values())
    again = gradebook.report("ana-server", batch).json()  # a resent batch stores nothing twice
    assert again["recorded"] == 0 and len(again["refused"]) == 4
    live = gradebook.book.live("ana")["ana"]
    assert live["03.cost_by_hand"].attempts == 2 and live["03.cost_by_hand"].passed
    assert "answer" not in gradebook.book.path.read_bytes().decode("latin-1")
    # the kind comes from the course, never from the client
    assert gradebook.report("ana-server", {"attempts": [{**_attempt("k1-8", "03.trained"), "kind": "exercise"}]}).ok
    summary = gradebook.request("GET", "api/summary", "prof-browser").json()
    ana = next(s for s in summary["students"] if s["name"] == "ana")["chapters"]["03"]
    assert (ana["passed"], ana["results_reached"], ana["attempts"]) == (2, 1, 3)


def test_the_token_decides_who_a_report_is_for(gradebook):
    forged = gradebook.report("ana-server", {"user": "ben", "attempts": [_attempt("f1")]})
    assert forged.status_code == 403
    assert forged.json() == {"error": "this token belongs to ana: it cannot report for 'ben'"}
    assert gradebook.report("ben-server", {"attempts": [_attempt("b1")]}).json()["recorded"] == 1
    assert set(gradebook.book.live()) == {"ben"}


def test_thirty_kernels_reporting_at_once_lose_nothing(gradebook):
    names = [f"s{n:02d}" for n in range(30)]
    for name in names:
        TOKENS[f"{name}-server"] = _user(name, ACCESS_SCOPE)

    def kernel(name: str) -> list[int]:
        return [gradebook.report(f"{name}-server", {"user": name, "attempts": [
            _attempt(f"{name}-{i}-{j}", passed=j == 1) for j in range(3)]}).json()["recorded"] for i in range(5)]

    try:
        with ThreadPoolExecutor(30) as pool:
            recorded = list(pool.map(kernel, names))
    finally:
        for name in names:
            TOKENS.pop(f"{name}-server")
    assert recorded == [[3] * 5] * 30
    live = gradebook.book.live()
    assert len(live) == 30 and all(r["03.cost_by_hand"].attempts == 15 and r["03.cost_by_hand"].passed
                                   for r in live.values())


@pytest.mark.parametrize("token, status, words", [
    (None, 401, "send the server's API token"),
    ("no-such-token", 401, "not valid"),
    ("culler", 403, "only a student's own server"),
    ("ana-old-server", 403, "no access to the gradebook"),
])
def test_reports_without_a_students_token_are_refused(gradebook, token, status, words):
    answer = gradebook.report(token, {"attempts": [_attempt("x")]})
    assert answer.status_code == status and words in answer.json()["error"]
    assert gradebook.book.live() == {}


@pytest.mark.parametrize("body, words", [
    ("{not json", "not JSON"), ("[1, 2]", "send {"), (json.dumps({"attempts": "many"}), "send {"),
    (json.dumps({"attempts": [_attempt(str(i)) for i in range(MAX_ATTEMPTS + 1)]}), "too many attempts"),
])
def test_a_body_that_is_not_a_report_is_a_400_with_one_line(gradebook, body, words):
    answer = gradebook.report("ana-server", body)
    assert answer.status_code == 400 and words in answer.json()["error"] and "\n" not in answer.json()["error"]


def test_parse_attempts_normalizes_times_to_utc():
    entries = [_attempt("a", at="2026-12-01T19:00:00+09:00"), _attempt("b", at="2026-12-01T10:00Z")]
    valid, refused = parse_attempts(entries, COURSE.questions)
    assert [a.at for a in valid] == ["2026-12-01T10:00:00+00:00", "2026-12-01T10:00:00+00:00"] and not refused


# -- who sees what ---------------------------------------------------------------------------------------------


def test_an_instructor_sees_every_student_with_totals(gradebook):
    gradebook.report("ana-server", {"attempts": [_attempt("a1")]})
    summary = gradebook.request("GET", "api/summary", "prof-browser")
    assert summary.status_code == 200 and summary.headers["Cache-Control"] == "no-store"
    data = summary.json()
    assert data["viewer"] == {"name": "prof", "instructor": True}
    assert [s["name"] for s in data["students"]] == ["ana", "ben", "cy"]  # hub users, without instructors
    assert data["totals"]["03"]["passed"] == 1 and data["grading"] == {"jobs": []}
    assert [c["id"] for c in data["chapters"]] == ["03", "04"]
    # a hub admin is an instructor too
    assert gradebook.request("GET", "api/summary", "root-browser").json()["viewer"]["instructor"] is True


def test_a_student_sees_only_their_own_row(gradebook):
    gradebook.report("ben-server", {"attempts": [_attempt("b1")]})
    data = gradebook.request("GET", "api/summary", "ana-server").json()
    assert data["viewer"] == {"name": "ana", "instructor": False}
    assert [s["name"] for s in data["students"]] == ["ana"] and "totals" not in data and "grading" not in data
    assert "ben" not in json.dumps(data)


def test_others_get_403_and_nobody_gets_a_401_redirect_loop(gradebook):
    assert gradebook.request("GET", "api/summary", "culler").status_code == 403
    assert gradebook.request("GET", "api/summary", "ana-old-server").status_code == 403
    anonymous = gradebook.request("GET", "api/summary")
    assert anonymous.status_code == 401 and "not logged in" in anonymous.json()["error"]
    page = gradebook.request("GET", "")
    assert page.status_code == 302 and "/hub/api/oauth2/authorize" in page.headers["Location"]
    assert "client_id=service-gradebook" in page.headers["Location"]
    denied = gradebook.request("GET", "", "culler")
    assert denied.status_code == 403 and "text/html" in denied.headers["Content-Type"]
    assert "Traceback" not in denied.text and "403:" in denied.text


def test_the_page_is_served_with_its_own_static_files(gradebook):
    page = gradebook.request("GET", "", "prof-browser")
    assert page.status_code == 200 and "Gradebook <span class=\"ko\">(성적표)</span>" in page.text
    assert 'data-instructor="true"' in page.text and "Instructor (강사)" in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http" not in page.text.split("<body", 1)[0].replace('content="width', "")  # no CDN
    student = gradebook.request("GET", "", "ana-server")
    assert 'data-instructor="false"' in student.text and "Student (학생)" in student.text
    for name in ("gradebook.js", "gradebook.css"):
        assert gradebook.request("GET", f"static/{name}").status_code == 200


def test_the_csv_is_for_instructors_only(gradebook):
    gradebook.report("ana-server", {"attempts": [_attempt("a1"), _attempt("a2", "04.softmax", False)]})
    run = gradebook.book.start_run("ben", "03")
    gradebook.book.finish_run(run, GRADED, grades={"03.cost_by_hand": True}, kinds=COURSE.kinds)
    answer = gradebook.request("GET", "grades.csv", "prof-browser")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="grades-')
    lines = answer.text.splitlines()
    assert lines[0].startswith("student,ch03_exercises,ch03_live_passed,") and len(lines) == 4
    rows = {line.split(",")[0]: line for line in lines[1:]}
    assert set(rows) == {"ana", "ben", "cy"} and ",graded," in rows["ben"]
    assert gradebook.request("GET", "grades.csv", "ana-server").status_code == 403
    assert gradebook.request("GET", "grades.csv").status_code == 401


# -- grading runs ----------------------------------------------------------------------------------------------


def _wait_job(gradebook, seconds=60.0) -> dict:
    """The newest grading job once it has ended."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = gradebook.request("GET", "api/grade", "prof-browser").json()["jobs"][0]
        if job["finished_at"]:
            return job
        time.sleep(0.2)
    raise AssertionError("the grading job did not end")


def test_the_grade_button_runs_the_real_grader_and_shows_its_last_line(gradebook):
    """This stand-in hub lists ana, but its state has no home or account for her: the real grader says so."""
    assert gradebook.request("POST", "api/grade", "ana-server", json={"chapters": ["03"]}).status_code == 403
    started = gradebook.request("POST", "api/grade", "prof-browser", json={"chapters": ["03"], "students": ["ana"]})
    assert started.status_code == 202, started.text
    job = _wait_job(gradebook)
    assert job["chapters"] == ["03"] and job["students"] == ["ana"]
    assert job["state"] == "failed" and "\n" not in job["message"], job
    assert job["message"].startswith("failed (exit 2): course hub: no student named 'ana'"), job["message"]
    summary = gradebook.request("GET", "api/summary", "prof-browser").json()
    assert summary["grading"]["jobs"][0]["message"] == job["message"]


@pytest.mark.parametrize("body, words", [
    ({"chapters": []}, "choose at least one chapter"), ({"chapters": ["12"]}, "unknown chapter '12'"),
    ({"chapters": ["03"], "students": ["mallory"]}, "not a student of this course: mallory"),
    ({"chapters": ["03"], "students": ["../etc"]}, "list of user names"), ([], "send {"),
])
def test_a_grading_request_is_checked(gradebook, body, words):
    answer = gradebook.request("POST", "api/grade", "prof-browser", json=body)
    assert answer.status_code == 400 and words in answer.json()["error"]


def test_a_grader_runs_in_the_hubs_environment_without_the_services_token(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-service-token")
    script = ("import os, sys; print('grading', *sys.argv[1:]); "
              "print('token' if 'JUPYTERHUB_API_TOKEN' in os.environ else 'no token'); print('graded 2 notebooks')")
    with Running(tmp_path, [sys.executable, "-c", script]) as gradebook:
        started = gradebook.request("POST", "api/grade", "prof-browser", json={"chapters": ["04", "03"],
                                                                               "students": ["ben", "ana"]})
        assert started.status_code == 202 and started.json()["job"]["state"] == "running"
        job = _wait_job(gradebook)
        assert (job["state"], job["message"]) == ("finished", "graded 2 notebooks")
        output = list(gradebook.service.grading.jobs[0].output)
        assert output[:2] == ["grading 03 04 --students ana ben", "no token"]


def test_one_grading_run_at_a_time_and_it_can_be_cancelled(tmp_path):
    with Running(tmp_path, [sys.executable, "-c", "import time; print('working', flush=True); time.sleep(60)"]) as gb:
        assert gb.request("POST", "api/grade", "prof-browser", json={"chapters": ["03"]}).status_code == 202
        busy = gb.request("POST", "api/grade", "prof-browser", json={"chapters": ["04"]})
        assert busy.status_code == 409 and "already in progress" in busy.json()["error"]
        job_id = gb.request("GET", "api/grade", "prof-browser").json()["jobs"][0]["id"]
        assert gb.request("POST", f"api/grade/{job_id}/cancel", "ana-server").status_code == 403
        assert gb.request("POST", f"api/grade/{job_id}/cancel", "prof-browser").json()["job"]["state"] == "cancelled"
        job = _wait_job(gb)
        assert job["state"] == "cancelled" and job["finished_at"]
        assert gb.request("POST", "api/grade/99/cancel", "prof-browser").status_code == 404


def test_a_grader_that_cannot_start_says_so(tmp_path):
    with Running(tmp_path, [str(tmp_path / "no-such-python"), "-m", "hub.cli", "grade"]) as gradebook:
        job = gradebook.request("POST", "api/grade", "prof-browser", json={"chapters": ["03"]}).json()["job"]
        assert job["state"] == "failed" and job["message"].startswith("could not start the grader: ")


def test_outcomes_are_one_line():
    assert outcome(0, ["a", "done: 3 graded", ""]) == ("finished", "done: 3 graded")
    crashed = ["Traceback (most recent call last):", "ValueError: bad"]
    assert outcome(1, crashed) == ("failed", "failed (exit 1): ValueError: bad")
    assert outcome(-15, []) == ("failed", "stopped by signal 15")
