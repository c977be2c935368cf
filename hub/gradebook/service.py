"""The gradebook service: a JupyterHub service at `/services/gradebook/` (started and restarted by the hub).

Endpoints, relative to the service's prefix:

- `GET  ""`                 the page (hub OAuth): an instructor sees the class, a student their own row;
- `GET  api/summary`        the page's data (JSON, the same rules);
- `GET  grades.csv`         one row per student for a learning-management system (instructors);
- `POST api/attempts`       students' kernels report check() attempts, with their server's own API token;
- `GET|POST api/grade`      grading runs: list them, start one (instructors; XSRF with the page's cookie);
- `POST api/grade/<id>/cancel`  stop a running one (instructors).

Instructors are the configured hub admins (COURSE_HUB_ADMIN_USERS) and anyone the hub calls an admin.
Students are the hub's other users (listed with the service's own token) and anyone in the store.
Errors are one line (JSON `{"error": ...}` for the API); a traceback never reaches a user.

Run by the hub as `python -m hub.gradebook.service --port PORT [--ip IP]`; settings come from the
environment through the registry, JupyterHub's own variables (token, prefix, OAuth client) from the hub.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop

from course.settings import HUB_NAME_PATTERN
from hub.gradebook.grading import GradingBusy, GradingJobs
from hub.gradebook.questions import QuestionInfo
from hub.gradebook.report import Course, Snapshot, class_summary, csv_text, student_names
from hub.gradebook.store import FILENAME, Attempt, Gradebook
from hub.settings import Settings, load_settings

HERE = Path(__file__).resolve().parent
MAX_BODY = 1024 * 1024
MAX_ATTEMPTS = 1000  # per report; a kernel sends far fewer
STUDENTS_TTL = 10.0  # seconds the hub's user list is reused
REFRESH_SECONDS = 10  # how often the page fetches its data
# The page loads nothing but its own files (the hub may be offline, and nothing else may run in it).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'self'; base-uri 'none'; form-action 'self'")
_UID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_NAME = re.compile(HUB_NAME_PATTERN)

log = logging.getLogger("gradebook")


# -- reports from kernels ----------------------------------------------------------------------------------


def _utc(text: Any) -> str | None:
    """An ISO 8601 time with a zone, as UTC to the second; None if it is not one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_attempts(entries: list, questions: dict[str, QuestionInfo]) -> tuple[list[Attempt], list[dict]]:
    """Valid attempts, and the refused ones as {"uid", "reason"} (one line each). Keys other than uid,
    question, passed and at are ignored: nothing else is ever stored."""
    valid: list[Attempt] = []
    refused: list[dict] = []
    for index, entry in enumerate(entries):
        uid = entry.get("uid") if isinstance(entry, dict) else None
        shown = uid if isinstance(uid, str) else None

        def refuse(reason: str) -> None:
            refused.append({"uid": shown, "index": index, "reason": reason})  # noqa: B023 - used at once

        if not isinstance(entry, dict):
            refuse("an attempt must be an object with uid, question, passed and at")
            continue
        question, passed, at = entry.get("question"), entry.get("passed"), _utc(entry.get("at"))
        if not isinstance(uid, str) or not _UID.match(uid):
            refuse("'uid' must be a text of 1-128 letters, digits, '.', '_', ':' or '-'")
        elif not isinstance(question, str) or not question:
            refuse("'question' must be a question id such as '03.cost_by_hand'")
        elif question not in questions:
            refuse(f"unknown question id {question[:80]!r}: not one of this course's questions")
        elif not isinstance(passed, bool):
            refuse("'passed' must be true or false")
        elif at is None:
            refuse("'at' must be a time in ISO 8601 with a time zone, such as 2026-12-01T10:00:00+00:00")
        else:
            valid.append(Attempt(uid, question, passed, at))
    return valid, refused


# -- the service's state -----------------------------------------------------------------------------------


class Service:
    """What every handler shares: settings, the store, the course, the hub's auth, grading jobs."""

    def __init__(self, settings: Settings, hub_auth: HubOAuth, *, book: Gradebook | None = None,
                 course: Course | None = None, grading: GradingJobs | None = None):
        self.settings = settings
        self.hub_auth = hub_auth
        self.book = book or Gradebook(settings.state_dir / FILENAME)
        self.course = course or Course.load(notebooks_dir=settings.notebooks_dir)
        self.grading = grading or GradingJobs()
        self.instructors = set(settings.admin_users)
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="gradebook-db")
        self._students: tuple[float, set[str]] | None = None
        self._hub_admins: set[str] = set()

    async def run(self, function: Callable, *args, **kwargs):
        """Run a store call off the event loop (SQLite may wait for a writer)."""
        return await IOLoop.current().run_in_executor(self.pool, lambda: function(*args, **kwargs))

    def is_instructor(self, model: dict) -> bool:
        name = model.get("name")
        return name in self.instructors or name in self._hub_admins or bool(model.get("admin"))

    async def hub_users(self) -> list[dict]:
        """Every hub user (name, admin), through the hub's API with the service's own token."""
        users: list[dict] = []
        offset = 0
        client = AsyncHTTPClient()
        while True:
            url = f"{self.hub_auth.api_url.rstrip('/')}/users?" + urlencode({"offset": offset, "limit": 200})
            answer = await client.fetch(HTTPRequest(url, headers={
                "Authorization": f"token {self.hub_auth.api_token}",
                "Accept": "application/jupyterhub-pagination+json"}, request_timeout=20))
            data = json.loads(answer.body)
            page = data["items"] if isinstance(data, dict) else data
            users += page
            following = data.get("_pagination", {}).get("next") if isinstance(data, dict) else None
            if not following or not page:
                return users
            offset = following["offset"]

    async def students(self) -> set[str]:
        """The hub's users who are not instructors, plus anyone in the store (cached for a few seconds)."""
        cached = self._students
        if cached is not None and time.monotonic() - cached[0] < STUDENTS_TTL:
            return cached[1]
        try:
            users = await self.hub_users()
        except Exception as exc:  # noqa: BLE001 - the store's students still show
            log.warning("could not list the hub's users: %s", str(exc).splitlines()[0] if str(exc) else exc)
            names = cached[1] if cached else set()
        else:
            self._hub_admins = {u["name"] for u in users if u.get("admin")}
            names = {u["name"] for u in users if u.get("kind", "user") == "user"}
        hub_users = [(name, name in self._hub_admins) for name in names]
        names = student_names(hub_users, await self.run(self.book.users), self.instructors)
        self._students = (time.monotonic(), names)
        return names

    def stale_before(self) -> str:
        """A run still "running" that started before this was interrupted (no grading takes that long)."""
        limit = self.settings.grade_timeout * 2 + 300
        return (datetime.now(timezone.utc) - timedelta(seconds=limit)).isoformat(timespec="seconds")

    async def snapshot(self, only: str | None = None) -> Snapshot:
        students = await self.students() if only is None else {only}
        found = await self.run(Snapshot.read, self.book, students, only)
        found.stale_before = self.stale_before()
        return found


# -- handlers ---------------------------------------------------------------------------------------------


def _reason(status: int, exc: BaseException | None) -> str:
    if isinstance(exc, web.HTTPError) and exc.log_message:
        text = exc.log_message % exc.args if exc.args else exc.log_message
    elif isinstance(exc, web.HTTPError) and exc.reason:
        text = exc.reason
    else:
        try:
            text = HTTPStatus(status).phrase
        except ValueError:
            text = "error"
    return " ".join(str(text).split())[:300]


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Hub OAuth for browsers (and hub tokens in the Authorization header); errors are one line."""

    api = True

    def initialize(self, service: Service):
        self.service = service
        self.hub_auth = service.hub_auth

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Content-Security-Policy", CSP)

    async def prepare(self):
        """Who is asking, without blocking the event loop (HubAuthenticated would ask the hub synchronously)."""
        try:
            model = await self.hub_auth.get_user(self, sync=False)
        except web.HTTPError as exc:
            raise web.HTTPError(503, "the hub could not say who you are; try again in a moment") from exc
        self._denied = None
        if model:
            try:
                model = self.check_hub_user(model)
            except UserNotAllowed:
                self._denied, model = model, None
        self.current_user = model

    def get_current_user(self):  # prepare() has set it
        return None

    def viewer(self) -> tuple[str, bool]:
        """(name, is instructor) of the user asking; 401/redirect without one, 403 for anyone else."""
        model = self.current_user
        if model is None:
            if self._denied is not None:
                raise web.HTTPError(403, f"{self._denied.get('name', 'this account')} may not use the gradebook")
            if not self.api and self.request.method in ("GET", "HEAD"):
                self.redirect(self.get_login_url())
                raise web.Finish()
            raise web.HTTPError(401, "not logged in, or the page is out of date: reload the gradebook page")
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, "the gradebook is for the course's instructors and students")
        return model["name"], self.service.is_instructor(model)

    def instructor(self) -> str:
        name, instructor = self.viewer()
        if not instructor:
            raise web.HTTPError(403, "only instructors may do this")
        return name

    def write_error(self, status_code: int, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = _reason(status_code, exc)
        if self.api:
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json.dumps({"error": reason}))
        else:
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.finish(self.render_string("error.html", status=status_code, reason=reason))

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(data))

    def json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPError(400, "the body is not JSON") from None


class PageHandler(BaseHandler):
    api = False

    async def get(self):
        name, instructor = self.viewer()
        xsrf = self.xsrf_token  # also sets the _xsrf cookie the page's requests are checked against
        self.render("gradebook.html", viewer=name, instructor=instructor, prefix=self.hub_auth.base_url,
                    xsrf_token=xsrf.decode() if isinstance(xsrf, bytes) else xsrf,
                    hub_prefix=self.hub_auth.hub_prefix, refresh_seconds=REFRESH_SECONDS)


class SummaryHandler(BaseHandler):
    async def get(self):
        name, instructor = self.viewer()
        snapshot = await self.service.snapshot(None if instructor else name)
        summary = class_summary(self.service.course, snapshot, viewer=name, instructor=instructor)
        if instructor:
            summary["grading"] = {"jobs": self.service.grading.snapshot()}
        self.write_json(summary)


class CsvHandler(BaseHandler):
    async def get(self):
        self.instructor()
        snapshot = await self.service.snapshot()
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="grades-{stamp}.csv"')
        self.finish(csv_text(self.service.course, snapshot))


class GradeHandler(BaseHandler):
    async def get(self):
        self.instructor()
        self.write_json({"jobs": self.service.grading.snapshot()})

    async def post(self):
        self.instructor()
        body = self.json_body()
        if not isinstance(body, dict):
            raise web.HTTPError(400, 'send {"chapters": ["03"], "students": ["name", ...]}')
        chapters, students = body.get("chapters"), body.get("students") or []
        known = {c.id for c in self.service.course.chapters}
        if (not isinstance(chapters, list) or not chapters or len(chapters) > len(known)
                or not all(isinstance(c, str) for c in chapters)):
            raise web.HTTPError(400, "choose at least one chapter, such as \"03\"")
        unknown = [c for c in chapters if c not in known]
        if unknown:
            raise web.HTTPError(400, f"unknown chapter {unknown[0][:20]!r}: choose one of {', '.join(sorted(known))}")
        if not isinstance(students, list) or not all(isinstance(s, str) and _NAME.match(s) for s in students):
            raise web.HTTPError(400, "students must be a list of user names")
        everyone = await self.service.students()
        strangers = [s for s in students if s not in everyone]
        if strangers:
            raise web.HTTPError(400, f"not a student of this course: {strangers[0]}")
        try:
            job = await self.service.grading.start(sorted(set(chapters)), sorted(set(students)))
        except GradingBusy as exc:
            raise web.HTTPError(409, str(exc)) from None
        self.write_json({"job": job.as_dict()}, status=202)


class CancelHandler(BaseHandler):
    async def post(self, job_id: str):
        self.instructor()
        job = self.service.grading.cancel(int(job_id))
        if job is None:
            raise web.HTTPError(404, f"no grading run {job_id}")
        self.write_json({"job": job.as_dict()})


class CallbackHandler(HubOAuthCallbackHandler):
    """The end of the hub's OAuth: the same HubOAuth keeps the login's state, so it must be ours."""

    def initialize(self, service: Service):
        self.hub_auth = service.hub_auth


class AttemptsHandler(web.RequestHandler):
    """POST api/attempts from a student's kernel: `Authorization: token <the server's JUPYTERHUB_API_TOKEN>`.

    Only a token is accepted (never a cookie, so no XSRF is involved); it decides whose attempts these are.
    """

    def initialize(self, service: Service):
        self.service = service
        self.hub_auth = service.hub_auth

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")

    def check_xsrf_cookie(self):  # token-authenticated only: cookies are never read here
        return

    def write_error(self, status_code: int, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": _reason(status_code, exc)}))

    async def post(self):
        found = self.hub_auth.auth_header_pat.match(self.request.headers.get("Authorization", ""))
        if not found:
            raise web.HTTPError(401, "send the server's API token: Authorization: token <token>")
        try:
            model = await self.hub_auth.user_for_token(found.group(1).strip(), sync=False)
        except web.HTTPError:
            raise web.HTTPError(503, "the hub could not check the token; try again in a moment") from None
        if not model:
            raise web.HTTPError(401, "the token is not valid (expired or revoked)")
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, "only a student's own server may report attempts")
        if not self.hub_auth.check_scopes(self.hub_auth.access_scopes, model):
            raise web.HTTPError(403, "this token has no access to the gradebook")
        owner = model["name"]
        try:
            body = json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPError(400, 'the body is not JSON: send {"attempts": [...]}') from None
        if not isinstance(body, dict) or not isinstance(body.get("attempts"), list):
            raise web.HTTPError(400, 'send {"user": "<name>", "attempts": [{"uid", "question", "passed", "at"}]}')
        user = body.get("user")
        if user is not None and user != owner:
            shown = user[:40] if isinstance(user, str) else type(user).__name__
            log.warning("refused a report by %s for %r", owner, shown)
            raise web.HTTPError(403, f"this token belongs to {owner}: it cannot report for {shown!r}")
        entries = body["attempts"]
        if len(entries) > MAX_ATTEMPTS:
            raise web.HTTPError(400, f"too many attempts in one report ({len(entries)}; at most {MAX_ATTEMPTS})")
        valid, refused = parse_attempts(entries, self.service.course.questions)
        recorded = await self.service.run(self.service.book.record_attempts, owner, valid, self.service.course.kinds)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"recorded": recorded, "refused": refused}))


# -- the application ---------------------------------------------------------------------------------------


def _log_request(handler: web.RequestHandler) -> None:
    """Log errors and changes; the page's refresh every few seconds is not worth a line each."""
    status = handler.get_status()
    request = handler.request
    if status < 400 and request.method in ("GET", "HEAD"):
        return
    level = logging.WARNING if status >= 400 else logging.INFO
    log.log(level, "%d %s %s (%.0f ms)", status, request.method, request.path, 1000 * request.request_time())


def make_app(service: Service, cookie_secret: bytes) -> web.Application:
    prefix = service.hub_auth.base_url
    args = {"service": service}
    return web.Application(
        [
            (prefix, PageHandler, args),
            (prefix + "oauth_callback", CallbackHandler, args),
            (prefix + "api/summary", SummaryHandler, args),
            (prefix + "api/attempts", AttemptsHandler, args),
            (prefix + "api/grade", GradeHandler, args),
            (prefix + r"api/grade/(\d{1,9})/cancel", CancelHandler, args),
            (prefix + "grades.csv", CsvHandler, args),
            (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
        ],
        cookie_secret=cookie_secret,
        hub_auth=service.hub_auth,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_url_prefix=prefix + "static/",
        log_function=_log_request,
        xsrf_cookies=False,  # HubOAuth checks XSRF itself on cookie-authenticated requests that change things
        autoescape="xhtml_escape",
    )


def hub_oauth(prefix: str | None = None, **config) -> HubOAuth:
    """HubOAuth configured from the variables the hub gives its services (prefix, token, OAuth client)."""
    auth = HubOAuth(cache_max_age=60, **config)
    if prefix is not None:
        auth.base_url = prefix
    return auth


def main(argv: list[str] | None = None) -> int:
    from tornado.log import enable_pretty_logging

    from hub.secret_files import gradebook_cookie_secret

    parser = argparse.ArgumentParser(prog="python -m hub.gradebook.service",
                                     description="The course's gradebook service (started by the hub).")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (Docker mode: 0.0.0.0)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args(argv)
    enable_pretty_logging()
    logging.getLogger("gradebook").setLevel(logging.INFO)
    try:
        settings = load_settings(os.environ)
        auth = hub_oauth()
        auth.api_token, auth.oauth_client_id  # noqa: B018 - both must be set (by the hub) before we serve
    except Exception as exc:  # noqa: BLE001 - SettingsError, or JupyterHub's variables are missing
        print(f"gradebook: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2

    async def serve() -> None:
        service = Service(settings, auth)
        app = make_app(service, gradebook_cookie_secret(settings.state_dir))
        server = app.listen(args.port, address=args.ip, xheaders=True, max_body_size=MAX_BODY)
        log.info("gradebook at http://%s:%d%s (%d questions in %d chapters)", args.ip, args.port, auth.base_url,
                 len(service.course.questions), len(service.course.chapters))
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):  # the hub stops its services with SIGINT
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
        server.stop()
        log.info("gradebook stopped")

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
