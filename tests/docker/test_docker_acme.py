"""HTTPS from an ACME server in the compose deployment, over real ACME: Pebble, Let's Encrypt's own test server
(Debian's package), runs in the compose network (tests/docker/pebble/compose.yml) and the front gets a certificate
for course.test from it (COURSE_DOMAIN, COURSE_ACME_EMAIL, COURSE_ACME_CA at Pebble, COURSE_ACME_CA_ROOT the root
Pebble's own API is served with), serves the hub with it, redirects plain HTTP, and after `docker compose restart`
serves the same certificate without a new order. course.test resolves to 127.0.0.1 in this test's process only,
and only this test's clients trust Pebble's root."""
from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import ssl
import time

import pytest
import requests

from testkit.certificates import CertificateAuthority
from testkit.hub_client import HubClient, wait_for

pytestmark = pytest.mark.docker

DOMAIN = "course.test"


@contextlib.contextmanager
def resolving(name: str, address: str = "127.0.0.1"):
    """`name` resolves to `address` in this process (requests, websockets), as a lab's DNS would point it."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real(address if host == name else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def served_certificate(port: int) -> bytes:
    """The DER certificate the front serves for course.test (not verified: that is the callers' part)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            return tls.getpeercert(binary_form=True)


def pebble_issued(deployment) -> int:
    """How many certificates Pebble has issued (its log says each once)."""
    container = deployment.compose("ps", "-q", "pebble").stdout.strip()
    done = deployment.engine.docker("logs", container, check=False)
    return (done.stdout + done.stderr).decode(errors="replace").count("Issued certificate serial")


@pytest.fixture(scope="module")
def acme(instructor):
    """The deployment with Pebble beside it and the front on COURSE_DOMAIN=course.test; Pebble's root (PEM path)."""
    folder = instructor.root / "pebble"
    ca = CertificateAuthority(folder)
    api = ca.issue("pebble", ["pebble", "127.0.0.1"])  # Pebble's own HTTPS (its API and management)
    (folder / "config.json").write_text(json.dumps({"pebble": {
        "listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
        "certificate": f"/etc/pebble/{api.cert.name}", "privateKey": f"/etc/pebble/{api.key.name}",
        "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
    api.key.chmod(0o644)  # Pebble runs as root in its container; the folder is the test's own
    from testkit.compose_deployment import free_port

    management = free_port()
    instructor.write_env(COMPOSE_FILE="docker/docker-compose.yml:tests/docker/pebble/compose.yml",
                         PEBBLE_CONFIG_DIR=str(folder), PEBBLE_MANAGEMENT_PUBLISH=str(management),
                         COURSE_TLS_CERT="", COURSE_TLS_KEY="", COURSE_DOMAIN=DOMAIN,
                         COURSE_ACME_EMAIL=f"lab@{DOMAIN}", COURSE_ACME_CA="https://pebble:14000/dir",
                         COURSE_ACME_CA_ROOT=str(ca.cert))
    instructor.compose("up", "-d", "--build", "pebble")
    root_url = f"https://127.0.0.1:{management}/roots/0"
    wait_for(lambda: _ok(root_url, ca.cert), 60, "Pebble answering")
    started = time.monotonic()
    instructor.compose("up", "-d")
    root = folder / "pebble-root.pem"
    root.write_text(requests.get(root_url, verify=str(ca.cert), timeout=10).text)
    with resolving(DOMAIN):
        url = f"https://{DOMAIN}:{instructor.tls_port}/"
        wait_for(lambda: _ok(url + "hub/api/", root), 240, "the front serving a certificate from Pebble")
        seconds = time.monotonic() - started
        yield {"url": url, "root": root, "seconds": seconds}
    # Pebble goes while the compose file still names it: left running, it would hold the compose network and
    # make the next `docker compose down` fail ("network ... has active endpoints").
    instructor.compose("rm", "--force", "--stop", "pebble")
    instructor.settings["COMPOSE_FILE"] = "docker/docker-compose.yml"
    for name in ("PEBBLE_CONFIG_DIR", "PEBBLE_MANAGEMENT_PUBLISH"):
        instructor.settings.pop(name, None)
    instructor.write_env()


def _ok(url: str, verify) -> bool:
    try:
        return requests.get(url, verify=str(verify), timeout=10).status_code == 200
    except requests.RequestException:
        return False


def test_the_front_gets_a_certificate_over_acme_and_serves_the_hub(acme, instructor):
    der = served_certificate(instructor.tls_port)
    pem = ssl.DER_cert_to_PEM_cert(der)
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == [DOMAIN] and "Pebble" in cert.issuer.rfc4514_string()
    admin = HubClient(acme["url"], timeout=120, verify=str(acme["root"]))
    admin.login("admin", instructor.settings["COURSE_HUB_ADMIN_PASSWORD"])  # the hub, through the front
    assert admin.get("hub/home").headers["Strict-Transport-Security"] == "max-age=31536000"
    answer = requests.get(f"http://127.0.0.1:{instructor.port}/hub/login", headers={"Host": DOMAIN}, timeout=20,
                          allow_redirects=False)
    assert answer.status_code in (301, 308) and answer.headers["Location"] == f"https://{DOMAIN}/hub/login"
    assert pebble_issued(instructor) == 1
    print(f"\ncertificate from Pebble served {acme['seconds']:.1f} s after `up -d`")


def test_a_restart_serves_the_same_certificate_without_a_new_order(acme, instructor):
    before = hashlib.sha256(served_certificate(instructor.tls_port)).hexdigest()
    instructor.compose("restart")
    wait_for(lambda: _ok(acme["url"] + "hub/api/", acme["root"]), 180, "the hub over HTTPS after the restart")
    assert hashlib.sha256(served_certificate(instructor.tls_port)).hexdigest() == before
    assert pebble_issued(instructor) == 1  # no new order: the certificate came from the front's volume
