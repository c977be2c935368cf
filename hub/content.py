"""Course content for `~/course`: where nbgitpuller pulls from, and the local repository the hub builds.

With COURSE_CONTENT_REPO unset, the hub keeps a git repository in its state folder that mirrors this
checkout's `notebooks/` folder, committing a new version whenever the notebooks change. Every spawn pulls
from it with nbgitpuller, whose merge rules keep a student's own edits (see `singleuser/server_command.py`).

Course content is what git tracks: when the notebooks folder is in a git checkout, only its tracked files
are mirrored, never what running a chapter leaves beside them (TensorBoard logs, checkpoints).
"""
from __future__ import annotations

import fcntl
import filecmp
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from course import settings as registry
from hub.settings import Settings

LOCAL_BRANCH = "main"
# Where students' containers find the course content as a git repository: in Kubernetes mode the notebooks
# baked into the course image (docker/singleuser.Dockerfile); in Docker mode the hub's own content repository,
# a volume the hub keeps at the same path (DOCKER_CONTENT_DIR) and mounts read-only over the baked copy, so
# that its history carries over from one version of the course to the next. Pulled into ~/course unless
# COURSE_CONTENT_REPO names another.
DOCKER_CONTENT_DIR = Path("/srv/course-content")
CONTENT_IN_IMAGE = f"file://{DOCKER_CONTENT_DIR}"
CONTENT_IN_IMAGE_BRANCH = LOCAL_BRANCH
_IGNORED = {".ipynb_checkpoints", "__pycache__", ".DS_Store", ".git"}
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "course hub", "GIT_AUTHOR_EMAIL": "hub@course.invalid",
    "GIT_COMMITTER_NAME": "course hub", "GIT_COMMITTER_EMAIL": "hub@course.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C",
}
# When the last refresh of each (repository, notebooks folder) that finished in this process began.
_last_began: dict[tuple[str, str], float] = {}
_last_began_guard = threading.Lock()


@dataclass(frozen=True)
class ContentSource:
    """What nbgitpuller pulls: a git URL (or local path) and a branch."""

    url: str
    branch: str
    local_repo: Path | None = None  # set when the hub builds the repository itself...
    notebooks_dir: Path | None = None  # ...from this folder


def local_repo_dir(settings: Settings) -> Path:
    """The hub-built content repository: in the state folder (local mode), or in the content volume that
    students' containers mount (Docker mode)."""
    return DOCKER_CONTENT_DIR if settings.mode == "docker" else settings.state_dir / "content"


def content_source(settings: Settings) -> ContentSource:
    """The instructor's COURSE_CONTENT_REPO, or the hub-built local repository."""
    if settings.content_repo:
        return ContentSource(settings.content_repo, settings.content_branch, None)
    repo = local_repo_dir(settings)
    return ContentSource(str(repo), LOCAL_BRANCH, repo, settings.notebooks_dir)


def image_content_environment(settings: Settings) -> dict[str, str]:
    """What a server started from the course image pulls into ~/course: COURSE_CONTENT_REPO and its branch,
    else the notebooks baked into the image (one branch)."""
    if settings.content_repo:
        url, branch = settings.content_repo, settings.content_branch
    else:
        url, branch = CONTENT_IN_IMAGE, CONTENT_IN_IMAGE_BRANCH
    return {registry.CONTENT_REPO.name: url, registry.CONTENT_BRANCH.name: branch}


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **_GIT_ENV, "HOME": str(repo)}
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def _tracked_files(source: Path) -> dict[str, Path] | None:
    """The files git tracks under `source`, or None when `source` is not in a git checkout."""
    done = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(source), "ls-files", "-z", "--cached", "--", "."],
                          env={**os.environ, **_GIT_ENV}, capture_output=True)
    if done.returncode != 0:
        return None
    files = {}
    for rel in sorted(filter(None, done.stdout.decode("utf-8", "surrogateescape").split("\0"))):
        path = source / rel
        if path.is_file() and not path.is_symlink():  # a tracked file deleted in the work tree is left out
            files[rel] = path
    return files


def content_files(source: Path) -> dict[str, Path]:
    """The course content in `source`, by relative path: git's tracked files when `source` is in a checkout,
    otherwise every file but editor and cache leftovers (an instructor's plain folder is all content)."""
    tracked = _tracked_files(source)
    return tracked if tracked is not None else _folder_files(source)


def _folder_files(source: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for root, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED)
        for name in names:
            if name in _IGNORED or name.endswith(".pyc"):
                continue
            path = Path(root) / name
            if path.is_file():
                files[path.relative_to(source).as_posix()] = path
    return files


def _mirror(source: Path, repo: Path) -> bool:
    """Make the work tree of `repo` equal to `source`; True if anything changed."""
    wanted = content_files(source)
    if not wanted and _folder_files(source):
        raise RuntimeError(f"{source} is in a git checkout but git tracks none of its files: `git add` and commit "
                           "the notebooks (course content is what git tracks)")
    present = _folder_files(repo)
    changed = False
    for rel, path in present.items():
        if rel not in wanted:
            path.unlink()
            changed = True
    for rel, src in wanted.items():
        dst = repo / rel
        if dst.is_file() and filecmp.cmp(src, dst, shallow=False):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o644)
        changed = True
    for root, _dirs, _files in os.walk(repo, topdown=False):
        if Path(root) != repo and ".git" not in Path(root).relative_to(repo).parts and not os.listdir(root):
            os.rmdir(root)
    return changed


def build_local_repo(repo: Path, source: Path) -> str | None:
    """Mirror `source` into the git repository `repo`, committing when it changed.

    Returns the new commit id, or None when the content was already up to date. Safe to call from
    several processes at once (a file lock serialises them). The repository is world-readable so that
    students' servers, running as their own users, can pull from it.

    Calls at once in one process (a class starting: every spawn asks) share the work: a call that, while it
    waited for the lock, saw a refresh finish that *began after it was asked* returns None at once, since
    that refresh mirrored the folder as it was then, or later.
    """
    asked = time.monotonic()
    key = (str(repo), str(source))
    if not source.is_dir():
        raise FileNotFoundError(f"course notebooks folder {source} does not exist")
    repo.mkdir(parents=True, exist_ok=True)
    os.chmod(repo, 0o755)
    with open(repo.parent / ".content.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with _last_began_guard:
            if _last_began.get(key, float("-inf")) > asked:
                return None
        began = time.monotonic()
        commit = _refresh(repo, source)
        with _last_began_guard:
            _last_began[key] = max(began, _last_began.get(key, float("-inf")))
        return commit


def _refresh(repo: Path, source: Path) -> str | None:
    """build_local_repo's work, under its lock."""
    if not (repo / ".git").is_dir():
        _git(repo, "init", "--quiet", "--initial-branch", LOCAL_BRANCH)
        _git(repo, "config", "core.sharedRepository", "0644")
    new_repo = not _git(repo, "rev-list", "--all", "--max-count=1").strip()
    if not _mirror(source, repo) and not new_repo:
        return None
    _git(repo, "add", "--all")
    if not new_repo and not _git(repo, "status", "--porcelain").strip():
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", f"Course content as of {stamp}")
    return _git(repo, "rev-parse", "HEAD").strip()
