"""Live reporting: a student's attempts go to the hub's gradebook, in the background, never costing a cell.

On a course hub, every server has ``COURSE_GRADEBOOK_URL`` (where the gradebook service listens) and
JupyterHub's ``JUPYTERHUB_API_TOKEN`` (the server's own token, which tells the service whose attempts
these are). ``check()`` records each attempt in the student's progress file, whose outbox keeps it until
it is delivered, then calls :func:`report_soon`, which only wakes a daemon thread: the thread sends the
outbox in one request with a short timeout, takes what the service stored (or refused for good) out of it,
and when the service is slow or away it waits and tries again later, so nothing is lost and no cell waits.
What is sent: the question id, pass or fail, when, and an id for the attempt; never the answer.

Outside a hub (plain JupyterLab, CI) or in a grading run nothing is sent and nothing waits.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from course import settings
from course.checks.progress import mark_delivered, waiting_attempts
from course.config import grading_mode, progress_path, read

BATCH = 200  # attempts per request
TIMEOUT = 5.0  # seconds for one request; the cell never waits for it
RETRY_SECONDS = (2, 5, 15, 30, 60)  # after a failed delivery, wait this long (then 60 s) before trying again


@dataclass(frozen=True)
class Target:
    """Where attempts go: the service's address, the server's token, whose server this is."""

    url: str
    token: str
    user: str | None


def target() -> Target | None:
    """The gradebook this kernel reports to, or None (not on a hub, or grading)."""
    url = read(settings.GRADEBOOK_URL)
    token = os.environ.get(settings.JUPYTERHUB_API_TOKEN.name, "").strip()
    if not url or not token or grading_mode():
        return None
    return Target(url if url.endswith("/") else url + "/", token, read(settings.JUPYTERHUB_USER))


def enabled() -> bool:
    """True when attempts should wait in the outbox for the gradebook."""
    return target() is not None


class Delivery(Exception):
    """A batch could not be delivered now; it stays in the outbox."""


def send(batch: list[dict], to: Target) -> set[str]:
    """POST one batch; returns the ids that leave the outbox: on a 200 answer all of them, those stored now,
    stored before (a resend) and those refused for good (an unknown question id would never be stored)."""
    body = {"attempts": [{k: a[k] for k in ("uid", "question", "passed", "at")} for a in batch]}
    if to.user:
        body["user"] = to.user
    request = urllib.request.Request(to.url + "api/attempts", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"token {to.token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise Delivery(f"the gradebook answered {exc.code}") from None
    except (OSError, ValueError) as exc:  # refused, timed out, not JSON
        raise Delivery(f"the gradebook is not reachable ({type(exc).__name__})") from None
    if not isinstance(answer, dict) or "recorded" not in answer:
        raise Delivery("the gradebook's answer is not a report receipt")
    return {a["uid"] for a in batch}


def flush(path: Path | None = None, to: Target | None = None) -> int:
    """Deliver everything waiting in the outbox now; returns how many left it. Raises Delivery."""
    to = to or target()
    if to is None:
        return 0
    path = path or progress_path()
    delivered = 0
    while True:
        batch = waiting_attempts(path)[:BATCH]
        if not batch:
            return delivered
        done = send(batch, to)
        mark_delivered(done, path)
        delivered += len(done)


class _Sender(threading.Thread):
    """The daemon thread that delivers the outbox whenever it is woken, retrying with a back-off."""

    def __init__(self) -> None:
        super().__init__(name="course-gradebook-reporter", daemon=True)
        self.wake = threading.Event()
        self.failures = 0
        self.last_error: str | None = None

    def run(self) -> None:
        while True:
            wait = None if self.failures == 0 else RETRY_SECONDS[min(self.failures, len(RETRY_SECONDS)) - 1]
            self.wake.wait(wait)
            self.wake.clear()
            try:
                flush()
            except Delivery as exc:
                self.failures += 1
                self.last_error = str(exc)
            except Exception as exc:  # noqa: BLE001 - reporting must never disturb the kernel
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            else:
                self.failures = 0
                self.last_error = None


_sender: _Sender | None = None
_start = threading.Lock()


def report_soon() -> None:
    """Wake the background sender (started on first use). Costs the calling cell almost nothing."""
    global _sender
    if not enabled():
        return
    with _start:
        if _sender is None or not _sender.is_alive():
            _sender = _Sender()
            _sender.start()
    _sender.wake.set()


def status() -> str:
    """One line on the state of live reporting, for the curious (and the tests)."""
    if not enabled():
        return "live reporting is off (not on a course hub)"
    waiting = len(waiting_attempts())
    if _sender is not None and _sender.last_error:
        return f"{waiting} attempt(s) waiting: {_sender.last_error}; retrying"
    return f"{waiting} attempt(s) waiting" if waiting else "every attempt is delivered"
