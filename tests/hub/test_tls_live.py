"""The real hub in local mode over HTTPS with the lab's own certificate (COURSE_TLS_CERT and COURSE_TLS_KEY, made
by a test CA that only the test's clients trust): the proxy serves it on the hub's own address; a student signs
up, logs in and runs a cell over the kernel's websocket through TLS; the session cookies carry Secure; plain HTTP
on the hub's port gets no page; Chromium, trusting the test CA as a lab's machines trust their campus CA, logs in
and JupyterLab opens. An expired certificate and a key that is not the certificate's each stop the hub's start
with one line."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from hub.settings import REPO_ROOT
from testkit.certificates import CertificateAuthority
from testkit.hub_client import HubClient, enroll
from testkit.jupyterlab import sign_in_trusting

pytestmark = pytest.mark.hub

SCREENSHOT = REPO_ROOT / "test-artifacts" / "hub-https-jupyterlab.png"


@pytest.fixture(scope="module")
def ca():
    folder = Path(tempfile.mkdtemp(prefix="course-tls-"))
    yield CertificateAuthority(folder)
    subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.fixture(scope="module")
def hub_env(ca):
    issued = ca.issue("hub", ["127.0.0.1", "localhost"])
    return {"COURSE_TLS_CERT": str(issued.cert), "COURSE_TLS_KEY": str(issued.key)}


@pytest.fixture(scope="module")
def hub_verify(ca):
    return str(ca.cert)


@pytest.fixture(scope="module")
def admin(own_hub, ca) -> HubClient:
    client = HubClient(own_hub.url, verify=str(ca.cert))
    client.login("admin", own_hub.admin_password)
    return client


def test_the_hub_is_on_https_and_says_so(own_hub, hub_env):
    assert own_hub.url.startswith("https://127.0.0.1:")
    log = own_hub.log_text()
    assert f"  Open:        {own_hub.url}\n" in log
    assert f"  HTTPS:       on, with {hub_env['COURSE_TLS_CERT']} (valid until " in log


def test_a_student_runs_a_cell_over_the_kernels_websocket_through_tls(own_hub, admin, unique):
    ana, = enroll(admin, [unique("ana")])
    ana.start_server(300)
    out = ana.run_cell(ana.start_kernel(), "print(6 * 7)")  # wss:// through the proxy's TLS
    assert out.error is None and out.stdout == "42\n"
    # The hub's session cookies, and the student's server's own (after the OAuth round trip), carry Secure.
    ana.get(f"user/{ana.name}/lab")
    cookies = {cookie.name: cookie for cookie in ana.http.cookies}
    for name in ("jupyterhub-session-id", "jupyterhub-hub-login", f"jupyterhub-user-{ana.name}"):
        assert name in cookies and cookies[name].secure, f"{name}: {cookies.get(name)}"


def test_plain_http_on_the_hubs_port_gets_no_page(own_hub):
    plain = "http://" + own_hub.url[len("https://"):]
    try:
        answer = requests.get(plain + "hub/login", timeout=20, allow_redirects=False)
    except requests.ConnectionError:
        return  # the TLS server hangs up on plain HTTP
    assert answer.status_code != 200 and "<form" not in answer.text


def test_chromium_trusting_the_labs_ca_logs_in_and_jupyterlab_opens(own_hub, admin, ca, unique, tmp_path):
    name, password = unique("fay"), "fay-password-1"
    HubClient(own_hub.url, verify=str(ca.cert)).signup(name, password)
    admin.set_approval(name, True)
    url = sign_in_trusting(own_hub.url, name, password, str(ca.cert), tmp_path / "home", SCREENSHOT)
    assert url.startswith(own_hub.url)  # https, and no certificate warning page in between


@pytest.mark.parametrize("problem", ["expired", "mismatched"])
def test_a_bad_certificate_stops_the_hubs_start_with_one_line(ca, tmp_path, problem):
    good = ca.issue(f"start-{problem}", ["127.0.0.1"])
    if problem == "expired":
        old = ca.issue("start-old", ["127.0.0.1"], valid_from_days=-60, valid_for_days=30)
        cert, key, line = old.cert, old.key, f"course hub: the certificate in COURSE_TLS_CERT={old.cert} expired on "
    else:
        other = ca.issue("start-other", ["127.0.0.1"])
        cert, key = good.cert, other.key
        line = (f"course hub: COURSE_TLS_KEY={other.key} is not the private key of the certificate in "
                f"COURSE_TLS_CERT={good.cert}: give the key the certificate was made for")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    env.update(COURSE_HUB_STATE_DIR=str(tmp_path / "state"), COURSE_TLS_CERT=str(cert), COURSE_TLS_KEY=str(key))
    done = subprocess.run([sys.executable, "-m", "hub"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(line), done.stderr
    assert not (tmp_path / "state").exists()  # stopped before anything was prepared
