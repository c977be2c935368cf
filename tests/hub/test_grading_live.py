"""Autograding for real, as root: system users made the way the hub makes them (a temporary homes folder,
removed afterwards), real kernels in the real sandbox, and hostile notebooks. One class is graded once
(three at a time) and each test reads its outcome: a notebook that sleeps forever times out while the
others are graded, one that allocates without bound runs out of memory, one that raises still earns its
later exercises, one that deletes files in the home deletes nothing, one that tries the network finds no
route (not even to the host's loopback), one never opened is "not started", a daemon it leaves behind is
ended, and every student's file keeps its bytes, modification time and access time.

The hostile notebooks report what they could do through the grades themselves: an exercise passes only
when the sandbox stopped the attempt.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from hub.gradebook.store import GRADED, NOT_STARTED
from hub.grading import cgroups, runner
from hub.settings import REPO_ROOT, load_settings
from hub.system_users import ensure_system_user, running_as_root

pytestmark = pytest.mark.hub

NAME = "03_linear_regression.ipynb"
TIMEOUT = 30
RIGHT = {"03.cost_by_hand": "0.525", "03.gradient": "(-19.25, -7.0)",
         "03.cost_function": "lambda W, b, x, y: np.sum((W * x + b - y) ** 2) / (2 * len(x))",
         "03.standardize": "lambda x: (x - np.mean(x)) / np.std(x)"}
WRONG = {"03.cost_by_hand": "99.0", "03.gradient": "(1.0, 1.0)", "03.cost_function": "lambda W, b, x, y: 0.0",
         "03.standardize": "lambda x: x"}
HEAD = "import numpy as np\nfrom course.checks import check"


def passes_if(qid: str, condition: str) -> str:
    """A cell whose check passes only when `condition` holds in the sandbox."""
    return f"check({qid!r}, ({RIGHT[qid]}) if ({condition}) else ({WRONG[qid]}))"


def notebook(*cells: str) -> bytes:
    return nbformat.writes(new_notebook(cells=[new_code_cell(HEAD), *(new_code_cell(c) for c in cells)])).encode()


class Classroom:
    """Students with system users and homes in a temporary state folder, and the settings to grade them."""

    def __init__(self, root: Path):
        self.root = root
        self.tag = secrets.token_hex(2)
        (root / "notebooks").mkdir()
        shutil.copy(REPO_ROOT / "notebooks" / NAME, root / "notebooks" / NAME)
        (root / "data").mkdir()
        self.env = {"COURSE_HUB_STATE_DIR": str(root / "state"), "COURSE_HUB_NOTEBOOKS_DIR": str(root / "notebooks"),
                    "COURSE_DATA_DIR": str(root / "data"), "COURSE_GRADE_TIMEOUT": str(TIMEOUT),
                    "COURSE_GRADE_MEM_LIMIT": "400M", "COURSE_GRADE_JOBS": "3"}
        self.settings = load_settings(self.env)
        self.users: dict[str, pwd.struct_passwd] = {}
        self.files: dict[str, tuple[bytes, int, int]] = {}

    def name(self, role: str) -> str:
        return f"g{self.tag}{role}"

    def home(self, role: str) -> Path:
        return self.settings.homes_dir / self.name(role)

    def add(self, role: str, data: bytes | None = None, *, link_to: str | None = None) -> str:
        name = self.name(role)
        entry = ensure_system_user(name, self.settings.homes_dir)
        self.users[role] = entry
        home = Path(entry.pw_dir)
        keep = home / "keep"
        keep.mkdir()
        (keep / "essay.txt").write_text(f"{role}'s own work\n")
        course = home / "course"
        course.mkdir()
        for path in (keep, keep / "essay.txt", course):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        target = course / NAME
        if link_to is not None:
            target.symlink_to(link_to)
            os.lchown(target, entry.pw_uid, entry.pw_gid)
        elif data is not None:
            target.write_bytes(data)
            os.chown(target, entry.pw_uid, entry.pw_gid)
            os.utime(target, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
            info = target.stat()
            self.files[role] = (data, info.st_mtime_ns, info.st_atime_ns)
        return name

    def remove(self) -> None:
        uids = {e.pw_uid for e in self.users.values()}
        for proc in psutil.process_iter(["uids"]):
            if proc.info["uids"] and proc.info["uids"].real in uids:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
        for entry in self.users.values():
            subprocess.run(["userdel", entry.pw_name], capture_output=True)


@pytest.fixture(scope="module")
def classroom():
    if not running_as_root():
        pytest.skip("grading as students' system users needs root (the hub tier runs as root)")
    root = Path(tempfile.mkdtemp(prefix="course-grade-test-"))  # not pytest's folder: students must reach it
    os.chmod(root, 0o755)
    room = Classroom(root)
    try:
        yield room
    finally:
        room.remove()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def graded(classroom):
    """The class graded once: role -> Outcome, plus the wall time and what was left behind."""
    room = classroom
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    other_home = room.home("answered")
    room.add("answered", notebook(*(f"check({q!r}, {a})" for q, a in RIGHT.items())))
    room.add("raiser", notebook("undefined_name + 1", f"check('03.cost_by_hand', {RIGHT['03.cost_by_hand']})",
                                "raise ValueError('again')", f"check('03.gradient', {RIGHT['03.gradient']})"))
    room.add("sleeper", notebook(f"check('03.cost_by_hand', {RIGHT['03.cost_by_hand']})",
                                 "import time\ntime.sleep(10**6)", f"check('03.gradient', {RIGHT['03.gradient']})"))
    room.add("hog", notebook(f"check('03.cost_by_hand', {RIGHT['03.cost_by_hand']})",
                             "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 2**20))"))
    home = room.home("deleter")
    room.add("deleter", notebook(
        "import os, pathlib, shutil\n"
        f"home = pathlib.Path({str(home)!r})\n"
        "results = []\n"
        "for attempt in (lambda: os.remove(home / 'course' / " + repr(NAME) + "),\n"
        "                lambda: shutil.rmtree(home / 'keep'),\n"
        "                lambda: (home / 'new-file.txt').write_text('x'),\n"
        "                lambda: os.rename(home / 'keep' / 'essay.txt', home / 'essay.txt'),\n"
        "                lambda: os.utime(home / 'course' / " + repr(NAME) + ", (0, 0))):\n"
        "    try:\n        attempt()\n        results.append('done')\n"
        "    except OSError as exc:\n        results.append(type(exc).__name__)\n"
        "print(results)",
        passes_if("03.cost_by_hand", "'done' not in results"),
        passes_if("03.gradient", "os.environ['HOME'] != str(home) and (home / 'keep' / 'essay.txt').exists()"),
    ))
    room.add("netter", notebook(
        "import socket\n"
        "def reachable(address):\n"
        "    try:\n        socket.create_connection(address, timeout=3).close()\n        return True\n"
        "    except OSError:\n        return False\n"
        "server = socket.socket()\nserver.bind(('127.0.0.1', 0))\nserver.listen()\n"
        "own_loopback = reachable(server.getsockname())",
        passes_if("03.cost_by_hand", "not reachable(('8.8.8.8', 53)) and not reachable(('1.1.1.1', 443))"),
        passes_if("03.gradient", f"not reachable(('127.0.0.1', {port}))"),
        passes_if("03.standardize", "own_loopback"),
    ))
    room.add("snoop", notebook(
        "def readable(path):\n"
        "    try:\n        open(path, 'rb').read(1)\n        return True\n    except OSError:\n        return False",
        passes_if("03.cost_by_hand", f"not readable({str(other_home / 'keep' / 'essay.txt')!r})"),
        passes_if("03.gradient", "not readable('/etc/shadow')"),
        passes_if("03.standardize", f"not readable({str(room.settings.state_dir / 'gradebook.sqlite')!r})"),
    ))
    room.add("escaper", notebook(
        "import subprocess\nsubprocess.Popen(['sleep', '600'], start_new_session=True)",
        f"check('03.cost_by_hand', {RIGHT['03.cost_by_hand']})"))
    room.add("pristine", (room.root / "notebooks" / NAME).read_bytes())
    room.add("never")
    room.add("linker", link_to="/etc/shadow")
    room.add("broken", b'{"cells": [')
    roles = list(room.users)
    book = runner.open_gradebook(room.settings)
    started = time.monotonic()
    outcomes = runner.grade(room.settings, [(room.name(r), "03") for r in roles], jobs=3, gradebook=book)
    wall = time.monotonic() - started
    left = [p for p in psutil.process_iter(["uids"])
            if p.info["uids"] and p.info["uids"].real in {e.pw_uid for e in room.users.values()}]
    listener.setblocking(False)
    try:
        listener.accept()  # a connection that got through would wait in the backlog
        reached_host = True
    except BlockingIOError:
        reached_host = False
    listener.close()
    layout = cgroups.this_machine()
    leftover_cgroups = sorted((layout.memory / cgroups.PARENT).glob(f"g{room.tag}*")) if layout else []
    return {"by_role": dict(zip(roles, outcomes)), "wall": wall, "book": book, "left": left,
            "reached_host": reached_host, "leftover_cgroups": leftover_cgroups}


def outcome(graded, role):
    return graded["by_role"][role]


def grades(graded, role) -> dict[str, bool]:
    found = outcome(graded, role)
    return graded["book"].latest_runs(found.user)[found.user]["03"].grades


def test_an_answered_notebook_is_graded_with_its_exercises(graded):
    found = outcome(graded, "answered")
    assert found.status == GRADED, found.detail
    assert (found.passed, found.total) == (4, 5)
    assert found.detail.startswith("every one of 5 cells ran; ")
    assert "limits:" not in found.detail  # every limit applied: nothing to say
    assert grades(graded, "answered") == dict.fromkeys(RIGHT, True)


def test_cells_that_raise_do_not_stop_later_exercises(graded):
    found = outcome(graded, "raiser")
    assert found.status == GRADED
    assert found.detail.startswith("2 of 5 cells raised; first: cell 2: NameError: name 'undefined_name' is not "
                                   "defined")
    assert grades(graded, "raiser") == {"03.cost_by_hand": True, "03.gradient": True}


def test_a_notebook_that_sleeps_forever_times_out_and_keeps_what_it_earned(graded):
    found = outcome(graded, "sleeper")
    assert found.status == f"timed out after {TIMEOUT} s", found.detail
    assert TIMEOUT <= found.seconds < TIMEOUT + 20
    assert grades(graded, "sleeper") == {"03.cost_by_hand": True}


def test_a_notebook_that_allocates_without_bound_runs_out_of_memory(graded):
    found = outcome(graded, "hog")
    assert found.status == "out of memory (limit 400 MiB)", found.detail
    assert grades(graded, "hog") == {"03.cost_by_hand": True}


def test_a_notebook_deletes_nothing_of_the_students(graded, classroom):
    found = outcome(graded, "deleter")
    assert found.status == GRADED, found.detail
    assert grades(graded, "deleter") == {"03.cost_by_hand": True, "03.gradient": True}
    home = classroom.home("deleter")
    assert (home / "keep" / "essay.txt").read_text() == "deleter's own work\n"
    assert not (home / "new-file.txt").exists() and not (home / "essay.txt").exists()


def test_the_network_has_no_route_not_even_to_the_hosts_loopback(graded):
    found = outcome(graded, "netter")
    assert found.status == GRADED, found.detail
    assert grades(graded, "netter") == {"03.cost_by_hand": True, "03.gradient": True, "03.standardize": True}
    assert not graded["reached_host"]


def test_the_copy_reads_nothing_the_student_could_not(graded):
    found = outcome(graded, "snoop")
    assert found.status == GRADED, found.detail
    assert grades(graded, "snoop") == {"03.cost_by_hand": True, "03.gradient": True, "03.standardize": True}


def test_processes_a_notebook_leaves_behind_are_ended(graded):
    assert outcome(graded, "escaper").status == GRADED
    assert graded["left"] == []
    assert graded["leftover_cgroups"] == []


def test_never_opened_notebooks_are_not_started_and_nothing_runs(graded):
    for role, detail in (("pristine", "the course's own version, never changed"),
                         ("never", "no notebook for chapter 03 in ~/course")):
        found = outcome(graded, role)
        assert (found.status, found.detail) == (NOT_STARTED, detail)
        assert found.seconds < 5


def test_links_and_broken_files_fail_with_a_reason(graded):
    assert outcome(graded, "linker").status == f"failed: {NAME} is a symbolic link, not the student's own file"
    assert outcome(graded, "broken").status.startswith("failed: the notebook is not valid JSON")


def test_the_students_files_are_never_changed_or_touched(graded, classroom):
    assert classroom.files
    for role, (data, mtime, atime) in classroom.files.items():
        path = classroom.home(role) / "course" / NAME
        info = path.stat()
        assert (path.read_bytes(), info.st_mtime_ns, info.st_atime_ns) == (data, mtime, atime), role
    assert (classroom.home("linker") / "course" / NAME).is_symlink()


def test_each_run_records_the_files_hash_and_mtime(graded, classroom):
    import hashlib

    found = outcome(graded, "answered")
    run = graded["book"].latest_runs(found.user)[found.user]["03"]
    data = classroom.files["answered"][0]
    assert run.sha256 == hashlib.sha256(data).hexdigest()
    assert run.mtime == "2023-11-14T22:13:20+00:00"
    assert run.notebook == str(classroom.home("answered") / "course" / NAME)
    assert not run.full and run.finished_at


def test_students_are_graded_in_parallel_and_nothing_is_left_behind(graded, classroom):
    busy = sum(o.seconds for o in graded["by_role"].values())
    assert graded["wall"] < 0.7 * busy, (graded["wall"], busy)
    assert list((classroom.settings.state_dir / "grading").glob(f"g{classroom.tag}*")) == []


def test_the_cli_grades_and_prints_the_table(classroom, graded):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    env.update(classroom.env)
    names = [classroom.name("answered"), classroom.name("never")]
    done = subprocess.run([sys.executable, "-m", "hub.cli", "grade", "3", "--students", *names, "--jobs", "2"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "limits: wall clock 30 s, memory 400 MiB (cgroup v" in done.stdout
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[-2:]}
    assert rows[names[0]] == ["03", "graded", "4", "/", "5"]
    assert rows[names[1]] == ["03", "not", "started", "-", "/", "5"]


def test_as_an_ordinary_user_the_copy_runs_as_the_hubs_user_and_says_so(classroom):
    """The hub run by an ordinary account (a throwaway system user here): homes are its own folders, no
    cgroup; the namespaces come through user namespaces where the machine allows them."""
    hub_user = ensure_system_user(f"g{classroom.tag}hub", classroom.root / "hubhome")
    classroom.users["hub"] = hub_user
    state = Path(hub_user.pw_dir) / "state"
    homes = state / "homes"
    for role, data in (("plain", notebook(f"check('03.cost_by_hand', {RIGHT['03.cost_by_hand']})")),
                       ("plainnet", notebook(
                           "import socket\ntry:\n    socket.create_connection(('8.8.8.8', 53), timeout=3)\n"
                           "    ok = False\nexcept OSError:\n    ok = True", passes_if("03.cost_by_hand", "ok")))):
        course = homes / classroom.name(role) / "course"
        course.mkdir(parents=True)
        (course / NAME).write_bytes(data)
    subprocess.run(["chown", "-R", f"{hub_user.pw_uid}:{hub_user.pw_gid}", hub_user.pw_dir], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    env.update({**classroom.env, "COURSE_HUB_STATE_DIR": str(state), "HOME": hub_user.pw_dir,
                "USER": hub_user.pw_name})
    script = ("import json, os\nfrom hub.grading import runner\nfrom hub.settings import load_settings\n"
              "s = load_settings(os.environ)\n"
              f"out = runner.grade(s, [({classroom.name('plain')!r}, '03'), ({classroom.name('plainnet')!r}, '03')])\n"
              "print(json.dumps([[o.status, o.detail, o.passed] for o in out]))")
    done = subprocess.run(["setpriv", f"--reuid={hub_user.pw_uid}", f"--regid={hub_user.pw_gid}", "--clear-groups",
                           sys.executable, "-c", script], cwd="/", env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    plain, net = json.loads(done.stdout.strip().splitlines()[-1])
    assert (plain[0], plain[2]) == (GRADED, 1), plain
    assert "limits: wall clock 30 s, no memory cap, CPU time 60 s per process" in plain[1]
    assert "as the hub's own user (not root: no student accounts)" in plain[1]
    if "network: loopback only" in plain[1]:  # unprivileged user namespaces: the network is isolated too
        assert (net[0], net[2]) == (GRADED, 1), net
