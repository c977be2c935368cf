"""Writing dataset files safely: atomic replacement and the per-folder manifest of checksums."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .read import MANIFEST, read_manifest


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
