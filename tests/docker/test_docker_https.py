"""HTTPS in the compose deployment, the lab's own certificate (made by a test CA that only the test's clients
trust): the front serves it on COURSE_DOCKER_PUBLISH_TLS with HSTS, the plain port redirects there, a student
signs up, logs in and runs a cell over the kernel's websocket through TLS in their container, the session cookies
carry Secure, and Chromium trusting the CA opens JupyterLab. An expired certificate and a key that is not the
certificate's each stop the front with one line. The module puts the deployment back on plain HTTP."""
from __future__ import annotations

import time

import pytest
import requests

from hub.settings import REPO_ROOT
from testkit.certificates import CertificateAuthority
from testkit.hub_client import HubClient, enroll, wait_for
from testkit.jupyterlab import sign_in_trusting

pytestmark = pytest.mark.docker

SCREENSHOT = REPO_ROOT / "test-artifacts" / "docker-https-jupyterlab.png"


@pytest.fixture(scope="module")
def ca(deployment):
    return CertificateAuthority(deployment.root / "tls")


def front_lines_since(deployment, started: str) -> list[str]:
    container = deployment.compose("ps", "-q", "front").stdout.strip()
    done = deployment.engine.docker("logs", "--since", started, container, check=False)
    text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    return [line for line in text.splitlines() if line.startswith("course front:")]


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))


@pytest.fixture(scope="module")
def https(instructor, ca):
    """The deployment on HTTPS with the lab's own certificate for 127.0.0.1; its https:// address."""
    issued = ca.issue("lab", ["127.0.0.1", "localhost"])
    started = now_rfc3339()
    instructor.write_env(COURSE_TLS_CERT=str(issued.cert), COURSE_TLS_KEY=str(issued.key))
    instructor.compose("up", "-d")
    url = f"https://127.0.0.1:{instructor.tls_port}/"

    def answers():
        try:
            return requests.get(url + "hub/api/", verify=str(ca.cert), timeout=5).status_code == 200
        except requests.RequestException:
            return False

    wait_for(answers, 180, "the hub answering over HTTPS")
    lines = front_lines_since(instructor, started)
    assert lines and lines[-1].startswith(f"course front: HTTPS with {issued.cert} (valid until "), lines
    return url


def test_a_student_runs_a_cell_in_their_container_over_https(https, ca, instructor):
    admin = HubClient(https, timeout=120, verify=str(ca.cert))
    admin.login("admin", instructor.settings["COURSE_HUB_ADMIN_PASSWORD"])
    ana, = enroll(admin, [f"tls{int(time.time()) % 100000}"])
    ana.start_server(300)
    out = ana.run_cell(ana.start_kernel(), "import socket\nprint(socket.gethostname() != '')")  # wss:// via the front
    assert out.error is None and out.stdout == "True\n"
    ana.get(f"user/{ana.name}/lab")
    cookies = {cookie.name: cookie for cookie in ana.http.cookies}
    for name in ("jupyterhub-session-id", "jupyterhub-hub-login", f"jupyterhub-user-{ana.name}"):
        assert name in cookies and cookies[name].secure, f"{name}: {cookies.get(name)}"
    page = ana.get("hub/home")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_plain_http_redirects_to_https(https, instructor):
    answer = requests.get(f"http://127.0.0.1:{instructor.port}/hub/login?next=%2Fhub%2Fhome", timeout=20,
                          allow_redirects=False)
    assert answer.status_code in (301, 308) and answer.headers["Location"] == "https://127.0.0.1/hub/login?next=" \
                                                                              "%2Fhub%2Fhome"


def test_chromium_trusting_the_labs_ca_opens_jupyterlab_over_https(https, ca, instructor, unique, tmp_path):
    name, password = unique("gil"), "gil-password-1"
    HubClient(https, verify=str(ca.cert)).signup(name, password)
    admin = HubClient(https, timeout=120, verify=str(ca.cert))
    admin.login("admin", instructor.settings["COURSE_HUB_ADMIN_PASSWORD"])
    admin.set_approval(name, True)
    url = sign_in_trusting(https, name, password, str(ca.cert), tmp_path / "home", SCREENSHOT)
    assert url.startswith(https)


@pytest.mark.parametrize("problem", ["expired", "mismatched"])
def test_a_bad_certificate_stops_the_front_with_one_line(https, instructor, ca, problem):
    if problem == "expired":
        bad = ca.issue("lab-old", ["127.0.0.1"], valid_from_days=-60, valid_for_days=30)
        cert, key = bad.cert, bad.key
        line = f"course front: the certificate in COURSE_TLS_CERT={cert} expired on "
    else:
        good, other = ca.issue("lab-2", ["127.0.0.1"]), ca.issue("lab-3", ["127.0.0.1"])
        cert, key = good.cert, other.key
        line = (f"course front: COURSE_TLS_KEY={key} is not the private key of the certificate in "
                f"COURSE_TLS_CERT={cert}: give the key the certificate was made for")
    started = now_rfc3339()
    instructor.write_env(COURSE_TLS_CERT=str(cert), COURSE_TLS_KEY=str(key))
    instructor.compose("up", "-d")
    lines = wait_for(lambda: front_lines_since(instructor, started), 120, "the front saying why it stopped")
    assert all(seen.startswith(line) for seen in lines) and len(set(lines)) == 1, lines
    container = instructor.compose("ps", "-q", "front").stdout.strip()
    logs = instructor.engine.docker("logs", container, check=False)
    assert "Traceback" not in (logs.stdout + logs.stderr).decode(errors="replace")
