"""Where datasets are looked for, in order: an explicit data home, ``$COURSE_DATA_DIR``, the user's cache,
and folders that system packages install (Debian's ``dataset-fashion-mnist``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from course.config import shared_data_dir, user_cache_dir

SYSTEM_DATA_DIRS = (Path("/usr/share/datasets"),)


@dataclass(frozen=True)
class Location:
    """A folder that may hold datasets, ``<path>/<dataset name>/``."""

    path: Path
    kind: str  # "data_home", "COURSE_DATA_DIR", "user cache" or "system"

    @property
    def writable(self) -> bool:
        """True when files may be added here (the shared and system folders never are, by policy)."""
        if self.kind in ("COURSE_DATA_DIR", "system"):
            return False
        probe = self.path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        return os.access(probe, os.W_OK)

    def __str__(self) -> str:
        return f"{self.path} ({self.kind})"


def search_locations(data_home: str | os.PathLike | None = None) -> list[Location]:
    """The folders searched for datasets, first match wins."""
    places: list[Location] = []
    if data_home is not None:
        places.append(Location(Path(data_home).expanduser(), "data_home"))
    shared = shared_data_dir()
    if shared is not None:
        places.append(Location(shared, "COURSE_DATA_DIR"))
    places.append(Location(user_cache_dir(), "user cache"))
    places.extend(Location(path, "system") for path in SYSTEM_DATA_DIRS)
    return places


def download_location(data_home: str | os.PathLike | None = None) -> Location:
    """Where a missing dataset is downloaded to: the explicit data home, else the user's cache."""
    return search_locations(data_home)[0] if data_home is not None else Location(user_cache_dir(), "user cache")
