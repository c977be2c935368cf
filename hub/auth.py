"""The course authenticator: NativeAuthenticator (sign-up, admin approval, lockout) with course rules.

Differences from NativeAuthenticator 1.3.0 (pinned, with JupyterHub 5.5.4):
- the approval page lists pending sign-ups first (with their sign-up time) and approves or discards a
  selection in one POST (`/authorize` with action and usernames);
- approval and discarding are POST forms with XSRF that *set* a state; a GET never changes anything
  (the stock `/authorize/<name>` link toggles, so a double click or a prefetch revokes an approval);
- user names follow `course.settings.HUB_NAME_PATTERN` (they become system user names);
- admin names cannot be taken through the sign-up form (the hub creates those accounts itself);
- a generated (one-time) password must be changed before a server starts;
- a locked-out login is told so, and account rows are re-read so CLI changes apply at once.
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
from jupyterhub.scopes import needs_scope
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LocalBase, SignUpHandler
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Set, Unicode

from course.settings import HUB_NAME_HELP
from hub import accounts
from hub.system_users import valid_hub_name

APPROVE, REVOKE, DISCARD = "approve", "revoke", "discard"
STATIC_DIR = Path(__file__).resolve().parent / "static"
# Password comparisons get threads of their own: on asyncio's default pool, a class logging in at once
# (0.3-1 s of CPU each) queued the spawner's pre-start steps, which run there, behind every login. As many
# threads as that pool has, so that logins keep their share of the CPU while servers start (with two, the
# last of 30 logins waited a minute).
_PASSWORD_POOL = ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4),
                                    thread_name_prefix="course-password")


class CourseLoginHandler(NativeLoginHandler):
    """Login form: says when an account is locked or waiting for approval; sends one-time
    password holders to the change-password page first."""

    def get_next_url(self, user=None, default=None):
        if user is not None and accounts.is_one_time(self.db, user.name):
            return self.hub.base_url + "change-password"
        return super().get_next_url(user, default)

    async def post(self):
        data = {arg: self.get_argument(arg, strip=False) for arg in self.request.arguments}
        user = await self.login_user(data)
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        username = self.authenticator.normalize_username(data.get("username", ""))
        error = "Invalid username or password."
        auth = self.authenticator
        if auth.allowed_failed_logins and auth.is_blocked(username):
            minutes = max(1, round(auth.seconds_before_next_try / 60))
            error = f"Too many failed logins for {username}: try again in about {minutes} minute(s)."
        else:
            info = auth.get_user(username)
            if info is not None and not info.is_authorized and info.is_valid_password(data.get("password", "")):
                error = f"User {username} has not been approved by an instructor yet."
        self.finish(await self._render(login_error=error, username=username))


class CourseSignUpHandler(SignUpHandler):
    """Sign-up form with the course's user-name rules in its error message."""

    def get_result_message(self, user, *args, **kwargs):
        alert, message = super().get_result_message(user, *args, **kwargs)
        name = self.get_body_argument("username", "", strip=False)
        if user is None and not valid_hub_name(self.authenticator.normalize_username(name)):
            message = f"Sign-up refused: {HUB_NAME_HELP}."
        elif user is None and self.authenticator.reserved(name):
            message = "This user name is reserved. Please choose another one."
        elif user is not None and not user.is_authorized:
            message = "Your account was created. An instructor must approve it before you can log in."
        return alert, message


def _discard(handler: LocalBase, name: str) -> bool:
    """Delete `name`'s sign-up if it was never approved; True if it was deleted."""
    info = handler.authenticator.get_user(name)
    if info is None or info.is_authorized:
        return False
    handler.authenticator.delete_user(type("User", (), {"name": name}))
    if handler.users.get(name) is not None:
        handler.users.delete(name)
    return True


class ApprovalPageHandler(LocalBase):
    """GET /hub/authorize: pending sign-ups first, then approved accounts; POST approves or discards a
    selection (fields `action` = approve|discard and `username`, repeated) in one request."""

    @needs_scope("admin:users")
    async def get(self):
        rows = self.db.query(UserInfo).execution_options(populate_existing=True).order_by(UserInfo.id).all()
        times = accounts.signup_times(self.db)
        waiting = sorted((r for r in rows if not r.is_authorized),
                         key=lambda r: (times.get(r.username) is not None, times.get(r.username), r.id))
        approved = sorted((r for r in rows if r.is_authorized), key=lambda r: r.username)
        html = await self.render_template(
            "authorization-area.html", ask_email=self.authenticator.ask_email_on_signup,
            pending=waiting, approved=approved,
            signed_up={n: t.strftime("%Y-%m-%d %H:%M UTC") for n, t in times.items()},
            done=self.get_argument("done", ""), count=self.get_argument("count", ""))
        self.finish(html)

    @needs_scope("admin:users")
    async def post(self):
        action = self.get_body_argument("action", "")
        names = [n for n in self.get_body_arguments("username") if n]
        if action not in (APPROVE, DISCARD):
            raise web.HTTPError(400, "action must be 'approve' or 'discard'")
        if not names:
            raise web.HTTPError(400, "select at least one account")
        if action == APPROVE:
            try:
                changed = accounts.set_approvals(self.db, names, True)
            except accounts.AccountsError as exc:
                raise web.HTTPError(404, str(exc)) from None
        else:
            changed = [n for n in dict.fromkeys(names) if _discard(self, n)]
        self.log.info("%s %s %d account(s): %s", self.current_user.name, action, len(changed), ", ".join(changed))
        self.redirect(f"{self.hub.base_url}authorize?done={action}&count={len(changed)}")


class SetAuthorizationHandler(LocalBase):
    """POST /hub/authorize/<name> with action=approve|revoke sets the state; GET changes nothing."""

    @needs_scope("admin:users")
    async def get(self, name):
        self.redirect(self.hub.base_url + "authorize#" + name)

    @needs_scope("admin:users")
    async def post(self, name):
        action = self.get_body_argument("action", "")
        if action not in (APPROVE, REVOKE):
            raise web.HTTPError(400, "action must be 'approve' or 'revoke'")
        try:
            accounts.set_approval(self.db, name, action == APPROVE)
        except accounts.AccountsError as exc:
            raise web.HTTPError(404, str(exc)) from None
        self.redirect(self.hub.base_url + "authorize#" + name)


class DiscardHandler(LocalBase):
    """POST /hub/discard/<name> deletes a sign-up that was never approved."""

    @needs_scope("admin:users")
    async def post(self, name):
        _discard(self, name)
        self.redirect(self.hub.base_url + "authorize")


class CourseAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with the course rules above (configured in `hub.common`)."""

    instructors = Set(Unicode(), config=True,
                      help="Admin (instructor) names: the hub creates their accounts; sign-up cannot take them.")

    def reserved(self, username: str) -> bool:
        """True for names only the hub may create (instructors and JupyterHub admins)."""
        name = self.normalize_username(username)
        return name in self.instructors or name in self.admin_users

    def get_user(self, username):
        return accounts.find(self.db, self.normalize_username(username))

    async def authenticate(self, handler, data):
        """NativeAuthenticator's checks, with the bcrypt comparison off the event loop and off asyncio's
        default pool (one comparison takes ~0.3 s of CPU: thirty students logging in at once would stall the
        hub, or hold up the servers being started meanwhile)."""
        username = self.normalize_username(data.get("username", ""))
        info = self.get_user(username)
        if info is None:
            return None
        if self.allowed_failed_logins and self.is_blocked(username):
            return None
        stored = info.password
        password = data.get("password", "")
        matches = await asyncio.get_running_loop().run_in_executor(
            _PASSWORD_POOL, lambda: bcrypt.checkpw(password.encode(), stored))
        checks = [bool(info.is_authorized), matches]
        if info.has_2fa:
            checks.append(info.is_valid_token(data.get("2fa")))
        if all(checks):
            self.successful_login(username)
            return username
        self.add_login_attempt(username)
        return None

    def validate_username(self, username):
        return valid_hub_name(username) and super().validate_username(username)

    def create_user(self, username, password, **kwargs):
        if self.reserved(username):
            return None  # admin accounts are made by the hub itself, never through sign-up
        info = super().create_user(username, password, **kwargs)
        if info is not None:
            accounts.record_signup(self.db, info.username)
            self.db.commit()
        return info

    def change_password(self, username, new_password):
        changed = super().change_password(username, new_password)
        if changed:
            accounts.set_one_time(self.db, self.normalize_username(username), False)
        return changed

    def pre_spawn_start(self, user, spawner):
        if accounts.is_one_time(self.db, user.name):
            raise web.HTTPError(
                403, f"Please change your one-time password first: {spawner.hub.base_url}change-password")

    def get_handlers(self, app):
        replaced = {r"/login": CourseLoginHandler, r"/signup": CourseSignUpHandler, r"/authorize": ApprovalPageHandler,
                    r"/authorize/([^/]*)": SetAuthorizationHandler, r"/discard/([^/]*)": DiscardHandler}
        return [(path, replaced.get(path, handler)) for path, handler in super().get_handlers(app)] + [
            (r"/course-static/(.*)", web.StaticFileHandler, {"path": str(STATIC_DIR)})]

