"""A small HTTP client that acts like a student or an instructor on a running hub.

Used by the hub tests and `benchmarks/hub_load.py`. It goes through the real pages and APIs: sign-up and
login forms with XSRF, the approval form, the hub REST API, and a kernel's REST + websocket API.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests

_XSRF_INPUT = re.compile(r'name="_xsrf"\s+value="([^"]+)"')


class HubClientError(RuntimeError):
    """The hub answered something other than what the step expected."""


@dataclass
class CellResult:
    """What a cell printed and returned, and how long it took (seconds)."""

    stdout: str = ""  # every stream's text, in order (stdout and stderr)
    stderr: str = ""  # the stderr stream's text alone
    result: str | None = None
    error: str | None = None
    seconds: float = 0.0
    messages: list = field(default_factory=list)


class HubClient:
    """One browser-like session on the hub at `base_url` (e.g. http://127.0.0.1:8000/)."""

    def __init__(self, base_url: str, timeout: float = 60.0, verify: str | None = None):
        self.base = base_url if base_url.endswith("/") else base_url + "/"
        self.http = requests.Session()
        self.timeout = timeout
        self.verify = verify  # over HTTPS: the CA file to trust (a test CA), for requests and websockets alike
        if verify:
            self.http.verify = verify
            self.http.trust_env = False  # else REQUESTS_CA_BUNDLE, where set, would replace `verify` on each request
        self.name: str | None = None
        self.token: str | None = None

    def sslopt(self) -> dict:
        """websocket-client's TLS options: the CA to trust, when there is one."""
        return {"ca_certs": self.verify} if self.verify else {}

    # -- pages and forms ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return urljoin(self.base, path.lstrip("/"))

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.url(path), timeout=self.timeout, **kw)

    def form_xsrf(self, path: str) -> str:
        """The XSRF token rendered into the form on `path`."""
        page = self.get(path)
        page.raise_for_status()
        found = _XSRF_INPUT.search(page.text)
        if not found:
            raise HubClientError(f"no _xsrf field in the form at {path}")
        return found.group(1)

    def post_form(self, path: str, data: dict, form_path: str | None = None,
                  follow: bool = True) -> requests.Response:
        xsrf = self.form_xsrf(form_path or path)
        return self.http.post(self.url(path), data={**data, "_xsrf": xsrf}, timeout=self.timeout,
                              allow_redirects=follow)

    def signup(self, name: str, password: str) -> str:
        """Submit the sign-up form; returns the message the page shows."""
        page = self.post_form("hub/signup", {"username": name, "signup_password": password,
                                             "signup_password_confirmation": password})
        page.raise_for_status()
        found = re.search(r'class="alert[^"]*"[^>]*>(.*?)</div>', page.text, re.S)
        return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip() if found else page.text[:200]

    def login(self, name: str, password: str) -> requests.Response:
        """Submit the login form; raises with the page's error when the login fails.

        The redirect after a login (which would start the server) is not followed.
        """
        page = self.post_form("hub/login", {"username": name, "password": password}, follow=False)
        if "jupyterhub-session-id" not in self.http.cookies and "jupyterhub-hub-login" not in self.http.cookies:
            found = re.search(r'<p class="login_error">\s*(.*?)\s*</p>', page.text, re.S)
            raise HubClientError(f"login as {name} failed: {found.group(1) if found else page.status_code}")
        self.name = name
        return page

    def login_error(self, name: str, password: str) -> str | None:
        """Try to log in; the error message shown, or None if it worked."""
        try:
            self.login(name, password)
            return None
        except HubClientError as exc:
            return str(exc).split(": ", 1)[1]

    def set_approval(self, name: str, approved: bool) -> requests.Response:
        """Instructor: approve or revoke a sign-up through the approval page's form."""
        action = "approve" if approved else "revoke"
        answer = self.post_form(f"hub/authorize/{name}", {"action": action}, form_path="hub/authorize")
        answer.raise_for_status()
        return answer

    # -- hub REST API ----------------------------------------------------------------------------------
    def _xsrf_header(self) -> dict:
        cookie = self.http.cookies.get("_xsrf", path=urlsplit(self.base).path + "hub/")
        return {"X-XSRFToken": cookie} if cookie else {}

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        else:
            headers.update(self._xsrf_header())
        return self.http.request(method, self.url("hub/api/" + path.lstrip("/")), headers=headers,
                                 timeout=self.timeout, **kw)

    def new_token(self, note: str = "course client") -> str:
        """Create an API token for the logged-in user (uses the session cookie + XSRF)."""
        self.get("hub/home")
        answer = self.api("POST", f"users/{self.name}/tokens", json={"note": note, "expires_in": 3600})
        if answer.status_code != 201:
            raise HubClientError(f"token for {self.name}: {answer.status_code} {answer.text[:200]}")
        self.token = answer.json()["token"]
        return self.token

    def start_server(self, wait: float = 180.0) -> float:
        """Start the user's server and wait until it is ready; returns the seconds it took."""
        started = time.monotonic()
        answer = self.api("POST", f"users/{self.name}/server")
        if answer.status_code not in (201, 202, 400):
            raise HubClientError(f"spawn for {self.name}: {answer.status_code} {answer.text[:300]}")
        while time.monotonic() - started < wait:
            info = self.api("GET", f"users/{self.name}").json()
            server = (info.get("servers") or {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - started
            if not server or not server.get("pending"):
                if not server:
                    raise HubClientError(f"server for {self.name} stopped while starting")
            time.sleep(0.5)
        raise HubClientError(f"server for {self.name} not ready after {wait:.0f} s")

    def stop_server(self, wait: float = 60.0) -> None:
        """Stop the user's server and wait until it is gone."""
        answer = self.api("DELETE", f"users/{self.name}/server")
        if answer.status_code not in (202, 204, 400):
            raise HubClientError(f"stop for {self.name}: {answer.status_code} {answer.text[:200]}")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not (self.api("GET", f"users/{self.name}").json().get("servers") or {}):
                return
            time.sleep(0.5)
        raise HubClientError(f"server for {self.name} still running after {wait:.0f} s")

    # -- single-user server API ------------------------------------------------------------------------
    def server_path(self, user: str | None = None) -> str:
        return f"user/{user or self.name}/"

    def server_api(self, method: str, path: str, user: str | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        return self.http.request(method, self.url(self.server_path(user) + "api/" + path.lstrip("/")),
                                 headers=headers, timeout=self.timeout, allow_redirects=False, **kw)

    def start_kernel(self, name: str = "python3") -> str:
        answer = self.server_api("POST", "kernels", json={"name": name})
        if answer.status_code != 201:
            raise HubClientError(f"kernel for {self.name}: {answer.status_code} {answer.text[:200]}")
        return answer.json()["id"]

    def run_cell(self, kernel_id: str, code: str, timeout: float = 120.0) -> CellResult:
        """Execute `code` in a kernel over its websocket; returns output and timing."""
        import websocket

        ws_url = self.url(self.server_path() + f"api/kernels/{kernel_id}/channels")
        ws_url = "ws" + ws_url[len("http"):]
        headers = [f"Authorization: token {self.token}"] if self.token else []
        started = time.monotonic()
        conn = websocket.create_connection(ws_url, header=headers, timeout=timeout, sslopt=self.sslopt())
        try:
            session = uuid.uuid4().hex
            msg_id = uuid.uuid4().hex
            conn.send(json.dumps({
                "header": {"msg_id": msg_id, "username": self.name or "", "session": session,
                           "msg_type": "execute_request", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True},
            }))
            out = CellResult()
            idle = replied = False
            deadline = started + timeout
            while not (idle and replied):
                conn.settimeout(max(0.1, deadline - time.monotonic()))
                msg = json.loads(conn.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                out.messages.append(kind)
                content = msg.get("content", {})
                if kind == "stream":
                    out.stdout += content.get("text", "")
                    if content.get("name") == "stderr":
                        out.stderr += content.get("text", "")
                elif kind == "execute_result":
                    out.result = content.get("data", {}).get("text/plain")
                elif kind == "error":
                    out.error = f"{content.get('ename')}: {content.get('evalue')}"
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind == "execute_reply":
                    replied = True
            out.seconds = time.monotonic() - started
            return out
        finally:
            conn.close()


def enroll(admin: HubClient, names: list[str], *, token: bool = True) -> list[HubClient]:
    """Students as a class starts: each signs up (password `<name>-password`), the instructor `admin`
    approves them through the approval form, and each logs in (with an API token unless `token` is False)."""
    students = []
    for name in names:
        client = HubClient(admin.base, timeout=admin.timeout, verify=admin.verify)
        client.signup(name, f"{name}-password")
        admin.set_approval(name, True)
        client.login(name, f"{name}-password")
        if token:
            client.new_token()
        students.append(client)
    return students


def wait_for(condition, seconds: float, what: str, every: float = 1.0):
    """Call `condition` until it returns something true (returned); AssertionError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s")


def run_until_the_kernel_dies(client: HubClient, kernel: str, code: str, timeout: float = 120.0) -> tuple[str, float]:
    """Execute `code`; ("reply", s) if the cell finished, ("restarting" or "dead", s) if the kernel died first."""
    import websocket

    url = client.url(client.server_path() + f"api/kernels/{kernel}/channels")
    conn = websocket.create_connection("ws" + url[len("http"):], header=[f"Authorization: token {client.token}"],
                                       timeout=timeout, sslopt=client.sslopt())
    started = time.monotonic()
    try:
        msg_id = uuid.uuid4().hex
        conn.send(json.dumps({
            "header": {"msg_id": msg_id, "username": client.name, "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        while time.monotonic() - started < timeout:
            msg = json.loads(conn.recv())
            state = msg.get("content", {}).get("execution_state")
            if msg["msg_type"] == "status" and state in ("restarting", "dead"):
                return state, time.monotonic() - started
            if msg["msg_type"] == "execute_reply" and msg.get("parent_header", {}).get("msg_id") == msg_id:
                return "reply", time.monotonic() - started
        raise AssertionError(f"no reply and no restart within {timeout:.0f} s")
    finally:
        conn.close()


def states_until_idle(client: HubClient, kernel: str, wait: float = 60.0) -> list[str]:
    """The execution states the server reports for `kernel` (each change once) until it is "idle"."""
    seen: list[str] = []
    deadline = time.monotonic() + wait
    while not seen or seen[-1] != "idle":
        assert time.monotonic() < deadline, f"kernel {kernel} not idle within {wait:.0f} s (states: {seen})"
        state = client.server_api("GET", f"kernels/{kernel}").json().get("execution_state")
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.2)
    return seen
