"""A class in the compose deployment: every student gets a container of their own from the course image, with
their own home volume, the shared data and the course content read-only, the memory and CPU limits (in
`docker inspect` and in the container's own cgroup files), as the non-root jovyan with no new privileges and no
capabilities, on the hub's internal network; a cell runs over the kernel's websocket through the hub's proxy;
a student gets 403 on another's server."""
from __future__ import annotations

import json

import pytest

from course import settings as registry
from testkit.compose_deployment import student_container

pytestmark = pytest.mark.docker

ABOUT = """
import json, os, socket
try:
    socket.create_connection(("pypi.org", 443), timeout=5).close()
    outside = "reached"
except OSError as exc:
    outside = type(exc).__name__
try:
    open("/srv/data/mine.txt", "w")
    data_write = "written"
except OSError as exc:
    data_write = exc.strerror
print(json.dumps({"uid": os.getuid(), "home": os.path.expanduser("~"), "cwd": os.getcwd(),
                  "host": socket.gethostname(), "data": sorted(os.listdir("/srv/data")),
                  "course": sorted(n for n in os.listdir(os.path.expanduser("~/course")) if n.endswith(".ipynb")),
                  "outside": outside, "data_write": data_write,
                  "env": {k: v for k, v in os.environ.items() if k.startswith(("COURSE_", "NVIDIA_", "CUDA_"))}}))
"""


def test_each_student_has_a_container_of_their_own(deployment, klass):
    limit = registry.MEM_LIMIT.read(deployment.settings)
    homes = set()
    for client in (klass["ana"], klass["ben"]):
        info = deployment.inspect(student_container(client.name))
        assert info["State"]["Running"] and info["Config"]["Image"] == "course-singleuser:latest"
        assert info["Config"]["User"] == "1000:100"  # jovyan
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert set(mounts) == {"/home/jovyan", "/srv/data", "/srv/course-content"}  # no Docker socket, nothing else
        home = mounts["/home/jovyan"]
        assert (home["Type"], home["Name"], home["RW"]) == ("volume", f"course-home-{client.name}", True)
        homes.add(home["Name"])
        assert (mounts["/srv/data"]["Name"], mounts["/srv/data"]["RW"]) == ("course-data", False)
        assert (mounts["/srv/course-content"]["Name"], mounts["/srv/course-content"]["RW"]) == ("course-content", False)
        host = info["HostConfig"]
        assert host["Memory"] == limit and host["MemorySwap"] == limit  # no swap past the limit
        assert host["CpuQuota"] == host["CpuPeriod"] == 100_000 or host["NanoCpus"] == 10 ** 9
        assert "no-new-privileges" in host["SecurityOpt"] and host["CapDrop"] == ["ALL"]
        assert host["NetworkMode"] == "course-hub" and not host["Privileged"]
        # The limits as the container's own cgroup files say them, and who runs inside it.
        name = student_container(client.name)
        cgroup = deployment.shell(name, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")
        assert cgroup.split() == [str(limit), "100000", "100000"]
        status = deployment.shell(name, "cat /proc/1/status")
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert fields["Uid"].split()[0] == "1000" and fields["NoNewPrivs"].strip() == "1"
        assert int(fields["CapEff"].strip(), 16) == 0
        assert "tini" in deployment.shell(name, "cat /proc/1/cmdline")  # an init reaps the kernels' orphans
    assert len(homes) == 2
    network = json.loads(deployment.engine.docker("network", "inspect", "course-hub").stdout)[0]
    assert network["Internal"] is True


def test_a_cell_runs_in_the_students_container_through_the_proxy(deployment, klass):
    ana = klass["ana"]
    out = ana.run_cell(ana.start_kernel(), ABOUT)
    assert out.error is None, out.error
    seen = json.loads(out.stdout)
    container = deployment.inspect(student_container(ana.name))
    assert container["Id"].startswith(seen["host"])  # it ran in her container
    assert (seen["uid"], seen["home"], seen["cwd"]) == (1000, "/home/jovyan", "/home/jovyan")
    assert {"mnist", "fashion-mnist"} <= set(seen["data"]) and seen["data_write"] == "Read-only file system"
    assert "00_setup.ipynb" in seen["course"] and "03_linear_regression.ipynb" in seen["course"]
    assert seen["outside"] != "reached"  # the students' network has no route out of the machine
    env = seen["env"]
    assert env["COURSE_DATA_DIR"] == "/srv/data" and env["COURSE_CONTENT_REPO"] == "file:///srv/course-content"
    assert env["COURSE_GRADEBOOK_URL"].startswith("http://jupyterhub:")
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void" and env["CUDA_VISIBLE_DEVICES"] == ""  # policy none: no GPU


def test_a_student_cannot_open_another_students_server(klass):
    ana, ben = klass["ana"], klass["ben"]
    assert ben.server_api("GET", "status", user=ana.name).status_code == 403  # with his token
    ben_browser = ben.http.get(ben.url(f"user/{ana.name}/api/status"), allow_redirects=False, timeout=60)
    assert ben_browser.status_code in (302, 403)
    if ben_browser.status_code == 302:  # through the hub's OAuth: refused there
        refused = ben.http.get(ben.url(f"user/{ana.name}/lab"), timeout=60)
        assert refused.status_code == 403
    assert ana.server_api("GET", "status").status_code == 200
