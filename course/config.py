"""Settings the library reads from the environment, once, at the edge."""

from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` asks for the quick run (smaller data, fewer epochs)."""
    return _flag("COURSE_FAST")


def strict_checks() -> bool:
    """True when ``COURSE_CHECKS_STRICT`` asks graded checks to raise on a wrong answer (CI)."""
    return _flag("COURSE_CHECKS_STRICT")


def shared_data_dir() -> Path | None:
    """The shared dataset folder from ``COURSE_DATA_DIR``, or None when it is not set."""
    value = os.environ.get("COURSE_DATA_DIR", "").strip()
    return Path(value).expanduser() if value else None


def user_cache_dir() -> Path:
    """The per-user dataset cache: ``$XDG_CACHE_HOME/course/datasets`` (default ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base).expanduser() / "course" / "datasets"


def progress_path() -> Path:
    """Where graded attempts are recorded: ``$COURSE_PROGRESS_FILE`` or ``~/.course/progress.json``."""
    value = os.environ.get("COURSE_PROGRESS_FILE", "").strip()
    return Path(value).expanduser() if value else Path.home() / ".course" / "progress.json"
