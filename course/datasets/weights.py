"""Pretrained Keras Applications weights in the data folders: find a staged copy and verify it (``find_weights``),
download one with its checksum (``fetch_weights``), or stage a file downloaded elsewhere (``import_weights``).

The files live in ``<data folder>/keras-applications/``, searched in the datasets' order (a data home,
``$COURSE_DATA_DIR``, the user's cache). A file is used only when it matches a checksum: the one Keras publishes,
one the instructor gave, or the SHA-256 recorded in the folder's ``MANIFEST.json`` when it was first fetched
(for files Keras publishes none for). Files are written atomically and only into the folder given.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .locations import download_location, search_locations
from .read import read_manifest, sha256_file
from .specs import WEIGHTS_FOLDER, ChecksumError, WeightsSpec, get_weights_spec
from .transfer import copy_atomic, download, update_manifest

PathLike = str | os.PathLike | None
_FIRST_FETCH = "no checksum is published (Keras verifies none for this file): SHA-256 recorded at first fetch"


def digest_file(path: Path, algorithm: str) -> str:
    """The hex digest of a file, ``sha256`` or ``md5`` (the two Keras' ``get_file`` verifies)."""
    digest = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected(spec: WeightsSpec, folder: Path, sha256: str | None = None) -> tuple[str, str, str] | None:
    """(algorithm, digest, where it comes from) for a file of ``folder``, or None when nothing is on record."""
    if sha256:
        return "sha256", sha256.strip().lower(), "the SHA-256 given"
    if spec.published:
        algorithm, digest = spec.published
        return algorithm, digest, f"the {algorithm.upper()} Keras publishes"
    entry = read_manifest(folder)["files"].get(spec.filename)
    if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
        return "sha256", entry["sha256"], "the SHA-256 recorded when it was first fetched"
    return None


def _verify(spec: WeightsSpec, path: Path, expected: tuple[str, str, str] | None) -> None:
    if expected is None:
        return
    algorithm, digest, where = expected
    if digest_file(path, algorithm) != digest:
        raise ChecksumError(f"{spec.filename} does not match {where} ({digest[:12]}...): not staged; "
                            "check the URL, the file, or the checksum given")


@dataclass
class StagedWeights:
    """Where a verified copy of a weights file is, or why there is none (``path`` is None)."""

    spec: WeightsSpec
    path: Path | None
    checked: str = ""
    reason: str = ""

    def __str__(self) -> str:
        if self.path is not None:
            return f"{self.spec.title}: {self.path} (matches {self.checked})"
        return f"{self.spec.title}: not staged ({self.reason})"


def find_weights(name: str, data_home: PathLike = None) -> StagedWeights:
    """The first copy of the weights file in the search order that matches its checksum."""
    spec = get_weights_spec(name)
    problems = []
    places = search_locations(data_home)
    for location in places:
        folder = location.path / WEIGHTS_FOLDER
        path = folder / spec.filename
        if not path.is_file():
            continue
        expected = _expected(spec, folder)
        if expected is None:
            problems.append(f"{path} has no checksum on record")
            continue
        algorithm, digest, where = expected
        if digest_file(path, algorithm) != digest:
            problems.append(f"{path} does not match {where}")
            continue
        return StagedWeights(spec, path, where)
    searched = ", ".join(str(place.path / WEIGHTS_FOLDER) for place in places)
    found = "; ".join(problems) if problems else f"searched {searched}"
    return StagedWeights(spec, None, reason=f"{found}; an instructor stages it with "
                                            f"`course data fetch {spec.name} --to <shared data folder>`")


@dataclass
class WeightsResult:
    """What ``fetch_weights`` or ``import_weights`` staged where."""

    spec: WeightsSpec
    path: Path
    checked: str
    sha256: str
    action: str  # "downloaded", "imported" or "already there"

    def __str__(self) -> str:
        return f"{self.spec.name}: {self.path} ({self.action}; {self.checked}; SHA-256 {self.sha256})"


def _folder(to: PathLike) -> Path:
    root = Path(to).expanduser() if to is not None else download_location().path
    return root / WEIGHTS_FOLDER


def _record(spec: WeightsSpec, target: Path, source: str, expected: tuple[str, str, str] | None,
            action: str) -> WeightsResult:
    sha256 = sha256_file(target)
    checked = f"matches {expected[2]}" if expected else _FIRST_FETCH
    update_manifest(target.parent, {spec.filename: {"sha256": sha256, "source": source, "checked": checked}},
                    weights=True)
    return WeightsResult(spec, target, checked, sha256, action)


def fetch_weights(name: str, to: PathLike = None, *, url: str | None = None, sha256: str | None = None,
                  progress: bool = True) -> WeightsResult:
    """Download a weights file into ``to`` (default: the user's cache) unless a copy there already matches its
    checksum; a download that does not match is refused and leaves nothing behind."""
    spec = get_weights_spec(name)
    target = _folder(to) / spec.filename
    expected = _expected(spec, target.parent, sha256)
    if target.is_file() and expected is not None and digest_file(target, expected[0]) == expected[1]:
        return WeightsResult(spec, target, f"matches {expected[2]}", sha256_file(target), "already there")
    source = url or spec.url
    download(source, target, lambda tmp: _verify(spec, tmp, expected), progress=progress)
    return _record(spec, target, source, expected, "downloaded")


def import_weights(path: str | os.PathLike, to: PathLike = None, *, sha256: str | None = None) -> WeightsResult:
    """Stage a weights file downloaded elsewhere (named as Keras names it), checked like a download."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise FileNotFoundError(f"{source} is not a file: give the .h5 weights file to import")
    spec = get_weights_spec(source.name)
    target = _folder(to) / spec.filename
    expected = _expected(spec, target.parent, sha256)
    _verify(spec, source, expected)
    if source.resolve() != target.resolve():
        copy_atomic(source, target)
    return _record(spec, target, str(source.resolve()), expected, "imported")
