"""Step 2, where to look: the folders searched in order (an explicit data home, ``$COURSE_DATA_DIR``, the
user's cache, folders that system packages install such as Debian's ``dataset-fashion-mnist``), and which
copy of a dataset's files one folder holds. Nothing here reads a file's content; numpy-free."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from course import settings
from course.config import shared_data_dir, user_cache_dir

from .specs import IDX_PARTS, DatasetSpec

SYSTEM_DATA_DIRS = (Path("/usr/share/datasets"),)


@dataclass(frozen=True)
class Location:
    """A folder that may hold datasets, ``<path>/<dataset name>/``."""

    path: Path
    kind: str  # "data_home", "COURSE_DATA_DIR", "user cache" or "system"

    def __str__(self) -> str:
        return f"{self.path} ({self.kind})"


def search_locations(data_home: str | os.PathLike | None = None) -> list[Location]:
    """The folders searched for datasets, first match wins."""
    places: list[Location] = []
    if data_home is not None:
        places.append(Location(Path(data_home).expanduser(), "data_home"))
    shared = shared_data_dir()
    if shared is not None:
        places.append(Location(shared, settings.DATA_DIR.name))
    places.append(Location(user_cache_dir(), "user cache"))
    places.extend(Location(path, "system") for path in SYSTEM_DATA_DIRS)
    return places


def download_location() -> Location:
    """Where a missing dataset is downloaded to when no data home is given: the user's cache."""
    return Location(user_cache_dir(), "user cache")


@dataclass
class FoundFiles:
    """One copy of a dataset: its layout (``npz``, ``idx`` or ``local``), files, and verification state."""

    spec: DatasetSpec
    folder: Path
    layout: str
    files: dict[str, Path]
    verified: bool = False  # set when the files are read and checked

    @property
    def source(self) -> Path:
        return next(iter(self.files.values())) if len(self.files) == 1 else self.folder


def idx_file(folder: Path, stem: str) -> Path | None:
    """The IDX file ``stem`` in ``folder``, gzipped or not, or None."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def find_files(spec: DatasetSpec, folder: Path) -> FoundFiles | None:
    """The best copy of ``spec`` in ``folder`` (official npz, then IDX files, then an imported npz), or None."""
    if not folder.is_dir():
        return None
    if spec.npz_name and (folder / spec.npz_name).is_file():
        return FoundFiles(spec, folder, "npz", {"npz": folder / spec.npz_name})
    idx = {part: idx_file(folder, stem) for part, stem in IDX_PARTS.items()}
    if all(idx.values()):
        return FoundFiles(spec, folder, "idx", idx)  # type: ignore[arg-type]
    local = folder / spec.local_name
    if local.is_file():
        return FoundFiles(spec, folder, "local", {"npz": local})
    return None


def folders_to_search(spec: DatasetSpec, location: Location) -> list[Path]:
    """The folders of ``location`` that may hold ``spec``: ``<path>/<name>/``; for an explicit data home also
    the folder itself (a student who points ``data_home`` at the dataset's own files means that folder)."""
    folders = [location.path / spec.name]
    if location.kind == "data_home":
        folders.append(location.path)
    return folders


def locate(spec: DatasetSpec, data_home: str | os.PathLike | None = None) -> FoundFiles | None:
    """The first copy of the dataset in the search order, or None. When an explicit ``data_home`` lacks the
    dataset and a copy elsewhere is used, a one-line ``DataHomeWarning`` says where it looked and what it used."""
    for location in search_locations(data_home):
        for folder in folders_to_search(spec, location):
            found = find_files(spec, folder)
            if found is not None:
                if data_home is not None and location.kind != "data_home":
                    home = Path(data_home).expanduser()
                    warnings.warn(f"{spec.name} is not in data_home (looked in {home / spec.name} and {home}): "
                                  f"loaded it from {folder} ({location.kind}) instead", DataHomeWarning,
                                  stacklevel=3)
                return found
    return None


class DataHomeWarning(UserWarning):
    """An explicit data home lacked the dataset and a copy from another place was used."""
