"""Grading in the compose deployment: a `check()` in a student's kernel reaches the gradebook in the hub's
container (the class's CSV and the student's own summary); `course hub grade`, run in the hub's container,
grades a copy of each notebook in a throwaway container of the course image (no network, the home read-only,
the grading limits, removed afterwards), and the student's own file is unchanged."""
from __future__ import annotations

import csv
import io
import threading
import time

import pytest

from course import settings as registry
from testkit.hub_client import HubClient, wait_for

pytestmark = pytest.mark.docker

CHAPTER = "03_linear_regression.ipynb"
GRADING_LABEL = "org.course.grading"
# Runs as the student, in their kernel: fill in their own copy of chapter 03's first exercise, as they would.
ANSWER = f"""
import json, pathlib
path = pathlib.Path.home() / "course" / {CHAPTER!r}
nb = json.loads(path.read_text())
cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and 'check("03.cost_by_hand"' in "".join(c["source"]))
cell["source"] = "".join(cell["source"]).replace("my_cost = None", "my_cost = 0.525")
path.write_text(json.dumps(nb, indent=1))
"""
DIGEST = (f"import hashlib, pathlib\np = pathlib.Path.home() / 'course' / {CHAPTER!r}\n"
          "print(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)")


def class_csv(admin: HubClient) -> dict[str, dict[str, str]]:
    answer = admin.get("services/gradebook/grades.csv")
    assert answer.status_code == 200, answer.text[:300]
    return {row["student"]: row for row in csv.DictReader(io.StringIO(answer.text))}


def run(client: HubClient, kernel: str, code: str) -> str:
    out = client.run_cell(kernel, code, timeout=180)
    assert out.error is None, out.error
    return out.stdout


@pytest.fixture(scope="module")
def kernels(klass):
    return {who: klass[who].start_kernel() for who in ("ana", "ben")}


def test_a_check_in_a_students_kernel_reaches_the_gradebook_in_the_hubs_container(klass, kernels, admin):
    ana, ben = klass["ana"], klass["ben"]
    passed = run(ana, kernels["ana"], "from course.checks import check\nprint(check('03.cost_by_hand', 0.525).passed)")
    assert passed.strip() == "True"
    rows = wait_for(lambda: (r := class_csv(admin)).get(ana.name, {}).get("03.cost_by_hand_live") == "1" and r,
                    90, "ana's attempt showing in the gradebook")
    assert rows[ben.name]["03.cost_by_hand_live"] == ""
    assert ana.get("services/gradebook/").status_code == 200  # through the hub's OAuth
    mine = ana.get("services/gradebook/api/summary")
    assert mine.status_code == 200 and ana.name in mine.text and ben.name not in mine.text
    assert ana.get("services/gradebook/grades.csv").status_code == 403


def test_the_instructor_grades_in_a_throwaway_container(deployment, klass, kernels, admin):
    ana, ben = klass["ana"], klass["ben"]
    run(ana, kernels["ana"], ANSWER)
    before = run(ana, kernels["ana"], DIGEST)
    seen: list[dict] = []
    stop = threading.Event()

    def watch():  # inspect each grading container while it runs
        while not stop.is_set():
            listed = deployment.engine.docker("ps", "--quiet", "--filter", f"label={GRADING_LABEL}", check=False)
            for cid in listed.stdout.decode().split():
                if cid not in {s["Id"][:12] for s in seen}:
                    try:
                        seen.append(deployment.inspect(cid))
                    except Exception:  # noqa: BLE001 - it ended meanwhile
                        pass
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        done = deployment.exec("course", "hub", "grade", "03", "--students", ana.name, ben.name, timeout=900)
    finally:
        stop.set()
        watcher.join()
    seconds = time.monotonic() - started
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert run(ana, kernels["ana"], DIGEST) == before  # her own file is never touched

    rows = class_csv(admin)
    assert (rows[ana.name]["ch03_graded_status"], rows[ana.name]["03.cost_by_hand_graded"]) == ("graded", "1")
    assert rows[ben.name]["ch03_graded_status"] == "not started"  # his notebook is the course's, untouched
    assert rows[ana.name]["03.cost_by_hand_live"] == "1"

    # The run that graded her: a container of the course image with no network, her home read-only, the limits.
    graded = [c for c in seen if c["Config"]["Labels"].get(f"{GRADING_LABEL}.user") == ana.name]
    assert graded, f"no grading container of {ana.name} was seen running"
    box = graded[0]
    host = box["HostConfig"]
    assert box["Config"]["Image"] == deployment.settings.get("COURSE_SINGLEUSER_IMAGE", "course-singleuser:latest")
    assert host["NetworkMode"] == "none" and box["Config"]["User"] == "1000:100"
    mounts = {m["Destination"]: m for m in box["Mounts"]}
    assert (mounts["/home/jovyan"]["Name"], mounts["/home/jovyan"]["RW"]) == (f"course-home-{ana.name}", False)
    assert mounts["/srv/data"]["RW"] is False
    limit = registry.GRADE_MEM_LIMIT.read(deployment.settings)
    assert host["Memory"] == host["MemorySwap"] == limit and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"] and host["PidsLimit"] == 1024
    left = deployment.engine.docker("ps", "--all", "--quiet", "--filter", f"label={GRADING_LABEL}").stdout.split()
    assert left == []  # throwaway: removed after the run
    deployment.figures["grade_2_students_s"] = round(seconds, 1)
