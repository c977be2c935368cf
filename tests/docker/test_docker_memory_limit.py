"""COURSE_MEM_LIMIT in the compose deployment: a kernel allocating past it is the one process that dies. Its
server (the same process, in the same container), the student's files, their other kernel and another student
carry on; the container's cgroup counts the kill; the restarted kernel says why on its first cell, once, as in
local mode (singleuser/kernel_startup.py reads the container's own cgroup)."""
from __future__ import annotations

import json
import time

import pytest

from course import settings as registry
from testkit.compose_deployment import student_container
from testkit.hub_client import HubClient, run_until_the_kernel_dies, states_until_idle

pytestmark = pytest.mark.docker

SELF = ("import json, os\nprint(json.dumps({'pid': os.getpid(), 'server': os.getppid(), "
        "'oom_score_adj': int(open('/proc/self/oom_score_adj').read())}))")
# Allocates (and touches) 64 MiB at a time, up to 4 GiB: four times the limit.
ALLOCATE = "hog = []\nfor _ in range(64):\n    hog.append(b'x' * (64 * 1024 ** 2))\nprint('survived', len(hog))"


def about(client: HubClient, kernel: str) -> dict:
    out = client.run_cell(kernel, SELF)
    assert out.error is None, out.error
    return json.loads(out.stdout)


def oom_kills(deployment, container: str) -> int:
    text = deployment.shell(container, "cat /sys/fs/cgroup/memory/memory.oom_control")
    return int(text.split("oom_kill ")[1].split()[0])


def test_a_kernel_past_the_memory_limit_is_the_only_thing_that_dies(deployment, klass):
    ana, ben = klass["ana"], klass["ben"]
    limit = registry.MEM_LIMIT.read(deployment.settings)
    container = student_container(ana.name)
    hog, other, bens = ana.start_kernel(), ana.start_kernel(), ben.start_kernel()
    before, neighbour, bystander = about(ana, hog), about(ana, other), about(ben, bens)
    assert before["oom_score_adj"] == 500  # the kernel raised its own: it goes before its server
    assert ana.run_cell(other, "open('keep.txt', 'w').write('mine')").error is None
    started = deployment.inspect(container)["State"]["StartedAt"]
    kills = oom_kills(deployment, container)

    outcome, seconds = run_until_the_kernel_dies(ana, hog, ALLOCATE)
    assert outcome in ("restarting", "dead"), outcome
    assert oom_kills(deployment, container) == kills + 1  # one process was killed, in her container's cgroup
    peak = int(deployment.shell(container, "cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes"))
    assert peak >= 0.9 * limit
    state = deployment.inspect(container)["State"]
    assert state["Running"] and state["StartedAt"] == started  # the container was never restarted
    assert ana.server_api("GET", "status").status_code == 200
    assert about(ana, other)["pid"] == neighbour["pid"] and about(ana, other)["server"] == before["server"]
    assert ana.run_cell(other, "print(open('keep.txt').read())").stdout == "mine\n"

    seen = states_until_idle(ana, hog, 90)  # its server says "starting" until it answers, never the dead one's "busy"
    assert set(seen) <= {"starting", "idle"}, seen
    first, second = ana.run_cell(hog, "print('back')"), ana.run_cell(hog, "print('again')")
    assert ("Your previous kernel was stopped because it used more than 1.0 GiB, this server's memory limit"
            in first.stderr), first
    assert first.stdout.endswith("back\n") and second.stderr == ""
    assert about(ana, hog)["pid"] != before["pid"]
    assert ben.run_cell(bens, "print(6 * 7)").stdout == "42\n" and about(ben, bens)["pid"] == bystander["pid"]
    print(f"\nthe allocating kernel died after {seconds:.1f} s; peak {peak / 2**20:.0f} MiB; OOMKilled flag "
          f"{state.get('OOMKilled')}; {time.strftime('%H:%M:%S')}")
