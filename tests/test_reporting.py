"""Live reporting from a student's kernel to the gradebook: in the background, nothing lost, never the answer.

A real HTTP server on loopback stands where the hub's gradebook service listens (the service itself, with
the hub's tokens, is tested against the live hub in tests/hub/).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from course.checks import check, progress, reporting

TOKEN = "server-token-of-ana"


class FakeGradebook:
    """Accepts attempts with the right token, like the service: stores them by uid, refuses unknown ids."""

    def __init__(self):
        self.received: list[dict] = []
        self.stored: dict[str, dict] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.received.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                if self.headers.get("Authorization") != f"token {TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                refused = [{"uid": a["uid"], "reason": "unknown question id"} for a in body["attempts"]
                           if a["question"].startswith("99.")]
                new = [a for a in body["attempts"] if a["question"][:3] != "99." and a["uid"] not in outer.stored]
                outer.stored.update({a["uid"]: a for a in new})
                payload = json.dumps({"recorded": len(new), "refused": refused}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/gradebook/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gradebook(monkeypatch, progress_file):
    book = FakeGradebook()
    monkeypatch.setenv("COURSE_GRADEBOOK_URL", book.url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
    monkeypatch.setenv("JUPYTERHUB_USER", "ana")
    yield book
    book.stop()


def _until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_reporting_is_off_outside_a_hub_and_in_a_grading_run(monkeypatch, progress_file):
    assert not reporting.enabled()
    check("02.pixel_mean", 0.13)
    assert progress.waiting_attempts(progress_file) == []  # nothing waits for a gradebook that does not exist
    monkeypatch.setenv("COURSE_GRADEBOOK_URL", "http://127.0.0.1:9/services/gradebook/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
    assert reporting.enabled()
    monkeypatch.setenv("COURSE_GRADING", "1")
    assert not reporting.enabled()


def test_an_attempt_is_delivered_in_the_background_without_the_answer(gradebook, progress_file):
    answer = 0.1313131313
    check("02.pixel_mean", answer)
    assert _until(lambda: gradebook.stored), "the attempt never reached the gradebook"
    sent = gradebook.received[0]
    assert sent["path"] == "/services/gradebook/api/attempts" and sent["auth"] == f"token {TOKEN}"
    assert sent["user"] == "ana"
    (attempt,) = sent["attempts"]
    assert set(attempt) == {"uid", "question", "passed", "at"}
    assert attempt["question"] == "02.pixel_mean" and attempt["passed"] is True
    assert str(answer) not in json.dumps(sent)
    assert _until(lambda: progress.waiting_attempts(progress_file) == [])


def test_a_stopped_gradebook_costs_the_cell_nothing_and_loses_nothing(gradebook, progress_file, monkeypatch):
    url = gradebook.url
    gradebook.stop()  # the service is down while the student works
    times = []
    for _ in range(5):
        start = time.perf_counter()
        check("02.pixel_mean", 0.5)  # a wrong answer is an attempt too
        times.append(time.perf_counter() - start)
    assert max(times) < 0.05, f"check() took {max(times) * 1000:.1f} ms with the gradebook down"
    assert len(progress.waiting_attempts(progress_file)) == 5
    back = FakeGradebook()  # the service comes back (on another port: point the kernel at it)
    monkeypatch.setenv("COURSE_GRADEBOOK_URL", back.url)
    try:
        assert url != back.url
        reporting.flush()  # (the background sender may deliver some of them first: also fine)
        assert len(back.stored) == 5 and progress.waiting_attempts(progress_file) == []
        assert reporting.flush() == 0
    finally:
        back.stop()


def test_a_resent_batch_is_harmless_and_refused_attempts_leave_the_outbox(gradebook, progress_file):
    progress.record_attempt("02.pixel_mean", True, outbox=True)
    progress.record_attempt("99.not_a_question", False, outbox=True)
    waiting = progress.waiting_attempts(progress_file)
    to = reporting.target()
    assert reporting.send(waiting, to) == {a["uid"] for a in waiting}
    assert reporting.send(waiting, to) == {a["uid"] for a in waiting}  # sent twice: stored once
    assert len(gradebook.stored) == 1
    assert reporting.flush() == 2 and progress.waiting_attempts(progress_file) == []


def test_a_wrong_token_keeps_the_attempts_for_later(gradebook, progress_file, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "someone-else")
    progress.record_attempt("02.pixel_mean", True, outbox=True)
    with pytest.raises(reporting.Delivery, match="answered 401"):
        reporting.flush()
    assert len(progress.waiting_attempts(progress_file)) == 1


def test_the_time_check_adds_with_reporting_on_is_small(gradebook):
    check("02.pixel_mean", 0.13)
    times = []
    for _ in range(40):
        start = time.perf_counter()
        check("02.pixel_mean", 0.13)
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[len(times) // 2] < 0.025, f"median {times[len(times) // 2] * 1000:.1f} ms"  # goal: under 5 ms
    assert _until(lambda: len(gradebook.stored) == 41)
