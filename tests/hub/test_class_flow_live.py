"""A lab session end to end on the real hub, with nothing standing in.

Students' own `check()` calls reach the gradebook live through the kernel's reporter (the server's token,
the outbox, the background sender); a stopped gradebook costs a cell nothing and loses nothing once it is
back; then the instructor grades chapter 03 with `course hub grade`: an answered notebook, an untouched one,
one that sleeps forever and one that allocates far past the cap, each with its status, while the others are
graded; the CSV shows the live and the graded results.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from testkit.hub_client import HubClient, enroll

pytestmark = pytest.mark.hub

CHAPTER = "03_linear_regression.ipynb"

# Runs as the student, in their kernel: fill in (or break) their own copy of chapter 03, as they would.
EDIT_CELL = """
import json, pathlib
path = pathlib.Path.home() / "course" / {chapter!r}
nb = json.loads(path.read_text())
for cell in nb["cells"]:
    if cell["cell_type"] == "code" and 'check("03.cost_by_hand"' in "".join(cell["source"]):
        cell["source"] = "".join(cell["source"]).replace("my_cost = None", "my_cost = 0.525")
        break
extra = {extra!r}
if extra:
    nb["cells"].insert(nb["cells"].index(cell) + 1, {{"cell_type": "code", "execution_count": None,
                                                      "metadata": {{}}, "outputs": [], "source": extra}})
path.write_text(json.dumps(nb, indent=1))
print("edited", path)
"""
SLEEP_FOREVER = "import time\nwhile True:\n    time.sleep(60)"
ALLOCATE = "blocks = []\nwhile True:\n    blocks.append(bytearray(b'x' * 2**24))"


def _csv(admin: HubClient) -> dict[str, dict[str, str]]:
    answer = admin.get("services/gradebook/grades.csv")
    assert answer.status_code == 200, answer.text[:300]
    return {row["student"]: row for row in csv.DictReader(io.StringIO(answer.text))}


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s")


def _gradebook_process(live_hub) -> psutil.Process:
    for proc in psutil.Process(live_hub.proc.pid).children(recursive=True):
        try:
            if "hub.gradebook.service" in " ".join(proc.cmdline()):
                return proc
        except psutil.NoSuchProcess:
            continue
    raise AssertionError("the hub runs no gradebook service")


@pytest.fixture(scope="module")
def lab(live_hub, unique):
    """An instructor's browser session and four students with running servers and a kernel each."""
    admin = HubClient(live_hub.url)
    admin.login("admin", live_hub.admin_password)
    assert admin.get("services/gradebook/").status_code == 200  # through the hub's OAuth
    prefixes = ("ana", "ben", "cas", "dee")
    students = dict(zip(prefixes, enroll(admin, [unique(p) for p in prefixes])))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda c: c.start_server(), students.values()))
    kernels = {prefix: client.start_kernel() for prefix, client in students.items()}
    return {"admin": admin, "students": students, "kernels": kernels}


def _run(lab, who: str, code: str, timeout: float = 180):
    out = lab["students"][who].run_cell(lab["kernels"][who], code, timeout=timeout)
    assert out.error is None, out.error
    return out.stdout


def test_a_students_own_check_reaches_the_gradebook_live(lab):
    ana, ben = lab["students"]["ana"].name, lab["students"]["ben"].name
    out = _run(lab, "ana", "from course.checks import check\nprint(check('03.cost_by_hand', 0.525).passed)")
    assert out.strip() == "True"
    _run(lab, "ben", "from course.checks import check\ncheck('03.cost_by_hand', None)")  # not answered yet
    rows = _wait(lambda: (r := _csv(lab["admin"])).get(ana, {}).get("03.cost_by_hand_live") == "1" and r,
                 60, "ana's attempt showing in the gradebook")
    assert rows[ben]["03.cost_by_hand_live"] == ""  # an unanswered check is no attempt
    waiting = _run(lab, "ana", "from course.checks import progress\nprint(len(progress.waiting_attempts()))")
    assert waiting.strip() == "0"


def test_a_stopped_gradebook_costs_a_cell_nothing_and_loses_nothing(lab, live_hub):
    ana = lab["students"]["ana"].name
    service = _gradebook_process(live_hub)
    service.send_signal(signal.SIGSTOP)  # the service hangs: connections are accepted, nothing answers
    try:
        out = _run(lab, "ana", "import time\nfrom course.checks import check\ntimes = []\n"
                               "for answer in ([1.0, 2.0], [-19.0, -7.0], [0.0, 0.0]):\n"
                               "    start = time.perf_counter(); check('03.gradient', answer)\n"
                               "    times.append(time.perf_counter() - start)\n"
                               "print(max(times) * 1000)")
        assert float(out) < 50, f"check() took {float(out):.1f} ms while the gradebook was stopped"
        time.sleep(2)
    finally:
        service.send_signal(signal.SIGCONT)
    _run(lab, "ana", "from course.checks import check\ncheck('03.gradient', [1.0, 1.0])")  # wakes the sender
    rows = _wait(lambda: (r := _csv(lab["admin"]))[ana]["03.gradient_live"] == "0" and r, 90,
                 "the attempts made while the gradebook was stopped arriving")
    assert rows[ana]["03.cost_by_hand_live"] == "1"
    _wait(lambda: _run(lab, "ana", "from course.checks import progress\n"
                                   "print(len(progress.waiting_attempts()))").strip() == "0",
          90, "ana's outbox emptying")


def test_the_instructor_grades_the_class_in_the_sandbox(lab, live_hub):
    names = {prefix: client.name for prefix, client in lab["students"].items()}
    _run(lab, "ana", EDIT_CELL.format(chapter=CHAPTER, extra=""))
    _run(lab, "cas", EDIT_CELL.format(chapter=CHAPTER, extra=SLEEP_FOREVER))
    _run(lab, "dee", EDIT_CELL.format(chapter=CHAPTER, extra=ALLOCATE))
    digest = (f"import hashlib, pathlib\np = pathlib.Path.home() / 'course' / {CHAPTER!r}\n"
              "print(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)")
    before = _run(lab, "ana", digest)
    env = {**live_hub.env, "COURSE_GRADE_TIMEOUT": "60", "COURSE_GRADE_MEM_LIMIT": "800M", "COURSE_GRADE_JOBS": "2"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hub.cli", "grade", "03", "--students", *names.values()],
                          env=env, cwd=live_hub.root, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert _run(lab, "ana", digest) == before  # the student's own file is never touched
    rows = _csv(lab["admin"])
    ana, ben, cas, dee = (rows[names[p]] for p in ("ana", "ben", "cas", "dee"))
    assert (ana["ch03_graded_status"], ana["03.cost_by_hand_graded"]) == ("graded", "1"), ana
    assert ana["03.gradient_graded"] == "0"  # left at None in her notebook: no grade from her live attempts
    assert ben["ch03_graded_status"] == "not started" and ben["03.cost_by_hand_graded"] in ("", "0")
    assert cas["ch03_graded_status"] == "timed out after 60 s", cas["ch03_graded_status"]
    assert dee["ch03_graded_status"].startswith("out of memory"), dee["ch03_graded_status"]
    assert ana["03.cost_by_hand_live"] == "1" and ben["03.cost_by_hand_live"] == ""
    print(f"graded 4 students in {seconds:.0f} s:\n{done.stdout[-1500:]}")


def test_a_student_sees_only_their_own_row(lab):
    ana = lab["students"]["ana"]
    assert ana.get("services/gradebook/").status_code == 200  # the hub's OAuth, then the service's cookie
    page = ana.get("services/gradebook/api/summary")
    assert page.status_code == 200, page.text[:300]
    text = json.dumps(page.json())
    others = [c.name for p, c in lab["students"].items() if p != "ana"]
    assert ana.name in text and not any(name in text for name in others)
    assert ana.get("services/gradebook/grades.csv").status_code == 403
    assert os.environ.get("COURSE_GRADEBOOK_URL") is None  # the test process itself never reports
