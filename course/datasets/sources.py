"""Finding a dataset's files in one folder, verifying them, and reading them into arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .formats import parse_idx, read_bytes, read_npz, sha256_file, sha256_of
from .locations import FoundFiles
from .specs import IDX_PARTS, ChecksumError, DatasetFormatError
from .store import read_manifest

Arrays = dict[str, np.ndarray]  # x_train, y_train, x_test, y_test


def _expected(found: FoundFiles, path: Path, key: str) -> str | None:
    """The checksum a file must have: the built-in one when the course knows it, else the manifest's."""
    if found.layout == "npz":
        return found.spec.npz_sha256
    if found.layout == "idx" and key in found.spec.idx_sha256:
        return found.spec.idx_sha256[key]
    entry = read_manifest(found.folder)["files"].get(path.name)
    return entry.get("sha256") if isinstance(entry, dict) else None


def _check(found: FoundFiles, path: Path, key: str, actual: str) -> bool:
    expected = _expected(found, path, key)
    if expected is None:
        return False
    if actual != expected:
        raise ChecksumError(
            f"checksum mismatch for {path}: the file is truncated, corrupted or not the {found.spec.title} "
            "file; replace it (`course data fetch`, or `course data import` from a good copy)"
        )
    return True


_MEMO: dict[tuple, tuple[Arrays, bool]] = {}


def _memo_key(found: FoundFiles) -> tuple:
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in found.files.values())


def read_arrays(found: FoundFiles) -> Arrays:
    """Verify and read the copy; results are remembered per process while the files are unchanged."""
    key = _memo_key(found)
    if key in _MEMO:
        arrays, found.verified = _MEMO[key]
        return arrays
    if found.layout == "idx":
        arrays, checks = {}, []
        names = {"train_images": "x_train", "train_labels": "y_train", "test_images": "x_test", "test_labels": "y_test"}
        for part, path in found.files.items():
            payload = read_bytes(path)
            checks.append(_check(found, path, IDX_PARTS[part], sha256_of(payload)))
            arrays[names[part]] = parse_idx(payload, path)
        found.verified = all(checks)
    else:
        path = found.files["npz"]
        found.verified = _check(found, path, path.name, sha256_file(path))
        arrays = read_npz(path)
    _validate(arrays, found)
    _MEMO[key] = (arrays, found.verified)
    return arrays


def _validate(arrays: Arrays, found: FoundFiles) -> None:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise DatasetFormatError(
                f"{found.folder}: {split} images have shape {x.shape} and labels {y.shape}; "
                "expected (N, 28, 28) images with N labels"
            )
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise DatasetFormatError(f"{found.folder}: {split} labels outside 0..9")
