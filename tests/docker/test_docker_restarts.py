"""Restarts of the compose deployment: `docker compose restart jupyterhub` leaves running students' containers
running (the same containers, never restarted) and routes them again through the new proxy; `docker compose down`
then `up -d` keeps the accounts, the students' files and the gradebook (and, as the students' network is the
hub's own, their running servers too)."""
from __future__ import annotations

import csv
import io

import pytest

from testkit.compose_deployment import student_container
from testkit.hub_client import HubClient

pytestmark = pytest.mark.docker


def started_at(deployment, name: str) -> tuple[str, str]:
    info = deployment.inspect(student_container(name))
    assert info["State"]["Running"], f"{name}'s container stopped"
    return info["Id"], info["State"]["StartedAt"]


def test_a_hub_restart_keeps_students_containers_running_and_routed(deployment, klass):
    ana = klass["ana"]
    kernel = ana.start_kernel()
    assert ana.run_cell(kernel, "x = 41").error is None
    before = started_at(deployment, ana.name)
    deployment.compose("restart", "jupyterhub")
    deployment.wait_for_hub()
    assert started_at(deployment, ana.name) == before  # the same container, never restarted
    out = ana.run_cell(kernel, "print(x + 1)")  # the same kernel, through the restarted hub's new proxy
    assert out.error is None and out.stdout == "42\n"


def test_down_and_up_keep_accounts_files_and_the_gradebook(deployment, klass):
    ana, ben = klass["ana"], klass["ben"]
    kernel = ana.start_kernel()
    code = ("open('down-up.txt', 'w').write('kept')\nfrom course.checks import check\n"
            "print(check('03.cost_by_hand', 0.525).passed)")
    assert ana.run_cell(kernel, code).stdout.strip() == "True"
    admin = HubClient(deployment.url, timeout=120)
    admin.login("admin", deployment.settings["COURSE_HUB_ADMIN_PASSWORD"])
    admin.get("services/gradebook/")
    deadline_rows = _rows_when(admin, lambda rows: rows.get(ana.name, {}).get("03.cost_by_hand_live") == "1")
    before = started_at(deployment, ben.name)

    down = deployment.compose("down")
    assert "error" not in (down.stdout + down.stderr).lower(), down.stdout + down.stderr
    assert started_at(deployment, ben.name) == before  # students' servers carry on while the hub is down
    deployment.up()

    again = HubClient(deployment.url, timeout=120)  # a new session: the account is still there
    again.login(ana.name, f"{ana.name}-password")
    again.new_token()
    assert again.server_api("GET", "contents/down-up.txt?content=1").json()["content"] == "kept"
    admin = HubClient(deployment.url, timeout=120)
    admin.login("admin", deployment.settings["COURSE_HUB_ADMIN_PASSWORD"])
    assert admin.get("services/gradebook/").status_code == 200
    rows = _rows_when(admin, lambda rows: rows.get(ana.name, {}).get("03.cost_by_hand_live") == "1")
    assert rows[ana.name] == deadline_rows[ana.name]  # the gradebook is the same
    assert started_at(deployment, ben.name) == before
    assert ben.run_cell(ben.start_kernel(), "print(6 * 7)").stdout == "42\n"  # and routed again


def _rows_when(admin: HubClient, condition, seconds: float = 90) -> dict[str, dict[str, str]]:
    from testkit.hub_client import wait_for

    def rows():
        answer = admin.get("services/gradebook/grades.csv")
        found = {row["student"]: row for row in csv.DictReader(io.StringIO(answer.text))} \
            if answer.status_code == 200 else {}
        return found if condition(found) else None

    return wait_for(rows, seconds, "the gradebook's row")
