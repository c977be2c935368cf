"""Question modules (``chNN.py``); importing this package imports every one of them.

A module that fails to import is recorded in ``LOAD_ERRORS`` (and warned about) instead of breaking
every other chapter's checks.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings

LOAD_ERRORS: dict[str, str] = {}


def _load_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # one broken chapter must not break the others
            LOAD_ERRORS[info.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"course.checks: question module {info.name} failed to load: {exc}", RuntimeWarning,
                          stacklevel=2)


_load_all()
