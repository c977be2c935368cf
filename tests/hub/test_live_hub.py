"""The real hub in local mode on loopback: sign-up and approval, spawning, kernels, content sync,
isolation, TensorBoard, the idle culler, kernel culling and a hub restart.

One hub runs for the session (`live_hub`); two students, ana and ben, are set up once for the module.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hub import accounts
from hub.settings import load_settings
from testkit.hub_client import HubClient

pytestmark = pytest.mark.hub

CELL_ENV = """
import os, sys, pwd
print(json.dumps({
    "uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name, "home": os.environ["HOME"],
    "cwd": os.getcwd(), "data": os.environ.get("COURSE_DATA_DIR"),
    "tb": os.environ.get("TENSORBOARD_PROXY_URL"), "growth": os.environ.get("COURSE_GPU_MEMORY_GROWTH"),
    "tf_growth": os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH"), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "policy": os.environ.get("COURSE_GPU_POLICY"),
    "gpu_hook": any(type(f).__name__ == "_AfterImport" for f in sys.meta_path),
    "tf_loaded": "tensorflow" in sys.modules,
}))
"""


def _env(client: HubClient, kernel: str) -> dict:
    out = client.run_cell(kernel, "import json" + CELL_ENV)
    assert out.error is None, out.error
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def pair(live_hub, admin, unique):
    """ana and ben sign up, wait for approval, get approved through the form, log in and spawn."""
    notes = {}
    students = {}
    for prefix in ("ana", "ben"):
        name = unique(prefix)
        client = HubClient(live_hub.url)
        notes[f"{prefix}_signup"] = client.signup(name, f"{name}-password")
        notes[f"{prefix}_before"] = client.login_error(name, f"{name}-password")
        students[prefix] = (name, client)
    ana_name, ben_name = students["ana"][0], students["ben"][0]
    admin.set_approval(ana_name, True)
    admin.set_approval(ana_name, True)  # a second click must not revoke it
    admin.set_approval(ben_name, True)
    for name, client in students.values():
        client.login(name, f"{name}-password")
        client.new_token()
    with ThreadPoolExecutor(2) as pool:
        times = dict(zip(students, pool.map(lambda s: s[1].start_server(), students.values())))
    ben = students["ben"][1]
    cull_kernel = ben.start_kernel()  # left idle on purpose: the kernel culler must remove it
    return {"notes": notes, "ana": students["ana"][1], "ben": ben, "spawn_seconds": times,
            "cull_kernel": (cull_kernel, time.monotonic())}


def test_signup_waits_for_approval_and_approving_twice_keeps_it(pair, live_hub, admin, unique):
    notes = pair["notes"]
    assert notes["ana_signup"] == "Your account was created. An instructor must approve it before you can log in."
    assert "has not been approved by an instructor yet" in notes["ana_before"]
    ana = pair["ana"]
    assert ana.api("GET", f"users/{ana.name}").json()["name"] == ana.name
    page = admin.get("hub/authorize").text
    assert f'id="{ana.name}" class="success"' in page  # approved once, after two approvals
    # revoking sets the state too: the account can no longer log in
    name = unique("cy")
    cy = HubClient(live_hub.url)
    cy.signup(name, "cy-password-1")
    admin.set_approval(name, True)
    assert cy.login_error(name, "cy-password-1") is None
    admin.set_approval(name, False)
    assert "not been approved" in HubClient(live_hub.url).login_error(name, "cy-password-1")
    # a GET on the old toggle link changes nothing
    admin.get(f"hub/authorize/{name}")
    assert "not been approved" in HubClient(live_hub.url).login_error(name, "cy-password-1")
    # admin names cannot be taken through sign-up
    assert "reserved" in HubClient(live_hub.url).signup("admin", "whatever-123")


def test_repeated_failed_logins_lock_the_account(live_hub, unique):
    name = unique("dee")
    client = HubClient(live_hub.url)
    client.signup(name, "dee-password-1")
    settings = load_settings({"COURSE_HUB_STATE_DIR": str(live_hub.state)})
    db = accounts.open_db(settings)
    accounts.set_approval(db, name, True)  # the CLI's way, while the hub runs
    db.close()
    for _ in range(2):
        assert client.login_error(name, "wrong-password") == "Invalid username or password."
    assert client.login_error(name, "wrong-password").startswith("Too many failed logins")  # third
    error = client.login_error(name, "dee-password-1")  # now even the right password is refused
    assert error.startswith(f"Too many failed logins for {name}: try again in about 10 minute(s)")


def test_roster_accounts_must_change_their_one_time_password(live_hub, tmp_path, monkeypatch, unique):
    from hub.cli import main

    name = unique("eli")
    roster = tmp_path / "roster.csv"
    roster.write_text(f"username,name\n{name},Eli\n")
    out = tmp_path / "passwords.csv"
    monkeypatch.setenv("COURSE_HUB_STATE_DIR", str(live_hub.state))
    assert main(["users", "add", "--from", str(roster), "--out", str(out)]) == 0
    password = out.read_text().splitlines()[1].split(",")[1]
    client = HubClient(live_hub.url)
    answer = client.login(name, password)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/hub/change-password")
    client.new_token()
    refused = client.api("POST", f"users/{name}/server")
    assert refused.status_code == 403 and "change your one-time password" in refused.text
    client.token = None
    changed = client.post_form("hub/change-password", {"old_password": password, "new_password": "eli-own-pw-1",
                                                       "new_password_confirmation": "eli-own-pw-1"})
    assert "changed successfully" in changed.text
    again = HubClient(live_hub.url).login(name, "eli-own-pw-1")
    assert not again.headers["Location"].endswith("change-password")


def test_each_student_runs_as_their_own_user_with_the_course_environment(pair, live_hub):
    ana, ben = pair["ana"], pair["ben"]
    ka, kb = ana.start_kernel(), ben.start_kernel()
    ea, eb = _env(ana, ka), _env(ben, kb)
    assert ea["home"] == str(live_hub.state / "homes" / ana.name) and ea["cwd"] == ea["home"]
    assert ea["data"] == str(live_hub.data) and ea["tb"] == f"/user/{ana.name}/proxy/%PORT%/"
    # COURSE_GPU_POLICY=none (the default): no GPU, so no GPU memory settings and no hook to apply them, as
    # in Docker mode (a server with a GPU gets both: tests/hub/test_limits_live.py).
    assert ea["cuda"] == "" and ea["policy"] == "none" and ea["growth"] is None and ea["tf_growth"] is None
    assert ea["gpu_hook"] is False and ea["tf_loaded"] is False  # the start-up never imports TensorFlow
    if os.geteuid() == 0:
        assert ea["uid"] != eb["uid"] and ea["uid"] != 0
        assert (ea["user"], eb["user"]) == (f"course-{ana.name}", f"course-{ben.name}")
        peek = ana.run_cell(ka, f"import os\nos.listdir({eb['home']!r})")
        assert peek.error and peek.error.startswith("PermissionError")
        write = ana.run_cell(ka, f"open(os.path.join({ea['data']!r}, 'mnist', 'x.txt'), 'w')")
        assert write.error and write.error.startswith("PermissionError")
    read = ana.run_cell(ka, f"print(open(os.path.join({ea['data']!r}, 'mnist', 'README.txt')).read())")
    assert read.stdout == "shared dataset\n\n"


def test_students_get_403_on_each_others_server_and_so_do_admins(pair, admin):
    ana, ben = pair["ana"], pair["ben"]
    assert ben.server_api("GET", "kernels", user=ana.name).status_code == 403
    assert ana.server_api("GET", "kernels").status_code == 200
    assert ben.http.get(ben.url(f"user/{ana.name}/lab")).status_code == 403
    assert ben.api("GET", f"users/{ana.name}").status_code == 404  # not even visible
    assert admin.http.get(admin.url(f"user/{ana.name}/lab")).status_code == 403
    listing = admin.api("GET", "users")
    assert listing.status_code == 200 and ana.name in {u["name"] for u in listing.json()}


def _course(live_hub, name: str) -> Path:
    return live_hub.state / "homes" / name / "course"


def test_content_sync_keeps_edits_restores_deletions_and_brings_updates(pair, live_hub):
    ana = pair["ana"]
    course = _course(live_hub, ana.name)
    chapters = sorted(p.name for p in live_hub.notebooks.glob("*.ipynb"))
    assert sorted(p.name for p in course.glob("*.ipynb")) == chapters
    assert len(chapters) >= 3, "needs three notebooks to edit, delete and update"
    edited, deleted, updated = chapters[0], chapters[1], chapters[2]
    kernel = ana.start_kernel()
    student = ana.run_cell(kernel, f"""
import json, os
os.chdir(os.path.expanduser('~/course'))
nb = json.load(open({edited!r}))
nb['cells'][0]['source'] = ['# MY OWN NOTES\\n'] + nb['cells'][0]['source']
json.dump(nb, open({edited!r}, 'w'), indent=1)
os.remove({deleted!r})
open('99_new_chapter.ipynb', 'w').write('my scratch file\\n')
""")
    assert student.error is None, student.error
    # the instructor publishes an update: a changed chapter and a new one
    nb = json.loads((live_hub.notebooks / updated).read_text())
    nb["cells"][-1]["source"] = ["# UPDATED BY THE INSTRUCTOR\n"]
    (live_hub.notebooks / updated).write_text(json.dumps(nb, indent=1) + "\n")
    new = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Chapter 99\n"]}],
           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (live_hub.notebooks / "99_new_chapter.ipynb").write_text(json.dumps(new, indent=1) + "\n")
    ana.stop_server()
    ana.start_server()
    assert "# MY OWN NOTES" in (course / edited).read_text()
    assert (course / deleted).is_file()
    assert "UPDATED BY THE INSTRUCTOR" in (course / updated).read_text()
    assert "# Chapter 99" in (course / "99_new_chapter.ipynb").read_text()
    renamed = list(course.glob("99_new_chapter__*.ipynb"))
    assert len(renamed) == 1 and renamed[0].read_text() == "my scratch file\n"
    if os.geteuid() == 0:
        owner = (course / edited).stat().st_uid
        assert owner == (live_hub.state / "homes" / ana.name).stat().st_uid != 0


def test_tensorboard_and_proxied_ports_work_under_the_server_prefix(pair):
    ben = pair["ben"]
    headers = {"Authorization": f"token {ben.token}"}
    board = ben.http.get(ben.url(f"user/{ben.name}/tensorboard/"), headers=headers, timeout=180)
    assert board.status_code == 200 and "tb-relative-root" in board.text
    kernel = ben.start_kernel()
    serve = ben.run_cell(kernel, (
        "import http.server, socketserver, threading\n"
        "srv = socketserver.TCPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
        "threading.Thread(target=srv.serve_forever, daemon=True).start()\n"
        "print(srv.server_address[1])"))
    port = serve.stdout.strip()
    proxied = ben.http.get(ben.url(f"user/{ben.name}/proxy/{port}/"), headers=headers)
    assert proxied.status_code == 200 and "Directory listing" in proxied.text
    languages = ben.http.get(ben.url(f"user/{ben.name}/lab/api/translations/"), headers=headers).json()
    assert "ko_KR" in languages["data"]


def test_idle_culler_is_registered_and_running(live_hub):
    services = live_hub.tools_api("GET", "services").json()
    culler = services["idle-culler"]
    assert culler["command"][1:3] == ["-m", "jupyterhub_idle_culler"] and "--timeout=3600" in culler["command"]
    assert culler["pid"] > 0  # started and managed by the hub
    assert "idle-culler@127.0.0.1" in live_hub.log_text()  # it has called the hub API


def test_secrets_are_private_and_never_logged(live_hub):
    folder = live_hub.state / "secrets"
    log = live_hub.log_text()
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.read_text().strip() not in log
    assert live_hub.admin_password not in log


def test_hub_restart_keeps_running_servers(pair, live_hub):
    ben = pair["ben"]
    kernel = ben.start_kernel()
    assert ben.run_cell(kernel, "x = 42").error is None
    live_hub.restart()
    info = ben.api("GET", f"users/{ben.name}").json()
    assert info["servers"][""]["ready"] is True
    assert ben.run_cell(kernel, "print(x)").stdout == "42\n"  # same server, same kernel


def test_idle_kernels_are_culled(pair):
    ben = pair["ben"]
    kernel, created = pair["cull_kernel"]
    deadline = created + 120 + 30 + 60  # timeout + cull interval + slack
    while time.monotonic() < deadline:
        ids = {k["id"] for k in ben.server_api("GET", "kernels").json()}
        if kernel not in ids:
            return
        time.sleep(5)
    pytest.fail("an idle kernel was not culled within the configured timeout")
