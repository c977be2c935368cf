"""Course content: the hub-built repository and nbgitpuller's rules, with real edits on real git repos."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from hub.content import build_local_repo, content_files, content_source
from hub.settings import REPO_ROOT, load_settings
from singleuser.server_command import sync_content


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _notebook(text: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {text}\n"]},
             {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": ["print(1)\n"]},
             {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": ["print(2)\n"]}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_content_source_is_the_instructors_repo_or_the_local_one(tmp_path):
    local = content_source(load_settings({"COURSE_HUB_STATE_DIR": str(tmp_path)}))
    assert local.url == str(tmp_path / "content") and local.branch == "main" and local.local_repo
    remote = content_source(load_settings({"COURSE_CONTENT_REPO": "https://example.org/c.git",
                                           "COURSE_CONTENT_BRANCH": "spring"}))
    assert (remote.url, remote.branch, remote.local_repo) == ("https://example.org/c.git", "spring", None)


def test_local_repo_commits_only_when_the_notebooks_change(tmp_path: Path):
    source, repo = tmp_path / "notebooks", tmp_path / "state" / "content"
    source.mkdir()
    (source / "00_setup.ipynb").write_text(_notebook("setup"))
    (source / "img").mkdir()
    (source / "img" / "a.png").write_bytes(b"png")
    (source / ".ipynb_checkpoints").mkdir()
    (source / ".ipynb_checkpoints" / "00_setup-checkpoint.ipynb").write_text("{}")
    first = build_local_repo(repo, source)
    assert first and _git(repo, "ls-files").split() == ["00_setup.ipynb", "img/a.png"]
    assert build_local_repo(repo, source) is None  # unchanged: no new version
    (source / "00_setup.ipynb").write_text(_notebook("setup v2"))
    (source / "01_tensors.ipynb").write_text(_notebook("tensors"))
    (source / "img" / "a.png").unlink()
    second = build_local_repo(repo, source)
    assert second and second != first
    assert _git(repo, "ls-files").split() == ["00_setup.ipynb", "01_tensors.ipynb"]
    assert "setup v2" in _git(repo, "show", "HEAD:00_setup.ipynb")
    assert int(_git(repo, "rev-list", "--count", "HEAD")) == 2
    assert not (repo / "img").exists()
    assert oct(os.stat(repo).st_mode & 0o777) == oct(0o755)


def test_spawns_at_once_share_one_refresh_and_never_miss_a_later_edit(tmp_path: Path, monkeypatch):
    """A class starting asks for a refresh with every spawn: calls waiting together share one refresh. A call
    made after a refresh began (an instructor's edit in between) still gets its own, with the edit."""
    import threading

    from hub import content

    source, repo = tmp_path / "notebooks", tmp_path / "state" / "content"
    source.mkdir()
    (source / "00_setup.ipynb").write_text(_notebook("setup"))
    assert build_local_repo(repo, source)
    real_mirror, mirrors = content._mirror, []
    hold = threading.Event()

    def slow_mirror(src, dst):
        changed = real_mirror(src, dst)
        mirrors.append(changed)
        hold.wait(30)  # the folder was read: a refresh "in progress"
        return changed

    monkeypatch.setattr(content, "_mirror", slow_mirror)
    callers = 8
    start = threading.Barrier(callers)
    results: list = []

    def spawn():
        start.wait()
        results.append(build_local_repo(repo, source))

    threads = [threading.Thread(target=spawn) for _ in range(callers)]
    for t in threads:
        t.start()
    threading.Timer(0.5, hold.set).start()
    for t in threads:
        t.join(60)
    assert results == [None] * callers
    assert 1 <= len(mirrors) <= 3, f"{len(mirrors)} refreshes for {callers} calls at once"

    hold.clear()
    mirrors.clear()
    first: list = []
    during = threading.Thread(target=lambda: first.append(build_local_repo(repo, source)))
    during.start()
    while not mirrors:  # that refresh has read the folder and is still running
        time.sleep(0.01)
    (source / "00_setup.ipynb").write_text(_notebook("setup, edited meanwhile"))
    later: list = []
    after = threading.Thread(target=lambda: later.append(build_local_repo(repo, source)))
    after.start()
    time.sleep(0.2)
    hold.set()
    during.join(60), after.join(60)
    assert first == [None] and later[0], "the call made after the edit must commit it"
    assert "setup, edited meanwhile" in _git(repo, "show", "HEAD:00_setup.ipynb")


def test_only_what_git_tracks_reaches_students(tmp_path: Path):
    """Regression: running chapter 08 and 09 left logs/ and saved/ (ckpt-40 ...) beside the notebooks, and the
    mirror copied them to every student. In a git checkout only tracked files are course content."""
    checkout = tmp_path / "checkout"
    source = checkout / "notebooks"
    source.mkdir(parents=True)
    _git(checkout, "init", "--quiet")
    (source / "09_saving_restoring.ipynb").write_text(_notebook("saving"))
    (checkout / ".gitignore").write_text("notebooks/logs/\nnotebooks/saved/\n")
    _git(checkout, "add", ".")
    for leftover in ("logs/run-1/events.out.tfevents.1", "saved/ckpt-40.index", "saved/ckpt-80.index",
                     "scratch.txt"):  # ignored run output, and an untracked file nobody added
        (source / leftover).parent.mkdir(parents=True, exist_ok=True)
        (source / leftover).write_bytes(b"run output")
    repo = tmp_path / "state" / "content"
    assert build_local_repo(repo, source)
    assert _git(repo, "ls-files").split() == ["09_saving_restoring.ipynb"]
    assert not (repo / "saved").exists() and not (repo / "logs").exists()
    # an earlier mirror that still holds run output is cleaned at the next refresh
    (repo / "saved").mkdir()
    (repo / "saved" / "ckpt-40.index").write_bytes(b"old")
    _git(repo, "add", "--all")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "old mirror")
    assert build_local_repo(repo, source)
    assert _git(repo, "ls-files").split() == ["09_saving_restoring.ipynb"]


def test_the_checkouts_content_is_exactly_its_tracked_notebooks():
    notebooks = REPO_ROOT / "notebooks"
    tracked = _git(REPO_ROOT, "ls-files", "--", "notebooks").split()
    assert tracked, "this test needs the git checkout"
    assert sorted(f"notebooks/{rel}" for rel in content_files(notebooks)) == sorted(tracked)


def test_a_checkout_whose_notebooks_git_does_not_track_is_refused(tmp_path: Path):
    source = tmp_path / "checkout" / "notebooks"
    source.mkdir(parents=True)
    _git(source.parent, "init", "--quiet")
    (source / "00_setup.ipynb").write_text(_notebook("setup"))
    try:
        build_local_repo(tmp_path / "content", source)
    except RuntimeError as exc:
        assert "git tracks none of its files" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("an untracked notebooks folder must not become empty course content")


def test_nbgitpuller_rules_keep_student_edits(tmp_path: Path):
    """New chapters appear, untouched files update, edits survive, deleted files return, clashes are renamed."""
    source, repo, home = tmp_path / "notebooks", tmp_path / "content", tmp_path / "home"
    source.mkdir()
    for name in ("00_setup", "01_tensors", "02_mnist"):
        (source / f"{name}.ipynb").write_text(_notebook(name))
    build_local_repo(repo, source)
    course = home / "course"
    sync_content(str(repo), "main", course)
    assert sorted(p.name for p in course.glob("*.ipynb")) == ["00_setup.ipynb", "01_tensors.ipynb",
                                                               "02_mnist.ipynb"]
    # the student edits chapter 01 (first cell), deletes 02, and makes a file named like a future chapter
    mine = (course / "01_tensors.ipynb").read_text().replace("# 01_tensors", "# 01_tensors STUDENT NOTES")
    (course / "01_tensors.ipynb").write_text(mine)
    (course / "02_mnist.ipynb").unlink()
    (course / "03_linear.ipynb").write_text("my own scratch notebook\n")
    # the instructor updates 00 and 01 (another cell), and adds chapter 03
    (source / "00_setup.ipynb").write_text(_notebook("00_setup").replace("print(1)", "print('v2')"))
    (source / "01_tensors.ipynb").write_text(_notebook("01_tensors").replace("print(2)", "print('fixed')"))
    (source / "03_linear.ipynb").write_text(_notebook("03_linear"))
    assert build_local_repo(repo, source)
    sync_content(str(repo), "main", course)
    assert "print('v2')" in (course / "00_setup.ipynb").read_text()          # untouched file updated
    updated_01 = (course / "01_tensors.ipynb").read_text()
    assert "STUDENT NOTES" in updated_01 and "print('fixed')" in updated_01   # both kept
    assert "# 02_mnist" in (course / "02_mnist.ipynb").read_text()            # deleted file back
    assert "# 03_linear" in (course / "03_linear.ipynb").read_text()          # new chapter
    renamed = [p for p in course.glob("03_linear__*.ipynb")]
    assert len(renamed) == 1 and renamed[0].read_text() == "my own scratch notebook\n"


def test_conflicting_edit_keeps_the_students_version(tmp_path: Path):
    source, repo, course = tmp_path / "notebooks", tmp_path / "content", tmp_path / "home" / "course"
    source.mkdir()
    (source / "01.ipynb").write_text(_notebook("one"))
    build_local_repo(repo, source)
    sync_content(str(repo), "main", course)
    (course / "01.ipynb").write_text(_notebook("one").replace("print(1)", "print('student')"))
    (source / "01.ipynb").write_text(_notebook("one").replace("print(1)", "print('teacher')"))
    build_local_repo(repo, source)
    sync_content(str(repo), "main", course)
    text = (course / "01.ipynb").read_text()
    assert "print('student')" in text and "print('teacher')" not in text


def test_a_folder_that_is_not_synced_is_left_alone(tmp_path: Path):
    source, repo, course = tmp_path / "notebooks", tmp_path / "content", tmp_path / "course"
    source.mkdir()
    (source / "00.ipynb").write_text(_notebook("zero"))
    build_local_repo(repo, source)
    course.mkdir()
    (course / "precious.txt").write_text("keep")
    try:
        sync_content(str(repo), "main", course)
    except RuntimeError as exc:
        assert "not a synced course folder" in str(exc)
    else:
        raise AssertionError("sync into a foreign folder should refuse")
    assert (course / "precious.txt").read_text() == "keep"
