"""The library's settings, read from the environment through the registry in `course.settings`.

Kernels never stop on a bad value: it gives one warning line naming the variable, and the default applies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from course import settings
from course.settings import Setting

_warned: set[str] = set()


def read(setting: Setting) -> Any:
    """The value of `setting` in this process's environment (the default, with a warning, if it is bad)."""
    value, warning = setting.read_or_default(os.environ)
    if warning and setting.name not in _warned:
        _warned.add(setting.name)
        print(f"course: {warning}", file=sys.stderr, flush=True)
    return value


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` asks for the quick run (smaller data, fewer epochs)."""
    return read(settings.FAST)


def strict_checks() -> bool:
    """True when ``COURSE_CHECKS_STRICT`` asks graded checks to raise on a wrong answer (CI)."""
    return read(settings.CHECKS_STRICT)


def grading_mode() -> bool:
    """True when ``COURSE_GRADING`` says this kernel grades a copy of a notebook (hidden cases run)."""
    return read(settings.GRADING)


def offline() -> bool:
    """True when ``COURSE_OFFLINE`` forbids download attempts."""
    return read(settings.OFFLINE)


def data_url() -> str:
    """Where datasets are downloaded from (``COURSE_DATA_URL``), ending with '/'."""
    url = read(settings.DATA_URL)
    return url if url.endswith("/") else url + "/"


def shared_data_dir() -> Path | None:
    """The shared dataset folder from ``COURSE_DATA_DIR``, or None when it is not set."""
    return read(settings.DATA_DIR)


def user_cache_dir() -> Path:
    """The per-user dataset cache: ``$XDG_CACHE_HOME/course/datasets`` (default ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base).expanduser() / "course" / "datasets"


def progress_path() -> Path:
    """Where graded attempts are recorded: ``$COURSE_PROGRESS_FILE`` or ``~/.course/progress.json``."""
    return read(settings.PROGRESS_FILE)
