"""The deployment as an instructor changes it: a new version of the course content reaches a student at their
next server start and their own edits win; with COURSE_GPU_POLICY=exclusive on an engine without an NVIDIA
runtime, a student's container carries exactly the device request the policy made and, when the engine refuses
it, the student reads one line saying why (the instructor's log too), and the GPU is given back; with
COURSE_IDLE_TIMEOUT the idle culler stops an idle student's container and their work is kept.

Each change is what an instructor does: edit the notebooks or `.env`, then `docker compose up -d` (with `--build`
for new notebooks). The module puts the `.env` back as it found it."""
from __future__ import annotations

import html
import json
import re
import time

import pytest

from testkit.compose_deployment import student_container
from testkit.hub_client import HubClient, enroll, wait_for

pytestmark = pytest.mark.docker

NEW_CHAPTER = "99_extra_practice.ipynb"
MARK_INSTRUCTOR = "A new hint from the instructor (강사의 새 힌트)."
MARK_STUDENT = "# my own notes on tensors"
EDIT_OWN = f"""
import json, pathlib
path = pathlib.Path.home() / "course" / "01_tensors.ipynb"
nb = json.loads(path.read_text())
nb["cells"].append({{"cell_type": "code", "execution_count": None, "metadata": {{}}, "outputs": [],
                     "source": {MARK_STUDENT!r}}})
path.write_text(json.dumps(nb, indent=1))
"""


def notebook(path) -> dict:
    return json.loads(path.read_text())


def file_text(client: HubClient, path: str) -> str:
    answer = client.server_api("GET", f"contents/{path}?content=1&format=text&type=file")
    assert answer.status_code == 200, f"{path}: {answer.status_code}"
    return answer.json()["content"]


def spawn_messages(client: HubClient, wait: float = 240.0) -> list[dict]:
    """Ask for the student's server and return the progress events their browser shows, up to ready or failed."""
    answer = client.api("POST", f"users/{client.name}/server")
    assert answer.status_code in (201, 202, 503), answer.text[:300]  # 503: refused before the API answered
    if answer.status_code == 503:
        assert answer.json()["message"].startswith("Your server was to get"), answer.text
    events: list[dict] = []
    reader = HubClient(client.base, timeout=wait)
    reader.name, reader.token = client.name, client.token
    with reader.api("GET", f"users/{client.name}/server/progress", stream=True) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                events.append(json.loads(line[len("data:"):]))
                if events[-1].get("ready") or events[-1].get("failed"):
                    break
    return events


def test_a_new_version_of_the_course_reaches_a_student_and_their_edits_win(instructor, admin, unique):
    cal, = enroll(admin, [unique("cal")])
    cal.start_server(300)
    kernel = cal.start_kernel()
    assert cal.run_cell(kernel, EDIT_OWN).error is None
    notebooks = instructor.checkout / "notebooks"
    changed = notebook(notebooks / "02_mnist.ipynb")
    changed["cells"].append({"cell_type": "markdown", "metadata": {}, "source": MARK_INSTRUCTOR})
    (notebooks / "02_mnist.ipynb").write_text(json.dumps(changed, indent=1, ensure_ascii=False))
    extra = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Extra practice"}],
             "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (notebooks / NEW_CHAPTER).write_text(json.dumps(extra, indent=1))
    # The instructor's update: the notebooks are in the hub's image; the hub commits them as a new version.
    instructor.compose("up", "-d", "--build")
    instructor.wait_for_hub()
    assert "new version of the notebooks committed" in instructor.logs()
    assert NEW_CHAPTER not in file_text_listing(cal)  # a running server is left alone until it restarts
    cal.stop_server()
    cal.start_server(300)
    assert NEW_CHAPTER in file_text_listing(cal)
    assert MARK_INSTRUCTOR in file_text(cal, "course/02_mnist.ipynb")
    assert MARK_STUDENT in file_text(cal, "course/01_tensors.ipynb")  # her own edit wins
    cal.stop_server()


def file_text_listing(client: HubClient) -> list[str]:
    return [entry["name"] for entry in client.server_api("GET", "contents/course").json()["content"]]


def test_a_gpu_the_engine_cannot_give_is_one_line_for_the_student_and_is_given_back(instructor, admin, unique):
    instructor.write_env(COURSE_GPU_POLICY="exclusive", COURSE_GPU_IDS="0")
    instructor.compose("up", "-d")
    instructor.wait_for_hub()
    gus, hal = enroll(admin, [unique("gus"), unique("hal")])
    started = time.monotonic()
    events = spawn_messages(gus)
    seconds = time.monotonic() - started
    assert events[-1].get("failed"), events  # no endless spinner
    message = events[-1]["message"]
    assert message.startswith("Spawn failed: Your server was to get GPU 0, but this machine's Docker engine "
                              "cannot give containers a GPU ("), message
    assert "Tell your instructor" in message and "\n" not in message and "Traceback" not in message
    # The container carries exactly the device request the policy made (and the GPU variables with it).
    info = instructor.inspect(student_container(gus.name))
    assert info["HostConfig"]["DeviceRequests"] == [
        {"Driver": "nvidia", "Count": 0, "DeviceIDs": ["0"], "Capabilities": [["gpu"]], "Options": {}}]
    env = dict(item.split("=", 1) for item in info["Config"]["Env"])
    assert env["NVIDIA_VISIBLE_DEVICES"] == "0" and env["COURSE_GPU_POLICY"] == "exclusive"
    assert env["COURSE_GPU_MEMORY_GROWTH"] == "1"
    assert not info["State"]["Running"]
    log = instructor.logs()
    assert f"Server for {gus.name} not started: Your server was to get GPU 0" in log
    # The GPU was given back: the next student is offered it too (not "every GPU is taken"); in the browser,
    # the spawn page says the same line.
    page = hal.http.get(hal.url("hub/spawn"), timeout=240)
    text = html.unescape(re.sub(r"<[^>]+>|\s+", " ", page.text))
    assert "Your server was to get GPU 0, but this machine's Docker engine cannot give containers a GPU" in text, \
        text[-1500:]
    assert "Traceback" not in text
    print(f"\nthe refusal reached the student in {seconds:.1f} s")


def test_the_idle_culler_stops_an_idle_students_container_and_keeps_their_work(instructor, admin, unique):
    instructor.write_env(COURSE_GPU_POLICY="none", COURSE_GPU_IDS="", COURSE_IDLE_TIMEOUT="60")
    instructor.compose("up", "-d")
    instructor.wait_for_hub()
    ida, = enroll(admin, [unique("ida")])
    ida.start_server(300)
    assert ida.run_cell(ida.start_kernel(), "open('work.txt', 'w').write('kept')").error is None
    container = student_container(ida.name)
    started = time.monotonic()
    wait_for(lambda: not (ida.api("GET", f"users/{ida.name}").json().get("servers") or {}), 300,
             "the idle culler stopping her server")
    culled = time.monotonic() - started
    gone = instructor.engine.docker("inspect", container, check=False)
    assert gone.returncode != 0  # the container is removed ...
    volumes = instructor.engine.docker("volume", "ls", "--format", "{{.Name}}").stdout.decode().split()
    assert f"course-home-{ida.name}" in volumes  # ... her home volume is not
    ida.start_server(300)
    assert file_text(ida, "work.txt") == "kept"
    print(f"\nculled {culled:.0f} s after her last cell (COURSE_IDLE_TIMEOUT=60)")
