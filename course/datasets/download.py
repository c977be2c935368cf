"""Downloading one file: a progress bar, a time limit, and an atomic rename only after it verifies."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .specs import CourseDataError
from .store import atomic_path


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
