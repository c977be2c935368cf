"""Which chapters, which students, and a student's notebook: found, read safely, compared with the course's.

The hub reads the student's file itself (as root in local mode), so reading must never follow the
student's lead: every step below the home is opened without following symbolic links, the file must be
a regular file owned by the student's account, and it is opened read-only (with O_NOATIME where allowed),
so it is never written, renamed or even touched. The bytes read here are the bytes hashed, recorded and
copied into the sandbox.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hub.content import content_source
from hub.gradebook.questions import EXERCISE, QuestionInfo, by_chapter, chapters, load_questions
from hub.settings import Settings
from hub.system_users import valid_hub_name

COURSE_FOLDER = "course"  # the synced course content inside a student's home (COURSE_CONTENT_DIR's default)
MAX_NOTEBOOK_BYTES = 100 * 1024 ** 2
_CHAPTER = re.compile(r"^(\d{1,2})([A-Za-z]?)$")  # "3", "03"; "0a", "00a" (a chapter between two)


class GradingInputError(ValueError):
    """A chapter or student name that cannot be graded (one line)."""


class NotebookProblem(Exception):
    """The student's notebook exists but cannot be graded: the message is one line for the gradebook."""


def chapter_id(text: str, known: list[str] | None = None) -> str:
    """'3' or '03' -> '03', '0a' or '00A' -> '00a': one of the chapters that have exercises."""
    known = graded_chapters() if known is None else known
    match = _CHAPTER.match(text.strip())
    if not match:
        raise GradingInputError(f"{text!r} is not a chapter: use a number such as 03 or 3 (or 00a, the primer)")
    chapter = f"{int(match.group(1)):02d}{match.group(2).lower()}"
    if chapter not in known:
        raise GradingInputError(f"chapter {chapter} has no exercises to grade: chapters with exercises are "
                                + ", ".join(known))
    return chapter


def graded_chapters(questions: dict[str, QuestionInfo] | None = None) -> list[str]:
    """The chapters with at least one exercise, in order."""
    questions = questions or load_questions()
    return [c for c in chapters(questions) if by_chapter(c, EXERCISE, questions)]


def known_students(settings: Settings) -> list[str]:
    """Every student: a home in the homes folder (local mode) or an account in the hub's database,
    admins (instructors) left out."""
    names: set[str] = set()
    if settings.mode == "local" and settings.homes_dir.is_dir():
        names.update(p.name for p in settings.homes_dir.iterdir() if p.is_dir() and valid_hub_name(p.name))
    if (settings.state_dir / "jupyterhub.sqlite").exists():
        from hub import accounts

        db = accounts.open_db(settings)
        try:
            names.update(name for name, _approved in accounts.list_accounts(db))
        finally:
            db.close()
    return sorted(names - set(settings.admin_users))


def course_notebook_name(notebooks_dir: Path, chapter: str) -> str | None:
    """The course's file name for `chapter` (03_linear_regression.ipynb), or None when the course folder
    does not say (it is missing, or holds several)."""
    found = sorted(notebooks_dir.glob(f"{chapter}_*.ipynb")) if notebooks_dir.is_dir() else []
    return found[0].name if len(found) == 1 else None


@dataclass(frozen=True)
class StudentNotebook:
    """The student's file as read once: its path, bytes, SHA-256 and modification time (ISO 8601, UTC)."""

    path: Path
    data: bytes
    sha256: str
    mtime: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def git_blob(self) -> str:
        return git_blob_id(self.data)


def git_blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes (to compare with every version the course shipped)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def iso_mtime(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _open_dir(name: str, dir_fd: int | None) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def _open_file(name: str, dir_fd: int) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(name, flags | getattr(os, "O_NOATIME", 0), dir_fd=dir_fd)
    except PermissionError:  # O_NOATIME needs the file's owner (or CAP_FOWNER)
        return os.open(name, flags, dir_fd=dir_fd)


def find_student_notebook(home: Path, chapter: str, course_name: str | None,
                          owner_uid: int | None = None) -> StudentNotebook | None:
    """The student's notebook for `chapter` under `home`/course, read once; None when it is missing.

    The course's own file name is looked for first; without one, the only `NN_*.ipynb` there. Raises
    NotebookProblem when the file is there but is not something to grade (a link, not a regular file,
    not the student's, too large, several candidates).
    """
    try:
        home_fd = _open_dir(str(home), None)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotebookProblem(f"cannot open the home {home} ({exc.strerror or exc})") from None
    try:
        try:
            course_fd = _open_dir(COURSE_FOLDER, home_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise NotebookProblem(f"~/{COURSE_FOLDER} is not a plain folder ({exc.strerror or exc})") from None
        try:
            name = course_name if course_name and _exists(course_name, course_fd) else None
            if name is None:
                if course_name:
                    return None  # the course's file is gone (deleted or renamed): nothing to grade
                candidates = sorted(n for n in os.listdir(course_fd)
                                    if n.startswith(f"{chapter}_") and n.endswith(".ipynb"))
                if not candidates:
                    return None
                if len(candidates) > 1:
                    raise NotebookProblem(f"several notebooks for chapter {chapter}: {', '.join(candidates)}")
                name = candidates[0]
            return _read(home / COURSE_FOLDER / name, name, course_fd, owner_uid)
        finally:
            os.close(course_fd)
    finally:
        os.close(home_fd)


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _read(path: Path, name: str, dir_fd: int, owner_uid: int | None) -> StudentNotebook:
    try:
        fd = _open_file(name, dir_fd)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symbolic link
            raise NotebookProblem(f"{name} is a symbolic link, not the student's own file") from None
        raise NotebookProblem(f"cannot open {name} ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotebookProblem(f"{name} is not a regular file")
        if owner_uid is not None and info.st_uid != owner_uid:
            raise NotebookProblem(f"{name} does not belong to the student's account (owner uid {info.st_uid})")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise NotebookProblem(f"{name} is {info.st_size / 2**20:.0f} MB, more than the "
                                  f"{MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may have")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_NOTEBOOK_BYTES:
                raise NotebookProblem(f"{name} grew past {MAX_NOTEBOOK_BYTES // 2**20} MB while it was read")
        data = b"".join(chunks)
    finally:
        os.close(fd)
    return StudentNotebook(path, data, hashlib.sha256(data).hexdigest(), iso_mtime(info.st_mtime))


def notebook_problem(data: bytes) -> str | None:
    """Why these bytes are not a notebook the grader can run (one line), or None."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return "the notebook is not UTF-8 text"
    except ValueError as exc:
        return f"the notebook is not valid JSON ({exc})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return "the file is not a notebook (no list of cells)"
    return None


def pristine_blobs(settings: Settings, name: str) -> set[str]:
    """Git blob ids of every version of the course's `name` a student may have received untouched: the
    notebooks folder's file and each version in the hub-built content repository's history."""
    found: set[str] = set()
    own = settings.notebooks_dir / name
    if own.is_file():
        found.add(git_blob_id(own.read_bytes()))
    repo = content_source(settings).local_repo
    if repo is not None and (repo / ".git").is_dir():
        done = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(repo), "log", "--all", "--format=",
                               "--raw", "--no-abbrev", "--no-renames", "--", name],
                              capture_output=True, text=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})
        if done.returncode == 0:
            for line in done.stdout.splitlines():
                fields = line.split()  # :100644 100644 <old> <new> M<TAB>name
                if len(fields) >= 5 and line.startswith(":"):
                    found.update(f for f in fields[2:4] if set(f) != {"0"})
    return found


# What a notebook has no reason to touch: the checks' internals and the progress they record.
_REACHES = [
    (re.compile(r"\bcourse\.checks\.[A-Za-z_]\w*"), None),
    (re.compile(r"\bfrom\s+course\.checks\s+import\s+([^\n#]+)"), "import"),
    (re.compile(r"\b(record_attempt|_grade|registry|load_errors|catalog|progress_path)\b"), None),
    (re.compile(r"\bCOURSE_(PROGRESS_FILE|GRADING|CHECKS_STRICT)\b|progress\.json"), None),
]


def reaches_into_checks(data: bytes) -> list[str]:
    """Code cells that reach into course.checks beyond `check` or into the progress file: 'cell 12:
    record_attempt'. Not proof of cheating, a reason for the instructor to look (the run's SHA-256 names
    the exact file)."""
    try:
        cells = json.loads(data.decode("utf-8")).get("cells", [])
    except (ValueError, AttributeError, UnicodeDecodeError):
        return []
    found: list[str] = []
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        hits: list[str] = []
        for pattern, kind in _REACHES:
            for match in pattern.finditer(source):
                if kind == "import":
                    names = [n.strip().split(" as ")[0].strip("() ") for n in match.group(1).split(",")]
                    hits.extend(f"import {n}" for n in names if n and n != "check")
                else:
                    hits.append(match.group(0))
        if hits:
            found.append(f"cell {index + 1}: " + ", ".join(dict.fromkeys(hits)))
    return found
