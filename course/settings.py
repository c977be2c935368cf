"""The one registry of the course's environment variables: name, default, parser and one line of doc.

Every setting is one environment variable, named here and nowhere else. The hub reads its settings through
this registry once at start (`hub.settings.load_settings`), the library reads its own through
`course.config`, and a student's server and kernels read what the hub hands them by the same names.
`.env.example` documents every variable marked `in_env_file` (a test keeps the two in step).

Plain Python with no third-party import: the hub (which has no TensorFlow), the kernels and the
student's server start-up all import it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Who reads a variable. "hub": the hub process; "library": the `course` package in kernels and the
# `course` command; "server": a student's server start-up (content sync, server configuration);
# "compose": docker compose itself; "tensorflow"/"tensorboard"/"nvidia": software we configure through it.
READERS = ("hub", "library", "server", "compose", "jupyterhub", "tensorflow", "tensorboard", "nvidia")

MODES = ("local", "docker", "kubernetes")
GPU_POLICIES = ("none", "shared", "spread", "exclusive")
HIDDEN_DEVICES = "void"  # NVIDIA_VISIBLE_DEVICES value that hides every GPU from a container
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_MEMORY_UNITS = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


class SettingError(ValueError):
    """A variable has a value that cannot be used; the message is one line naming it and what is allowed."""


Parser = Callable[[str], Any]


@dataclass(frozen=True)
class Setting:
    """One environment variable. `parse` turns its text (stripped; the default when empty) into a value
    and raises ValueError saying what is allowed."""

    name: str
    default: str
    parse: Parser
    doc: str
    readers: tuple[str, ...]
    in_env_file: bool = True  # documented in .env.example; False: the hub sets it for each server
    secret: bool = False  # never repeated in a message

    def read(self, environ: Mapping[str, str]) -> Any:
        """The parsed value from `environ`; SettingError (one line) when it is not allowed."""
        raw = environ.get(self.name)
        text = (raw or "").strip() or self.default
        try:
            return self.parse(text)
        except ValueError as exc:
            shown = "" if self.secret else f"={(raw or '').strip()!r}"
            raise SettingError(f"{self.name}{shown} is not allowed: {exc}") from None

    def read_or_default(self, environ: Mapping[str, str]) -> tuple[Any, str | None]:
        """For kernels, which must not stop on a bad value: (value, None), or (default, one-line warning)."""
        try:
            return self.read(environ), None
        except SettingError as exc:
            return self.parse(self.default), f"{exc}; using the default"


# --- parsers: each returns a plain value or raises ValueError("use ...") -------------------------------------


def flag(text: str) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    value = text.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("use true or false")


def choice(*options: str) -> Parser:
    def parse(text: str) -> str:
        value = text.lower()
        if value not in options:
            raise ValueError("use one of " + ", ".join(options))
        return value
    return parse


def whole(minimum: int, *, optional: bool = False) -> Parser:
    """A whole number >= minimum (None for an empty value when `optional`)."""
    def parse(text: str) -> int | None:
        if optional and not text:
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"use a whole number >= {minimum}") from None
        if value < minimum:
            raise ValueError(f"use a whole number >= {minimum}")
        return value
    return parse


def positive_number(text: str) -> float | None:
    """A number above 0 such as 2 or 0.5 (None when empty)."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError("use a positive number such as 2 or 0.5") from None
    if not value > 0 or math.isinf(value):
        raise ValueError("use a positive number such as 2 or 0.5")
    return value


def memory_bytes(text: str) -> int | None:
    """A size with a unit (4G, 512M, 2048MB, 1.5G) in bytes; a bare number is refused (Docker would read
    2048 as bytes). None when empty."""
    if not text:
        return None
    match = re.match(r"^(\d+(?:\.\d+)?)([KMGT])B?$", text, re.IGNORECASE)
    if not match or not float(match.group(1)) > 0:
        raise ValueError("use a positive size with a unit, such as 4G, 512M or 2048M")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2).upper()])


def path(text: str) -> Path | None:
    """A folder or file (~ expanded); None when empty. Relative paths are left to the reader."""
    return Path(text).expanduser() if text else None


def text_matching(pattern: str, allowed: str) -> Parser:
    """Text matching `pattern` (None when empty)."""
    compiled = re.compile(pattern)

    def parse(text: str) -> str | None:
        if not text:
            return None
        if not compiled.match(text):
            raise ValueError(allowed)
        return text
    return parse


def any_text(text: str) -> str | None:
    return text or None


def bind_url(text: str) -> str:
    """The hub's public address: http(s)://host[:port][/prefix/]."""
    allowed = "use a URL such as http://127.0.0.1:8000 or http://0.0.0.0:8000/course/"
    parts = urlsplit(text)
    try:
        port = parts.port  # raises ValueError on a port that is not a number in 0-65535
    except ValueError:
        raise ValueError(allowed) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(allowed)
    if (port or 0) > 65532:
        raise ValueError("use a port up to 65532 (the next three ports are the proxy API, the hub and the gradebook)")
    return text


HUB_NAME_PATTERN = r"^[a-z][a-z0-9._-]{0,23}$"
HUB_NAME_HELP = ("a user name starts with a lowercase letter and has at most 24 lowercase letters, "
                 "digits, '.', '_' or '-'")


def user_names(text: str) -> tuple[str, ...]:
    """Comma-separated hub user names, lowercased."""
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    if not names or not all(re.match(HUB_NAME_PATTERN, n) for n in names):
        raise ValueError("use comma-separated user names: " + HUB_NAME_HELP)
    return names


def gpu_ids(text: str) -> tuple[str, ...]:
    """Distinct GPU indices such as 0,1 (empty: none listed)."""
    if not text:
        return ()
    ids = tuple(part.strip() for part in text.split(","))
    if any(not i.isdigit() for i in ids) or len(set(ids)) != len(ids):
        raise ValueError("use distinct GPU indices separated by commas, such as 0,1")
    return ids


def admin_password(text: str) -> str | None:
    if not text:
        return None
    if len(text) < 8:
        raise ValueError("it is too short; use at least 8 characters, or leave it empty to get a generated password")
    return text


_DOCKER_NAME = (r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "use letters, digits, '_', '.' or '-'")
_PUBLISHED_PORT = r"^(?:(?:\d{1,3}\.){3}\d{1,3}:|\[[0-9a-fA-F:]+\]:)?\d{1,5}$"  # 8000, 127.0.0.1:8000, [::1]:8000

# --- the registry --------------------------------------------------------------------------------------------

_ALL: list[Setting] = []


def _define(name: str, default: str, parse: Parser, doc: str, readers: tuple[str, ...], **extra: Any) -> Setting:
    setting = Setting(name, default, parse, doc, readers, **extra)
    _ALL.append(setting)
    return setting


# The hub and its accounts
HUB_MODE = _define("COURSE_HUB_MODE", "local", choice(*MODES),
                   "local: students' servers are local processes; docker: one container per student; "
                   "kubernetes: one pod per student (the Zero to JupyterHub chart, deploy/kubernetes/)", ("hub",))
HUB_BIND_URL = _define("COURSE_HUB_BIND_URL", "http://127.0.0.1:8000", bind_url,
                       "where the hub listens (the proxy's public address); the next three ports serve the proxy's "
                       "API, the hub and the gradebook", ("hub",))
HUB_STATE_DIR = _define("COURSE_HUB_STATE_DIR", "", path,
                        "the hub's state: database, secrets, logs, content repository (default <repo>/var/hub)",
                        ("hub",))
HUB_HOMES_DIR = _define("COURSE_HUB_HOMES_DIR", "", path,
                        "local mode: the folder holding each student's home (default <state dir>/homes)", ("hub",))
HUB_NOTEBOOKS_DIR = _define("COURSE_HUB_NOTEBOOKS_DIR", "", path,
                            "local mode: the notebooks folder the hub's content repository mirrors "
                            "(default <repo>/notebooks)",
                            ("hub",))
HUB_ADMIN_USERS = _define("COURSE_HUB_ADMIN_USERS", "admin", user_names,
                          "comma-separated hub admins (instructors)", ("hub",))
HUB_ADMIN_PASSWORD = _define("COURSE_HUB_ADMIN_PASSWORD", "", admin_password,
                             "the first admin's password (empty: generated and shown once)", ("hub",), secret=True)
HUB_ADMIN_ACCESS = _define("COURSE_HUB_ADMIN_ACCESS", "false", flag,
                           "let admins open students' servers", ("hub",))
LOGIN_ATTEMPTS = _define("COURSE_LOGIN_ATTEMPTS", "5", whole(1),
                         "failed logins allowed before an account is locked", ("hub",))
LOCKOUT_SECONDS = _define("COURSE_LOCKOUT_SECONDS", "600", whole(0),
                          "how long a locked account stays locked, in seconds", ("hub",))

# HTTPS: the lab's own certificate, or one from an ACME server such as Let's Encrypt (hub/tls.py)
TLS_CERT = _define("COURSE_TLS_CERT", "", path,
                   "the lab's own certificate for HTTPS (PEM, with its chain; an absolute path), with COURSE_TLS_KEY",
                   ("hub", "compose"))
TLS_KEY = _define("COURSE_TLS_KEY", "", path, "the private key of COURSE_TLS_CERT (PEM; an absolute path)",
                  ("hub", "compose"))
DOMAIN = _define("COURSE_DOMAIN", "",
                 text_matching(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*$",
                               "use a host name such as course.lab.example.edu"),
                 "docker mode: the hub's public host name, for a certificate from COURSE_ACME_CA (Let's Encrypt)",
                 ("hub", "compose"))
ACME_EMAIL = _define("COURSE_ACME_EMAIL", "",
                     text_matching(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "use an e-mail address such as tf-lab@example.edu"),
                     "who the ACME server writes to about the certificate (needed with COURSE_DOMAIN)",
                     ("hub", "compose"))
ACME_CA = _define("COURSE_ACME_CA", "https://acme-v02.api.letsencrypt.org/directory",
                  text_matching(r"^https://\S+$", "use the https:// URL of an ACME directory"),
                  "the ACME server's directory: Let's Encrypt's, its staging server for a trial, or a test server",
                  ("hub", "compose"))
ACME_CA_ROOT = _define("COURSE_ACME_CA_ROOT", "", path,
                       "the root certificate an ACME server other than Let's Encrypt is served with (an absolute path)",
                       ("hub", "compose"))

# Content and data
CONTENT_REPO = _define("COURSE_CONTENT_REPO", "",
                       text_matching(r"^(https?://|git@|ssh://|file://|/).+$",
                                     "use a git URL (https://..., git@host:repo.git, file:///path) "
                                     "or an absolute path"),
                       "git repository pulled into ~/course at every server start (empty: the hub's own)",
                       ("hub", "server"))
CONTENT_BRANCH = _define("COURSE_CONTENT_BRANCH", "main",
                         text_matching(r"^(?!.*\.\.)[A-Za-z0-9._/-]+$", "use a git branch name such as main"),
                         "the branch of COURSE_CONTENT_REPO", ("hub", "server"))
CONTENT_DIR = _define("COURSE_CONTENT_DIR", "~/course", path,
                      "where a student's server keeps the synced course content", ("server",), in_env_file=False)
TENSORBOARD_LOGDIR = _define("COURSE_TENSORBOARD_LOGDIR", "~/course/logs", path,
                             "the folder TensorBoard in JupyterLab reads", ("server",), in_env_file=False)
DATA_DIR = _define("COURSE_DATA_DIR", "", path,
                   "the shared dataset folder, read-only to students (hub default <repo>/var/data)",
                   ("hub", "library"))

# Idle resources
IDLE_TIMEOUT = _define("COURSE_IDLE_TIMEOUT", "3600", whole(0),
                       "stop a student's server after this many idle seconds (0: never)", ("hub",))
KERNEL_IDLE_TIMEOUT = _define("COURSE_KERNEL_IDLE_TIMEOUT", "1200", whole(0),
                              "shut down a kernel idle this many seconds (0: never)", ("hub",))

# Limits and GPUs (the same meaning in every mode)
CPU_LIMIT = _define("COURSE_CPU_LIMIT", "", positive_number, "per-student CPU limit in cores (empty: none)", ("hub",))
MEM_LIMIT = _define("COURSE_MEM_LIMIT", "", memory_bytes, "per-student memory limit with a unit (empty: none)",
                    ("hub",))
GPU_POLICY = _define("COURSE_GPU_POLICY", "none", choice(*GPU_POLICIES),
                     "none | shared | spread | exclusive: how students' servers get GPUs (servers get it too)",
                     ("hub", "library"))
GPU_IDS = _define("COURSE_GPU_IDS", "", gpu_ids,
                  "GPU indices to hand out, e.g. 0,1 (not in kubernetes mode: the device plugin hands them out)",
                  ("hub",))
GPU_MEMORY_LIMIT_MB = _define("COURSE_GPU_MEMORY_LIMIT_MB", "", whole(1, optional=True),
                              "cap each student's TensorFlow GPU memory (MB) in every kernel (empty: no cap)",
                              ("hub", "library"))
GPU_MEMORY_GROWTH = _define("COURSE_GPU_MEMORY_GROWTH", "1", flag,
                            "set by the hub: kernels let TensorFlow grow its GPU memory as needed",
                            ("library",), in_env_file=False)
GPU_NOTICE = _define("COURSE_GPU_NOTICE", "", any_text,
                     "set by the hub: why this server has no GPU (shown by course doctor)",
                     ("library",), in_env_file=False)

# Grading (the gradebook service and `course hub grade`)
GRADE_TIMEOUT = _define("COURSE_GRADE_TIMEOUT", "300", whole(10),
                        "grading: wall-clock seconds one student's notebook may run (CPU time: twice that)", ("hub",))
GRADE_MEM_LIMIT = _define("COURSE_GRADE_MEM_LIMIT", "3G", memory_bytes,
                          "grading: memory one student's notebook may use, with a unit", ("hub",))
GRADE_JOBS = _define("COURSE_GRADE_JOBS", "2", whole(1), "grading: how many students' notebooks run at once",
                     ("hub",))
GRADEBOOK_URL = _define("COURSE_GRADEBOOK_URL", "", any_text,
                        "set by the hub: where a kernel's check() reports attempts (the gradebook service)",
                        ("library",), in_env_file=False)
GRADING = _define("COURSE_GRADING", "false", flag,
                  "set by the grader: this kernel grades a copy of a notebook (hidden cases run, nothing is reported)",
                  ("library",), in_env_file=False)

# Docker mode
SINGLEUSER_IMAGE = _define("COURSE_SINGLEUSER_IMAGE", "course-singleuser:latest",
                           text_matching(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$",
                                         "use a Docker image name such as course-singleuser:latest"),
                           "docker mode: the image started for every student", ("hub", "compose"))
DOCKER_NETWORK = _define("COURSE_DOCKER_NETWORK", "course-hub", text_matching(*_DOCKER_NAME),
                         "docker mode: the network of the hub and the students' containers", ("hub", "compose"))
DOCKER_INTERNAL = _define("COURSE_DOCKER_INTERNAL", "true", flag,
                          "docker mode: the students' network, which the hub creates, has no route out of the "
                          "machine", ("hub",))
DATA_VOLUME = _define("COURSE_DATA_VOLUME", "course-data", text_matching(*_DOCKER_NAME),
                      "docker mode: the named volume with the shared datasets; kubernetes mode: its "
                      "ReadWriteMany PersistentVolumeClaim", ("hub", "compose"))
CONTENT_VOLUME = _define("COURSE_CONTENT_VOLUME", "course-content", text_matching(*_DOCKER_NAME),
                         "docker mode: the named volume with the hub's course content repository, read-only to "
                         "students", ("hub", "compose"))
DOCKER_PUBLISH = _define("COURSE_DOCKER_PUBLISH", "8000",
                         text_matching(_PUBLISHED_PORT,
                                       "use a port such as 8000, or an address and a port such as 127.0.0.1:8000"),
                         "docker mode: where this machine publishes the hub's port (a port: every interface)",
                         ("hub", "compose"))
DOCKER_PUBLISH_TLS = _define("COURSE_DOCKER_PUBLISH_TLS", "443",
                             text_matching(_PUBLISHED_PORT,
                                           "use a port such as 443, or an address and a port such as 127.0.0.1:8443"),
                             "docker mode: where this machine publishes HTTPS (the TLS front's port 443)",
                             ("hub", "compose"))
DOCKER_SOCKET = _define("COURSE_DOCKER_SOCKET", "/var/run/docker.sock", path,
                        "docker mode: the Docker engine's socket on this machine, which only the hub's container gets "
                        "(rootless Docker: /run/user/<uid>/docker.sock)", ("compose",))
IMAGE_FLAVOUR = _define("COURSE_IMAGE_FLAVOUR", "gpu", choice("gpu", "cpu"),
                        "docker mode: build the student image with TensorFlow's CUDA wheels (gpu) or without (cpu)",
                        ("compose",))

# The library's own
FAST = _define("COURSE_FAST", "false", flag, "fast mode: smaller data and fewer epochs (CI, quick checks)",
               ("library",))
CHECKS_STRICT = _define("COURSE_CHECKS_STRICT", "false", flag,
                        "a wrong graded answer raises, so CI asserts the notebooks' results", ("library",))
PROGRESS_FILE = _define("COURSE_PROGRESS_FILE", "~/.course/progress.json", path,
                        "where a student's graded attempts are recorded", ("library",))
DATA_URL = _define("COURSE_DATA_URL", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
                   text_matching(r"^(https?|file)://\S+$", "use an http(s):// or file:// URL of a mirror"),
                   "where `course data fetch` downloads from (a mirror of the standard location)", ("library",))
OFFLINE = _define("COURSE_OFFLINE", "false", flag, "never try to download a dataset", ("library",))

# Variables of other software that the hub sets for each server, named here so no module restates them.
JUPYTERHUB_API_TOKEN = _define("JUPYTERHUB_API_TOKEN", "", any_text,
                               "set by JupyterHub: the server's own token; check() reports with it",
                               ("jupyterhub",), in_env_file=False, secret=True)
JUPYTERHUB_USER = _define("JUPYTERHUB_USER", "", any_text, "set by JupyterHub: whose server this is",
                          ("jupyterhub",), in_env_file=False)
TENSORBOARD_PROXY_URL = _define("TENSORBOARD_PROXY_URL", "", any_text,
                                "set by the hub: %tensorboard's iframe goes through jupyter-server-proxy",
                                ("tensorboard",), in_env_file=False)
TF_FORCE_GPU_ALLOW_GROWTH = _define("TF_FORCE_GPU_ALLOW_GROWTH", "false", flag,
                                    "TensorFlow's own switch for growing GPU memory", ("tensorflow",),
                                    in_env_file=False)
CUDA_VISIBLE_DEVICES = _define("CUDA_VISIBLE_DEVICES", "", any_text,
                               "the GPUs CUDA (and so TensorFlow) may use; empty hides them all",
                               ("tensorflow",), in_env_file=False)
NVIDIA_VISIBLE_DEVICES = _define("NVIDIA_VISIBLE_DEVICES", "", any_text,
                                 "the GPUs the NVIDIA Container Toolkit gives a container (`void`: none)",
                                 ("nvidia",), in_env_file=False)

REGISTRY: dict[str, Setting] = {s.name: s for s in _ALL}


def get(name: str) -> Setting:
    """The registered setting called `name`; KeyError names the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"{name} is not a course setting (see course/settings.py)") from None


def read_by(reader: str) -> list[Setting]:
    """The settings `reader` ("hub", "library", ...) reads, in registry order."""
    return [s for s in _ALL if reader in s.readers]
