"""Autograding's pieces on their own: chapters and students, reading a student's notebook without following
their links, the course's own versions, the sandbox's command and environment, cgroups on a fake
hierarchy, statuses, the table and the CLI's refusals. The real sandbox runs in tests/hub/test_grading_live.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from hub.content import build_local_repo
from hub.gradebook.questions import by_chapter
from hub.gradebook.store import GRADED, NOT_STARTED, Gradebook
from hub.grading import cgroups, notebooks, runner, sandbox, statuses
from hub.grading.sandbox import Account, Means, SandboxRun
from hub.settings import REPO_ROOT, load_settings

CH03 = {q.id: q for q in by_chapter("03")}


def settings_for(tmp_path: Path, **extra: str):
    env = {"COURSE_HUB_STATE_DIR": str(tmp_path / "state"), "COURSE_HUB_NOTEBOOKS_DIR": str(tmp_path / "notebooks"),
           "COURSE_DATA_DIR": str(tmp_path / "data"), **extra}
    return load_settings(env)


def write_notebook(path: Path, *sources: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), str(path))
    return path.read_bytes()


# -- chapters and students ---------------------------------------------------------------------------------

def test_chapters_are_numbers_of_chapters_with_exercises():
    known = notebooks.graded_chapters()
    assert known == ["00", "00a", *(f"{n:02d}" for n in range(1, 14))]  # the primer 00a between 00 and 01
    assert notebooks.chapter_id("3", known) == "03" and notebooks.chapter_id("03", known) == "03"
    assert notebooks.chapter_id("0a", known) == notebooks.chapter_id(" 00A ", known) == "00a"
    assert notebooks.chapter_id("0", known) == "00"
    for bad, words in (("3a", "no exercises"), ("42", "no exercises"), ("", "not a chapter"), ("00ab", "not a chapter"),
                       ("a0", "not a chapter"), ("003", "not a chapter"), ("0-a", "not a chapter")):
        with pytest.raises(notebooks.GradingInputError, match=words):
            notebooks.chapter_id(bad, known)


def test_students_are_homes_and_accounts_without_the_admins(tmp_path):
    from hub import accounts

    settings = settings_for(tmp_path, COURSE_HUB_ADMIN_USERS="admin,prof")
    for name in ("ana", "ben", "prof", "Not-A-Name", "admin"):
        (settings.homes_dir / name).mkdir(parents=True)
    (settings.homes_dir / "loose-file").write_text("")
    db = accounts.open_db(settings)
    accounts.create_account(db, "cleo", "password-123")
    db.close()
    assert notebooks.known_students(settings) == ["ana", "ben", "cleo"]


def test_the_course_file_name_comes_from_the_notebooks_folder():
    assert notebooks.course_notebook_name(REPO_ROOT / "notebooks", "03") == "03_linear_regression.ipynb"
    assert notebooks.course_notebook_name(REPO_ROOT / "notebooks", "00") == "00_setup.ipynb"  # not 00a_...
    assert notebooks.course_notebook_name(REPO_ROOT / "notebooks", "00a") == "00a_python_primer.ipynb"
    assert notebooks.course_notebook_name(REPO_ROOT / "notebooks", "42") is None
    assert notebooks.course_notebook_name(Path("/nonexistent"), "03") is None


# -- reading a student's notebook --------------------------------------------------------------------------

def test_the_students_file_is_read_once_with_hash_and_mtime(tmp_path):
    home = tmp_path / "ana"
    data = write_notebook(home / "course" / "03_linear_regression.ipynb", "x = 1")
    os.utime(home / "course" / "03_linear_regression.ipynb", (1_700_000_000, 1_700_000_000))
    found = notebooks.find_student_notebook(home, "03", "03_linear_regression.ipynb", os.getuid())
    assert found.data == data and found.name == "03_linear_regression.ipynb"
    assert found.sha256 == __import__("hashlib").sha256(data).hexdigest()
    assert found.mtime == "2023-11-14T22:13:20+00:00"
    assert found.git_blob == subprocess.run(["git", "hash-object", "--stdin"], input=data,
                                            capture_output=True).stdout.decode().strip()


def test_missing_home_folder_or_file_is_none(tmp_path):
    assert notebooks.find_student_notebook(tmp_path / "nobody", "03", "03_x.ipynb") is None
    (tmp_path / "ana").mkdir()
    assert notebooks.find_student_notebook(tmp_path / "ana", "03", "03_x.ipynb") is None
    write_notebook(tmp_path / "ana" / "course" / "03_renamed.ipynb", "x = 1")
    assert notebooks.find_student_notebook(tmp_path / "ana", "03", "03_x.ipynb") is None  # the course's name only


def test_chapter_00_and_the_primer_00a_are_told_apart(tmp_path):
    course = tmp_path / "ana" / "course"
    write_notebook(course / "00_mine.ipynb", "x = 0")
    write_notebook(course / "00a_mine.ipynb", "x = 1")
    assert notebooks.find_student_notebook(tmp_path / "ana", "00", None).name == "00_mine.ipynb"
    assert notebooks.find_student_notebook(tmp_path / "ana", "00a", None).name == "00a_mine.ipynb"


def test_without_a_course_name_the_only_chapter_notebook_is_taken(tmp_path):
    course = tmp_path / "ana" / "course"
    write_notebook(course / "03_mine.ipynb", "x = 1")
    assert notebooks.find_student_notebook(tmp_path / "ana", "03", None).name == "03_mine.ipynb"
    write_notebook(course / "03_mine-Copy1.ipynb", "x = 2")
    with pytest.raises(notebooks.NotebookProblem, match="several notebooks"):
        notebooks.find_student_notebook(tmp_path / "ana", "03", None)


def test_links_and_other_owners_are_never_followed(tmp_path):
    course = tmp_path / "ana" / "course"
    course.mkdir(parents=True)
    secret = tmp_path / "secret.ipynb"
    secret.write_text("{}")
    (course / "03_x.ipynb").symlink_to(secret)
    with pytest.raises(notebooks.NotebookProblem, match="symbolic link"):
        notebooks.find_student_notebook(tmp_path / "ana", "03", "03_x.ipynb")
    (course / "03_x.ipynb").unlink()
    os.mkfifo(course / "03_x.ipynb")
    with pytest.raises(notebooks.NotebookProblem, match="not a regular file"):
        notebooks.find_student_notebook(tmp_path / "ana", "03", "03_x.ipynb")
    (course / "03_x.ipynb").unlink()
    write_notebook(course / "03_x.ipynb", "x = 1")
    with pytest.raises(notebooks.NotebookProblem, match="does not belong"):
        notebooks.find_student_notebook(tmp_path / "ana", "03", "03_x.ipynb", owner_uid=os.getuid() + 4242)
    shutil.rmtree(course)
    (tmp_path / "elsewhere").mkdir()
    course.symlink_to(tmp_path / "elsewhere")  # ~/course itself a link
    with pytest.raises(notebooks.NotebookProblem, match="not a plain folder"):
        notebooks.find_student_notebook(tmp_path / "ana", "03", "03_x.ipynb")


def test_bytes_that_are_not_a_notebook_are_named():
    assert notebooks.notebook_problem(b'{"cells": [], "nbformat": 4}') is None
    assert "not valid JSON" in notebooks.notebook_problem(b'{"cells": [')
    assert "not UTF-8" in notebooks.notebook_problem(b"\xff\xfe")
    assert "no list of cells" in notebooks.notebook_problem(b"[1, 2]")


def test_every_version_the_course_shipped_counts_as_untouched(tmp_path):
    settings = settings_for(tmp_path)
    name = "03_linear_regression.ipynb"
    first = write_notebook(settings.notebooks_dir / name, "print('version 1')")
    build_local_repo(settings.state_dir / "content", settings.notebooks_dir)
    second = write_notebook(settings.notebooks_dir / name, "print('version 2')")
    build_local_repo(settings.state_dir / "content", settings.notebooks_dir)
    shutil.rmtree(settings.notebooks_dir)
    write_notebook(settings.notebooks_dir / name, "print('version 3, not yet in the repository')")
    found = notebooks.pristine_blobs(settings, name)
    third = (settings.notebooks_dir / name).read_bytes()
    assert {notebooks.git_blob_id(d) for d in (first, second, third)} <= found
    assert notebooks.git_blob_id(first + b" ") not in found


def test_notebooks_that_reach_into_the_checks_are_flagged():
    data = json.dumps({"cells": [
        {"cell_type": "code", "source": "from course.checks import check\ncheck('03.x', 1)"},
        {"cell_type": "markdown", "source": "course.checks.progress is explained here"},
        {"cell_type": "code", "source": ["import course.checks.progress as p\n", "p.record_attempt('03.x', True)"]},
        {"cell_type": "code", "source": "import os\nopen(os.environ['COURSE_PROGRESS_FILE'], 'w')"},
        {"cell_type": "code", "source": "from course.checks import check, registry as r"},
    ]}).encode()
    assert notebooks.reaches_into_checks(data) == [
        "cell 3: course.checks.progress, record_attempt",
        "cell 4: COURSE_PROGRESS_FILE",
        "cell 5: import registry, registry",
    ]
    assert notebooks.reaches_into_checks(b"not json") == []


def test_the_courses_own_notebooks_are_not_flagged():
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        assert notebooks.reaches_into_checks(path.read_bytes()) == [], path.name


# -- cgroups -------------------------------------------------------------------------------------------------

V1_MOUNTS = """\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V1_OWN = "8:pids:/\n4:memory:/process_api/abc\n0::/\n"


def test_the_layout_is_read_from_mountinfo_and_own_cgroups(tmp_path):
    layout = cgroups.find_layout(V1_MOUNTS, V1_OWN)
    assert layout == cgroups.Layout(1, Path("/sys/fs/cgroup/memory/process_api/abc"), Path("/sys/fs/cgroup/pids"))
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    v2 = cgroups.find_layout(f"30 1 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n", "0::/user.slice/session-1.scope\n")
    assert v2 == cgroups.Layout(2, tmp_path)
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    assert cgroups.find_layout(f"30 1 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n", "0::/\n") is None


class FakeLeafRemoval(cgroups.RunCgroup):
    """A fake hierarchy is plain folders: removing one means removing its files too."""

    def remove(self, wait: float = 0.0) -> None:
        for folder in self.dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self.dirs = []


def test_a_v1_run_cgroup_caps_memory_swap_and_processes(tmp_path):
    memory, pids = tmp_path / "memory" / "hub", tmp_path / "pids"
    memory.mkdir(parents=True)
    pids.mkdir()
    group = cgroups.RunCgroup.create(cgroups.Layout(1, memory, pids), "ana-03", 400 * 2**20)
    leaf = group.dirs[0]
    assert leaf.parent == memory / cgroups.PARENT and leaf.name.startswith("ana-03-")
    assert (leaf / "memory.limit_in_bytes").read_text() == str(400 * 2**20)
    assert not (leaf / "memory.memsw.limit_in_bytes").exists()  # only where swap is accounted
    assert (group.dirs[1] / "pids.max").read_text() == str(cgroups.PIDS_MAX)
    assert group.procs_files == [str(leaf / "cgroup.procs"), str(group.dirs[1] / "cgroup.procs")]
    (leaf / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (leaf / "memory.max_usage_in_bytes").write_text("123456789\n")
    assert group.oom_kills() == 2 and group.peak_bytes() == 123456789
    FakeLeafRemoval(group.layout, group.dirs).remove()


def test_a_v2_run_cgroup_lives_below_the_mount_root(tmp_path):
    (tmp_path / "cgroup.subtree_control").write_text("memory pids\n")
    group = cgroups.RunCgroup.create(cgroups.Layout(2, tmp_path), "ana-03", 2**30)
    leaf = group.dirs[0]
    assert leaf.parent == tmp_path / cgroups.PARENT
    assert (leaf.parent / "cgroup.subtree_control").read_text() == "+pids"  # the last controller written
    assert (leaf / "memory.max").read_text() == str(2**30)
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1
    FakeLeafRemoval(group.layout, group.dirs).remove()


def test_no_cgroup_is_a_reason_not_an_error(tmp_path):
    assert cgroups.probe(None) == (None, "no memory cgroup on this machine")
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    layout, why = cgroups.probe(cgroups.Layout(1, blocked))
    assert layout is None and "cannot prepare a cgroup v1" in why


# -- the sandbox's command and environment -------------------------------------------------------------------

FULL = Means(root=True, namespaces=True, read_only_home=True, cgroup=cgroups.Layout(1, Path("/cg")), prlimit=True)


def test_as_root_the_chain_joins_the_cgroup_isolates_and_drops_to_the_student():
    cmd = sandbox.sandbox_command(FULL, python="/venv/bin/python", notebook=Path("/w/03.ipynb"),
                                  result=Path("/w/r.json"), timeout=300, account=Account(1234, 1234, "course-ana"),
                                  read_only=["/homes/ana"], cgroup_procs=["/cg/x/cgroup.procs"])
    text = " ".join(cmd)
    assert cmd[:6] == ["sh", "-c", sandbox.JOIN_CGROUP, "course-grade-cgroup", "1", "/cg/x/cgroup.procs"]
    unshare = cmd.index("unshare")
    assert cmd[unshare:unshare + 10] == ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount",
                                         "--mount-proc", "--propagation", "private", "--"]
    assert cmd[cmd.index(sandbox.SET_UP_NAMESPACE) + 1:][:4] == ["course-grade-sandbox", "1", "1", "/homes/ana"]
    assert "prlimit --cpu=600:605 --core=0 --" in text
    assert ("setpriv --reuid=1234 --regid=1234 --clear-groups --no-new-privs --inh-caps=-all "
            "--bounding-set=-all --") in text
    assert cmd[-5:] == ["/venv/bin/python", str(sandbox.grade_script()), "/w/03.ipynb", "--result", "/w/r.json"]
    assert text.index("sh -c") < text.index("unshare") < text.index("prlimit") < text.index("setpriv")
    assert "--map-root-user" not in text and "--user" not in text


def test_as_an_ordinary_user_the_namespaces_come_through_user_namespaces():
    means = Means(root=False, namespaces=True, read_only_home=True, user_namespace=True, prlimit=True)
    cmd = sandbox.sandbox_command(means, python="py", notebook=Path("/w/n.ipynb"), result=Path("/w/r.json"),
                                  timeout=60, account=None, read_only=["/homes/ana"], cgroup_procs=[])
    assert cmd[:2] == ["unshare", "--map-root-user"]
    inner = cmd.index("--user")
    assert cmd[inner - 1:inner + 4] == ["unshare", "--user", f"--map-user={os.geteuid()}",
                                        f"--map-group={os.getegid()}", "--"]
    assert "setpriv" not in cmd and "sh" == cmd[cmd.index("-c") - 1]


def test_without_any_means_only_the_grader_runs():
    cmd = sandbox.sandbox_command(Means(root=False), python="py", notebook=Path("/w/n.ipynb"),
                                  result=Path("/w/r.json"), timeout=60, account=None, read_only=["/h"],
                                  cgroup_procs=[])
    assert cmd == ["py", str(sandbox.grade_script()), "/w/n.ipynb", "--result", "/w/r.json"]


def test_the_environment_is_the_grading_kernels_and_nothing_of_the_hubs(monkeypatch):
    monkeypatch.setenv("COURSE_GRADEBOOK_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret")
    monkeypatch.setenv("COURSE_CHECKS_STRICT", "1")
    env = sandbox.sandbox_environment(work=Path("/w"), data_dir=Path("/data"), full=False,
                                      account=Account(1, 1, "course-ana"), python="/venv/bin/python")
    assert env["COURSE_GRADING"] == "true" and env["COURSE_FAST"] == "1"
    assert env["COURSE_PROGRESS_FILE"] == "/w/progress.json" and env["HOME"] == "/w"
    assert env["COURSE_DATA_DIR"] == "/data" and env["USER"] == "course-ana"
    assert env["PATH"].startswith("/venv/bin:")
    for name in ("COURSE_GRADEBOOK_URL", "JUPYTERHUB_API_TOKEN", "COURSE_CHECKS_STRICT"):
        assert name not in env
    assert sandbox.sandbox_environment(work=Path("/w"), data_dir=Path("/d"), full=True, account=None,
                                       python="py")["COURSE_FAST"] == "0"


def test_the_limits_line_says_what_applies():
    assert FULL.describe(300, 3 * 2**30) == (
        "limits: wall clock 300 s, memory 3 GiB (cgroup v1), CPU time 600 s per process, network: loopback only, "
        "home read-only; as the student's system user")
    assert FULL.complete
    bare = Means(root=False)
    assert bare.describe(60, 2**30) == (
        "limits: wall clock 60 s, no memory cap, no CPU time limit, network: not isolated, home writable; "
        "as the hub's own user (not root: no student accounts)")
    assert not bare.complete
    assert [sandbox.format_bytes(v) for v in (400 * 2**20, 3 * 2**30, int(1.5 * 2**30), 512)] == [
        "400 MiB", "3 GiB", "1.5 GiB", "512 B"]


def test_results_are_read_without_following_links(tmp_path):
    (tmp_path / "grade-result.json").write_text('{"checks": {}}')
    assert sandbox.read_json_safely(tmp_path, "grade-result.json") == {"checks": {}}
    (tmp_path / "grade-result.json").unlink()
    (tmp_path / "elsewhere.json").write_text('{"checks": {"03.x": true}}')
    (tmp_path / "grade-result.json").symlink_to(tmp_path / "elsewhere.json")
    assert sandbox.read_json_safely(tmp_path, "grade-result.json") is None
    (tmp_path / "list.json").write_text("[1]")
    assert sandbox.read_json_safely(tmp_path, "list.json") is None
    assert sandbox.read_json_safely(tmp_path, "missing.json") is None


def test_this_machine_is_probed_in_one_line(tmp_path):
    means = sandbox.probe(tmp_path)
    line = means.describe(300, 2**30)
    assert line.startswith("limits: wall clock 300 s") and "\n" not in line
    assert means.root == (os.geteuid() == 0)


# -- statuses ----------------------------------------------------------------------------------------------

def result(**extra) -> dict:
    return {"version": 1, "checks": {}, "attempts": {}, "cells": 10, "cells_failed": 0, "first_error": None,
            "error": None, **extra}


def test_a_graded_run_names_the_failed_cells_and_keeps_only_this_chapters_questions():
    run = SandboxRun(exit_code=0, seconds=12.3, peak_bytes=300 * 2**20, result=result(
        checks={"03.cost_by_hand": True, "03.gradient": False, "04.softmax": True, "99.nope": True},
        cells_failed=3, first_error="cell 4: NameError: name 'x' is not defined"))
    v = statuses.verdict(run, chapter_questions=CH03, timeout=300, memory_bytes=2**30)
    assert v.status == GRADED
    assert v.grades == {"03.cost_by_hand": True, "03.gradient": False}
    assert v.kinds == {"03.cost_by_hand": "exercise", "03.gradient": "exercise"}
    assert v.detail == ("3 of 10 cells raised; first: cell 4: NameError: name 'x' is not defined; "
                        "ignored checks of other chapters or unknown ids: 04.softmax, 99.nope; "
                        "12 s, peak memory 300 MiB")


def test_a_timed_out_run_keeps_what_its_checks_recorded_before():
    progress = {"version": 1, "questions": {"03.cost_by_hand": {"attempts": 1, "passed": True}}}
    v = statuses.verdict(SandboxRun(timed_out=True, progress=progress, seconds=300.2),
                         chapter_questions=CH03, timeout=300, memory_bytes=2**30)
    assert v.status == "timed out after 300 s" and v.grades == {"03.cost_by_hand": True}
    assert "1 check(s) recorded before it ended count" in v.detail


def test_out_of_memory_failures_and_the_cpu_limit():
    oom = statuses.verdict(SandboxRun(exit_code=0, oom_kills=1, result=result(error="the kernel died (killed by "
                                                                                "signal 9)")),
                           chapter_questions=CH03, timeout=300, memory_bytes=400 * 2**20)
    assert oom.status == "out of memory (limit 400 MiB)"
    died = statuses.verdict(SandboxRun(exit_code=0, result=result(error="the kernel died (killed by signal 11)")),
                            chapter_questions=CH03, timeout=300, memory_bytes=2**30)
    assert died.status == "failed: the kernel died (killed by signal 11)"
    cpu = statuses.verdict(SandboxRun(exit_code=0, result=result(error="the kernel died (killed by signal 24)")),
                           chapter_questions=CH03, timeout=300, memory_bytes=2**30)
    assert cpu.status == "failed: the kernel used its 600 s of CPU time"
    gone = statuses.verdict(SandboxRun(exit_code=-9, output_tail="loading\nKilled\n"),
                            chapter_questions=CH03, timeout=300, memory_bytes=2**30)
    assert gone.status == "failed: the grader ended without a result (killed by signal 9): Killed"
    setup = statuses.verdict(SandboxRun(exit_code=125, setup_failed=True, output_tail="mount: permission denied"),
                             chapter_questions=CH03, timeout=300, memory_bytes=2**30)
    assert setup.status == "failed: the sandbox could not be set up (mount: permission denied)"
    assert statuses.not_started("no notebook").status == NOT_STARTED


# -- the runner without a sandbox: what never runs -------------------------------------------------------------

class NoSandbox(runner.ClassGrader):
    """A grader whose sandbox must not be reached (these students have nothing to run)."""

    @property
    def means(self):
        raise AssertionError("nothing should run")


def test_missing_and_untouched_notebooks_are_not_started_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "running_as_root", lambda: False)  # homes are plain folders here
    settings = settings_for(tmp_path)
    shutil.copytree(REPO_ROOT / "notebooks", settings.notebooks_dir, ignore=shutil.ignore_patterns("0[0-24-9]_*"))
    (settings.homes_dir / "ana").mkdir(parents=True)
    (settings.homes_dir / "ben" / "course").mkdir(parents=True)
    shutil.copy(settings.notebooks_dir / "03_linear_regression.ipynb", settings.homes_dir / "ben" / "course")
    (settings.homes_dir / "cleo" / "course").mkdir(parents=True)
    (settings.homes_dir / "cleo" / "course" / "03_linear_regression.ipynb").write_text('{"cells": [')
    book = Gradebook(settings.state_dir / "gradebook.sqlite")
    grader = NoSandbox(settings, book)
    outcomes = runner.grade(settings, runner.pairs_for(["ana", "ben", "cleo"], ["03"]), grader=grader, jobs=2)
    assert [(o.user, o.status) for o in outcomes] == [
        ("ana", NOT_STARTED), ("ben", NOT_STARTED), ("cleo", "failed: the notebook is not valid JSON (Expecting "
                                                             "value: line 1 column 12 (char 11))")]
    runs = book.latest_runs()
    assert runs["ana"]["03"].detail == "no notebook for chapter 03 in ~/course" and runs["ana"]["03"].sha256 is None
    assert runs["ben"]["03"].detail == "the course's own version, never changed"
    assert runs["ben"]["03"].sha256 == __import__("hashlib").sha256(
        (settings.notebooks_dir / "03_linear_regression.ipynb").read_bytes()).hexdigest()
    assert all(r["03"].finished_at for r in runs.values())
    text = runner.table(outcomes)
    assert text.splitlines()[0].split() == ["student", "chapter", "status", "exercises"]
    assert "ana      03       not started" in text and "- / 5" in text


def test_a_pair_already_being_graded_is_skipped_not_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "running_as_root", lambda: False)
    settings = settings_for(tmp_path)
    book = Gradebook(settings.state_dir / "gradebook.sqlite")
    grader = NoSandbox(settings, book)
    with runner._exclusive(settings, "ana", "03") as mine:
        assert mine
        outcome = grader.grade("ana", "03")
    assert outcome.status == statuses.SKIPPED_BUSY and outcome.run_id is None
    assert book.latest_runs() == {}


def test_a_broken_grader_is_a_failed_status_and_the_class_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "running_as_root", lambda: False)
    settings = settings_for(tmp_path)
    book = Gradebook(settings.state_dir / "gradebook.sqlite")

    class Broken(NoSandbox):
        def _grade_local(self, user, chapter, chapter_questions, start):
            if user == "ana":
                start(None)
                raise RuntimeError("disk on fire")
            return statuses.not_started("nothing")

    outcomes = runner.grade(settings, [("ana", "03"), ("ben", "03")], grader=Broken(settings, book), jobs=1)
    assert [o.status for o in outcomes] == ["failed: the grader broke (RuntimeError: disk on fire)", NOT_STARTED]
    assert book.latest_runs()["ana"]["03"].status.startswith("failed: the grader broke")


# -- the CLI -----------------------------------------------------------------------------------------------

def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    env.update({"COURSE_HUB_STATE_DIR": str(tmp_path / "state"),
                "COURSE_HUB_NOTEBOOKS_DIR": str(REPO_ROOT / "notebooks")})
    return subprocess.run([sys.executable, "-m", "hub.cli", "grade", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("args", "message"), [
    (["42"], "course hub: chapter 42 has no exercises to grade: chapters with exercises are 00, 00a, 01,"),
    (["three"], "course hub: 'three' is not a chapter: use a number such as 03 or 3"),
    (["3", "--students", "Bad Name"], "course hub: 'bad name' is not a student's user name"),
    (["3", "--students", "nobody"], "course hub: no student named 'nobody' (no home in"),
    (["3", "--jobs", "0"], "course hub: --jobs must be at least 1"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = cli(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(message) and len(done.stderr.strip().splitlines()) == 1


def test_no_students_is_said_plainly(tmp_path):
    done = cli(tmp_path, "3")
    assert (done.returncode, done.stdout.strip()) == (0, "No students to grade.")


def test_a_student_without_a_notebook_gets_a_table_row(tmp_path):
    from hub import accounts

    db = accounts.open_db(settings_for(tmp_path))
    accounts.create_account(db, "ana", "password-123")  # an account, no home yet: never started a server
    db.close()
    done = cli(tmp_path, "3", "1", "--students", "ana")
    assert done.returncode == 0, done.stderr
    assert "Grading chapter(s) 03, 01 for 1 student(s)" in done.stdout
    assert "limits: wall clock 300 s" in done.stdout
    rows = [line.split() for line in done.stdout.splitlines()[-2:]]
    assert rows == [["ana", "03", "not", "started", "-", "/", "5"], ["ana", "01", "not", "started", "-", "/", "5"]]
