"""HTTPS settings (hub/tls.py): the combinations, the lab's own certificate files, the front's Caddyfile, and what
each mode makes of them, with certificates a test CA issues (testkit/certificates.py)."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from course.settings import SettingError
from hub import tls as tls_module
from hub.settings import load_settings
from hub.tls import Tls, TlsError, caddyfile, check_files, read_tls
from testkit.certificates import CertificateAuthority

CA_ROOT = "COURSE_ACME_CA_ROOT"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.mark.parametrize("env, message", [
    ({"COURSE_TLS_KEY": "/k.pem"}, "COURSE_TLS_KEY is set but COURSE_TLS_CERT is not: set both"),
    ({"COURSE_TLS_CERT": "/c.pem"}, "COURSE_TLS_CERT is set but COURSE_TLS_KEY is not: set both"),
    ({"COURSE_DOMAIN": "course.example.edu"}, "COURSE_DOMAIN=course.example.edu needs COURSE_ACME_EMAIL"),
    ({"COURSE_ACME_EMAIL": "lab@example.edu"}, "COURSE_ACME_EMAIL is set but COURSE_DOMAIN is not"),
    ({"COURSE_TLS_CERT": "/c", "COURSE_TLS_KEY": "/k", "COURSE_DOMAIN": "course.example.edu",
      "COURSE_ACME_EMAIL": "lab@example.edu"}, "set COURSE_TLS_CERT and COURSE_TLS_KEY (your own certificate) or"),
    ({CA_ROOT: "/root.pem"}, "COURSE_ACME_CA_ROOT is for an ACME server (COURSE_DOMAIN); leave it empty"),
    ({"COURSE_ACME_CA": "http://acme.example.edu/dir"}, "COURSE_ACME_CA='http://acme.example.edu/dir' is not "
                                                         "allowed: use the https:// URL of an ACME directory"),
])
def test_a_bad_combination_is_one_line(env, message):
    with pytest.raises(SettingError) as err:
        read_tls(env)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_three_ways():
    assert read_tls({}) == Tls() and not Tls().enabled
    files = read_tls({"COURSE_TLS_CERT": "/c.pem", "COURSE_TLS_KEY": "/k.pem"})
    assert (files.kind, str(files.cert), str(files.key)) == ("files", "/c.pem", "/k.pem")
    acme = read_tls({"COURSE_DOMAIN": "course.example.edu", "COURSE_ACME_EMAIL": "lab@example.edu"})
    assert (acme.kind, acme.ca) == ("acme", "https://acme-v02.api.letsencrypt.org/directory")


def test_the_labs_own_certificate_is_checked_before_anything_starts(ca, tmp_path):
    good = ca.issue("good", ["course.example.edu", "127.0.0.1"], valid_from_days=-1, valid_for_days=30)
    assert check_files(good.cert, good.key) == time.strftime("%Y-%m-%d", time.gmtime(time.time() + 29 * 86400))
    other = ca.issue("other", ["course.example.edu"])
    with pytest.raises(TlsError, match=rf"^COURSE_TLS_KEY={other.key} is not the private key of the certificate "
                                       rf"in COURSE_TLS_CERT={good.cert}: give the key"):
        check_files(good.cert, other.key)
    expired = ca.issue("expired", ["course.example.edu"], valid_from_days=-40, valid_for_days=30)
    with pytest.raises(TlsError, match=rf"^the certificate in COURSE_TLS_CERT={expired.cert} expired on "
                                       r"\d{4}-\d\d-\d\d: renew it"):
        check_files(expired.cert, expired.key)
    early = ca.issue("early", ["course.example.edu"], valid_from_days=3)
    with pytest.raises(TlsError, match="is not valid before .* UTC: check this machine's clock"):
        check_files(early.cert, early.key)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsError, match=rf"^COURSE_TLS_CERT={garbage} is not a PEM certificate"):
        check_files(garbage, good.key)
    with pytest.raises(TlsError, match=rf"^COURSE_TLS_KEY={tmp_path}/nowhere.pem: no such file"):
        check_files(good.cert, tmp_path / "nowhere.pem")


def test_local_mode_serves_its_own_certificate_on_an_https_address(ca):
    good = ca.issue("local", ["127.0.0.1"])
    settings = load_settings({"COURSE_TLS_CERT": str(good.cert), "COURSE_TLS_KEY": str(good.key),
                              "COURSE_HUB_BIND_URL": "http://0.0.0.0:8443"})
    assert settings.bind_url == "https://0.0.0.0:8443" and settings.port == 8443
    expired = ca.issue("local-expired", ["127.0.0.1"], valid_from_days=-40, valid_for_days=30)
    with pytest.raises(TlsError, match="expired on"):
        load_settings({"COURSE_TLS_CERT": str(expired.cert), "COURSE_TLS_KEY": str(expired.key)})
    with pytest.raises(TlsError, match="needs Docker mode's TLS front"):
        load_settings({"COURSE_DOMAIN": "course.example.edu", "COURSE_ACME_EMAIL": "lab@example.edu"})
    with pytest.raises(TlsError, match="is https, but nothing serves a certificate"):
        load_settings({"COURSE_HUB_BIND_URL": "https://127.0.0.1:8443"})
    # Docker mode: the front checks the files (only it sees them); the hub keeps its own address on its network.
    docker = load_settings({"COURSE_HUB_MODE": "docker", "COURSE_TLS_CERT": "/on/the/host.pem",
                            "COURSE_TLS_KEY": "/on/the/host-key.pem"})
    assert docker.tls.kind == "files" and docker.bind_url == "http://127.0.0.1:8000"
    with pytest.raises(TlsError, match="set proxy.https in deploy/kubernetes/values.yaml"):
        load_settings({"COURSE_HUB_MODE": "kubernetes", "COURSE_TLS_CERT": "/c", "COURSE_TLS_KEY": "/k"})


def test_the_fronts_caddyfile_for_each_way():
    plain = caddyfile(Tls())
    assert ":80 {\n\treverse_proxy jupyterhub:8000\n}" in plain and "auto_https off" in plain
    files = caddyfile(Tls("files", cert=tls_module.FRONT_FILES["COURSE_TLS_CERT"],
                          key=tls_module.FRONT_FILES["COURSE_TLS_KEY"]))
    assert ":443 {\n\ttls /run/course-tls/cert.pem /run/course-tls/key.pem\n" in files
    assert 'header Strict-Transport-Security "max-age=31536000"' in files
    assert "http:// {\n\tredir https://{host}{uri} permanent\n}" in files
    acme = caddyfile(Tls("acme", domain="course.example.edu", email="lab@example.edu", ca="https://ca.test/dir",
                         ca_root=tls_module.FRONT_FILES[CA_ROOT]))
    assert "\temail lab@example.edu\n\tacme_ca https://ca.test/dir\n\tacme_ca_root /run/course-tls/acme-ca-root.pem\n" \
        in acme and "course.example.edu {\n" in acme and "Strict-Transport-Security" in acme


def test_the_fronts_start_checks_the_mounted_files_and_names_the_hosts_paths(ca, tmp_path, monkeypatch):
    good, other = ca.issue("front", ["course.example.edu"]), ca.issue("front-other", ["course.example.edu"])
    monkeypatch.setattr(tls_module, "FRONT_FILES", {"COURSE_TLS_CERT": good.cert, "COURSE_TLS_KEY": other.key,
                                                    CA_ROOT: tmp_path / "none.pem"})
    env = {"COURSE_TLS_CERT": "/srv/lab/course.pem", "COURSE_TLS_KEY": "/srv/lab/course-key.pem"}
    with pytest.raises(TlsError, match=r"^COURSE_TLS_KEY=/srv/lab/course-key.pem is not the private key of the "
                                       r"certificate in COURSE_TLS_CERT=/srv/lab/course.pem"):
        tls_module.front_tls(env)
    monkeypatch.setitem(tls_module.FRONT_FILES, "COURSE_TLS_KEY", good.key)
    served, line = tls_module.front_tls(env)
    assert served.cert == good.cert and line.startswith("HTTPS with /srv/lab/course.pem (valid until ")


def test_the_fronts_command_writes_the_caddyfile_or_says_why_not_in_one_line(tmp_path):
    """With only the files the front's image copies (docker/front.Dockerfile): the standard library does the rest."""
    repo = tls_module.Path(tls_module.__file__).parents[1]
    copied = [line.split()[1:-1] for line in (repo / "docker" / "front.Dockerfile").read_text().splitlines()
              if line.startswith("COPY ")]
    image = tmp_path / "image"
    for files in copied:
        for name in files:
            (image / name).parent.mkdir(parents=True, exist_ok=True)
            (image / name).write_bytes((repo / name).read_bytes())
    assert sorted(p.relative_to(image).as_posix() for p in image.rglob("*.py")) == [
        "course/__init__.py", "course/settings.py", "hub/__init__.py", "hub/tls.py"]
    out = tmp_path / "Caddyfile"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(image)}
    command = [sys.executable, "-S", "-m", "hub.tls", "caddyfile", str(out)]  # -S: no site-packages at all
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and out.read_text() == caddyfile(Tls())
    assert done.stdout.startswith("course front: plain HTTP: set COURSE_TLS_CERT and COURSE_TLS_KEY")
    bad = subprocess.run(command, capture_output=True, text=True, env={**env, "COURSE_DOMAIN": "course.example.edu"},
                         timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "course front: COURSE_DOMAIN=course.example.edu needs COURSE_ACME_EMAIL: the ACME server " \
                         "(Let's Encrypt) writes there about the certificate\n"
