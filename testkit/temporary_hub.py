"""Run a throw-away hub in a subprocess (for the tests and the load benchmark).

`TemporaryHub(root)` prepares notebooks, data and state under `root`, picks three free loopback ports and
runs `python -m hub` there; `stop_all_servers()`, `stop()` and `remove_system_users()` clean up.
"""
from __future__ import annotations

import os
import pwd
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from hub.settings import REPO_ROOT


def free_port_block() -> int:
    """A port p with p to p+3 free on 127.0.0.1 (proxy, proxy API, hub, gradebook)."""
    for _ in range(100):
        port = random.randint(20000, 40000)
        socks = []
        try:
            for p in (port, port + 1, port + 2, port + 3):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no four free ports in a row in 20000-40000")


def wait_until_up(proc: subprocess.Popen, url: str, wait: float, name: str, log_tail,
                  verify: str | bool = True) -> None:
    """Return once the JupyterHub at `url` answers its API; RuntimeError (with `log_tail()`) if the process
    `proc` exits first or `wait` seconds pass. `verify`: the CA file to trust over HTTPS."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_tail()}")
        try:
            if requests.get(url + "hub/api/", timeout=5, verify=verify).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"{name} not up after {wait:.0f} s:\n{log_tail()}")


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM a hub started in a session of its own and wait for it; SIGKILL its group after 60 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class TemporaryHub:
    """`python -m hub` in a subprocess, with its state under `root`."""

    def __init__(self, root: Path, admin_password: str, extra_env: dict[str, str] | None = None,
                 verify: str | None = None):
        self.root = root
        self.state = root / "state"
        self.notebooks = root / "notebooks"
        self.data = root / "data"
        self.log_path = root / "hub.log"
        self.port = free_port_block()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.verify = verify  # with COURSE_TLS_CERT in `extra_env`: the CA that issued it (the hub is on https)
        self.admin_password = admin_password
        self.proc: subprocess.Popen | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
        self.env.update({
            "COURSE_HUB_BIND_URL": self.url.rstrip("/"),
            "COURSE_HUB_STATE_DIR": str(self.state),
            "COURSE_HUB_NOTEBOOKS_DIR": str(self.notebooks),
            "COURSE_DATA_DIR": str(self.data),
            "COURSE_HUB_ADMIN_PASSWORD": admin_password,
            **(extra_env or {}),
        })
        if self.env.get("COURSE_TLS_CERT"):
            self.url = f"https://127.0.0.1:{self.port}/"  # the hub serves the certificate on its own address
    def start(self, wait: float = 240.0) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "hub"], cwd=REPO_ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_up(self.proc, self.url, wait, "hub", self.log_tail, self.verify or True)

    def stop(self) -> None:
        """SIGTERM the hub (it stops its proxy and services; servers keep running) and wait."""
        stop_process(self.proc)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    @property
    def tools_token(self) -> str:
        return (self.state / "secrets" / "course_tools_token").read_text().strip()

    def tools_api(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, self.url + "hub/api/" + path, verify=self.verify or True,
                                headers={"Authorization": f"token {self.tools_token}"}, timeout=60, **kw)

    def stop_all_servers(self, wait: float = 120.0) -> None:
        """Ask the hub to stop every server and wait until none is left."""
        try:
            users = self.tools_api("GET", "users").json()
        except (requests.RequestException, ValueError, OSError):  # OSError: the hub never wrote its token
            return
        for user in users:
            if user.get("servers"):
                self.tools_api("DELETE", f"users/{user['name']}/server")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not any(u.get("servers") for u in self.tools_api("GET", "users").json()):
                return
            time.sleep(1)

    def remove_system_users(self) -> list[str]:
        """Root mode: end the processes of, and delete, the system users whose homes are in this state."""
        import psutil

        homes = str(self.state / "homes") + os.sep
        removed = []
        for entry in pwd.getpwall():
            if entry.pw_dir.startswith(homes) and entry.pw_name.startswith("course-"):
                for proc in psutil.process_iter(["uids"]):
                    if proc.info["uids"] and proc.info["uids"].real == entry.pw_uid:
                        try:
                            proc.kill()
                        except psutil.NoSuchProcess:
                            pass
                subprocess.run(["userdel", entry.pw_name], capture_output=True)
                removed.append(entry.pw_name)
        return removed
