"""HTTPS for the hub, checked once at start: the lab's own certificate (COURSE_TLS_CERT with COURSE_TLS_KEY), or
one from an ACME server such as Let's Encrypt (COURSE_DOMAIN with COURSE_ACME_EMAIL, COURSE_ACME_CA and, for a
server other than Let's Encrypt, COURSE_ACME_CA_ROOT). Neither: plain HTTP, as before.

Local mode serves its own certificate itself (JupyterHub's `ssl_cert` and `ssl_key`: the proxy ends TLS on the
hub's port). Docker mode ends TLS in the compose file's front (Caddy, docker/front.Dockerfile): its start-up runs
`python3 -m hub.tls caddyfile PATH`, which checks the same settings and writes the Caddyfile; Caddy then gets a
certificate from the ACME server, renews it, redirects HTTP to HTTPS and passes websockets through.

Standard library and `course.settings` only: the front's image carries this file, not the hub's packages. Every
problem is a `TlsError` (a `SettingError`) whose message is one line saying what to set.
"""
from __future__ import annotations

import ssl
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from course import settings as registry
from course.settings import SettingError

# Where the compose file mounts the files for the front (their host paths are the settings' values).
FRONT_FILES = {registry.TLS_CERT.name: Path("/run/course-tls/cert.pem"),
               registry.TLS_KEY.name: Path("/run/course-tls/key.pem"),
               registry.ACME_CA_ROOT.name: Path("/run/course-tls/acme-ca-root.pem")}
UPSTREAM = "jupyterhub:8000"  # the hub's proxy, as the front reaches it on the compose network
HSTS = "max-age=31536000"  # a year: browsers then never try plain HTTP for this host


class TlsError(SettingError):
    """HTTPS cannot be set up as configured; one line naming the setting and what to do."""


@dataclass(frozen=True)
class Tls:
    """How the hub is served: kind "none" (plain HTTP), "files" (the lab's own certificate) or "acme"."""

    kind: str = "none"
    cert: Path | None = None
    key: Path | None = None
    domain: str | None = None
    email: str | None = None
    ca: str = registry.ACME_CA.default
    ca_root: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.kind != "none"


def read_tls(environ: Mapping[str, str]) -> Tls:
    """The TLS settings from `environ`, their combination checked (the files themselves: `check_files`)."""
    cert, key = registry.TLS_CERT.read(environ), registry.TLS_KEY.read(environ)
    domain, email = registry.DOMAIN.read(environ), registry.ACME_EMAIL.read(environ)
    ca, ca_root = registry.ACME_CA.read(environ), registry.ACME_CA_ROOT.read(environ)
    names = {s: s.name for s in (registry.TLS_CERT, registry.TLS_KEY, registry.DOMAIN, registry.ACME_EMAIL)}
    cert_name, key_name = names[registry.TLS_CERT], names[registry.TLS_KEY]
    domain_name, email_name = names[registry.DOMAIN], names[registry.ACME_EMAIL]
    if (cert is None) != (key is None):
        given, missing = (cert_name, key_name) if cert is not None else (key_name, cert_name)
        raise TlsError(f"{given} is set but {missing} is not: set both (the certificate and its private key), "
                       "or neither")
    if cert is not None and domain is not None:
        raise TlsError(f"set {cert_name} and {key_name} (your own certificate) or {domain_name} (a certificate from "
                       f"{registry.ACME_CA.name}), not both")
    if domain is not None and email is None:
        raise TlsError(f"{domain_name}={domain} needs {email_name}: the ACME server (Let's Encrypt) writes there "
                       "about the certificate")
    if email is not None and domain is None:
        raise TlsError(f"{email_name} is set but {domain_name} is not: set the hub's public host name too, or "
                       f"leave {email_name} empty")
    if ca_root is not None and domain is None:
        raise TlsError(f"{registry.ACME_CA_ROOT.name} is for an ACME server ({domain_name}); leave it empty")
    if cert is not None:
        return Tls("files", cert=cert, key=key)
    if domain is not None:
        return Tls("acme", domain=domain, email=email, ca=ca, ca_root=ca_root)
    return Tls()


def _shown(name: str, path: Path, shown_as: Path | None) -> str:
    return f"{name}={shown_as or path}"


def check_files(cert: Path, key: Path, *, now: float | None = None, shown: Mapping[str, Path] | None = None) -> str:
    """The certificate and key can serve HTTPS now: readable PEM, the key is the certificate's, and the
    certificate is valid today. Returns its expiry date (YYYY-MM-DD). `shown`: the paths to name in messages
    (the host's, where these are the front's mounted copies)."""
    shown = shown or {}
    cert_text = _shown(registry.TLS_CERT.name, cert, shown.get(registry.TLS_CERT.name))
    key_text = _shown(registry.TLS_KEY.name, key, shown.get(registry.TLS_KEY.name))
    for text, path in ((cert_text, cert), (key_text, key)):
        if not path.is_file() or path.stat().st_size == 0:
            raise TlsError(f"{text}: no such file (give the absolute path of a PEM file)")
    try:
        decoded = ssl._ssl._test_decode_cert(str(cert))  # noqa: SLF001 - the standard library's own PEM reader
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TlsError(f"{cert_text} is not a PEM certificate ({_reason(exc)})") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise TlsError(f"{key_text} is not the private key of the certificate in {cert_text}: give the key the "
                           "certificate was made for") from None
        raise TlsError(f"{key_text} is not a PEM private key for {cert_text} ({_reason(exc)})") from None
    except OSError as exc:
        raise TlsError(f"{key_text}: {exc.strerror or exc}") from None
    now = time.time() if now is None else now
    not_before = ssl.cert_time_to_seconds(decoded["notBefore"])
    not_after = ssl.cert_time_to_seconds(decoded["notAfter"])
    expiry = time.strftime("%Y-%m-%d", time.gmtime(not_after))
    if not_after <= now:
        raise TlsError(f"the certificate in {cert_text} expired on {expiry}: renew it with whoever issued it "
                       "(a campus CA), then start again")
    if not_before > now:
        start = time.strftime("%Y-%m-%d %H:%M", time.gmtime(not_before))
        raise TlsError(f"the certificate in {cert_text} is not valid before {start} UTC: check this machine's clock")
    return expiry


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(reason).split())


def caddyfile(tls: Tls, upstream: str = UPSTREAM) -> str:
    """The front's Caddyfile: plain HTTP on :80, or HTTPS on :443 with :80 redirecting to it (HSTS on)."""
    proxy = f"\treverse_proxy {upstream}\n"
    if tls.kind == "none":
        return "{\n\tadmin off\n\tauto_https off\n}\n\n:80 {\n" + proxy + "}\n"
    secure = f'\theader Strict-Transport-Security "{HSTS}"\n' + proxy
    if tls.kind == "files":
        return ("{\n\tadmin off\n\tauto_https disable_redirects\n}\n\n"
                f":443 {{\n\ttls {tls.cert} {tls.key}\n" + secure + "}\n\n"
                "http:// {\n\tredir https://{host}{uri} permanent\n}\n")
    options = f"\tadmin off\n\temail {tls.email}\n\tacme_ca {tls.ca}\n"
    if tls.ca_root is not None:
        options += f"\tacme_ca_root {tls.ca_root}\n"
    return "{\n" + options + "}\n\n" + f"{tls.domain} {{\n" + secure + "}\n"


def front_tls(environ: Mapping[str, str]) -> tuple[Tls, str]:
    """In the front's container: the settings with the files at the paths the compose file mounts them at,
    checked; and a line saying what it serves."""
    tls = read_tls(environ)
    shown = {name: Path(environ[name]) for name in FRONT_FILES if environ.get(name)}
    if tls.kind == "files":
        cert, key = FRONT_FILES[registry.TLS_CERT.name], FRONT_FILES[registry.TLS_KEY.name]
        expiry = check_files(cert, key, shown=shown)
        return Tls("files", cert=cert, key=key), f"HTTPS with {shown[registry.TLS_CERT.name]} (valid until {expiry})"
    if tls.kind == "acme":
        root = FRONT_FILES[registry.ACME_CA_ROOT.name] if tls.ca_root is not None else None
        if root is not None and (not root.is_file() or root.stat().st_size == 0):
            raise TlsError(f"{registry.ACME_CA_ROOT.name}={tls.ca_root}: no such file (give an absolute path)")
        done = Tls("acme", domain=tls.domain, email=tls.email, ca=tls.ca, ca_root=root)
        return done, f"HTTPS for {tls.domain} with a certificate from {tls.ca}"
    return tls, f"plain HTTP: {plain_http_advice()}"


def plain_http_advice() -> str:
    """What to set before students connect from other machines (the start-up messages' words)."""
    return (f"set {registry.TLS_CERT.name} and {registry.TLS_KEY.name} (your own certificate), or "
            f"{registry.DOMAIN.name} and {registry.ACME_EMAIL.name} (Let's Encrypt, Docker mode), before students "
            "connect from other machines")


def main(argv: list[str]) -> int:
    """`python3 -m hub.tls caddyfile PATH`: check the TLS settings and write the front's Caddyfile to PATH."""
    import os

    if len(argv) != 2 or argv[0] != "caddyfile":
        print("usage: python3 -m hub.tls caddyfile PATH", file=sys.stderr)
        return 2
    try:
        tls, line = front_tls(os.environ)
    except SettingError as exc:
        print(f"course front: {exc}", file=sys.stderr)
        return 2
    Path(argv[1]).write_text(caddyfile(tls))
    print(f"course front: {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
