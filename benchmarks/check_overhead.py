"""What live reporting costs a student's cell: `check()` timed in a real kernel on a real hub, side by side.

Starts a throw-away hub on loopback (local mode), one student with a running server, and times `check()` in
that student's kernel in three ways, in one run: without live reporting (the kernel as in plain JupyterLab),
with live reporting to the running gradebook, and with the gradebook stopped (SIGSTOP: it accepts
connections and never answers). Prints the median and p95 of each, and whether every attempt arrived.

    .venv/bin/python benchmarks/check_overhead.py --checks 300
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testkit.hub_client import HubClient  # noqa: E402
from testkit.temporary_hub import TemporaryHub  # noqa: E402

TIMING_CELL = """
import json, os, statistics, time
from course import settings
from course.checks import check, progress, reporting
saved = os.environ.get(settings.GRADEBOOK_URL.name)
if not {reporting_on!r}:
    os.environ.pop(settings.GRADEBOOK_URL.name, None)   # this kernel now reports nothing, like plain JupyterLab
check("02.pixel_mean", 0.13)                           # warm: modules loaded, sender started
times = []
for i in range({n}):
    start = time.perf_counter()
    check("02.pixel_mean", 0.13 if i % 2 else 0.5)
    times.append(time.perf_counter() - start)
if saved is not None:
    os.environ[settings.GRADEBOOK_URL.name] = saved
times.sort()
print(json.dumps({{"median_ms": statistics.median(times) * 1000, "p95_ms": times[int(len(times) * 0.95)] * 1000,
                  "waiting": len(progress.waiting_attempts())}}))
"""
WAIT_CELL = """
import time
from course.checks import progress, reporting
reporting.report_soon()
deadline = time.monotonic() + {seconds}
while progress.waiting_attempts() and time.monotonic() < deadline:
    time.sleep(0.2)
print(len(progress.waiting_attempts()))
"""


def _gradebook(hub: TemporaryHub) -> psutil.Process:
    for proc in psutil.Process(hub.proc.pid).children(recursive=True):
        if "hub.gradebook.service" in " ".join(proc.cmdline()):
            return proc
    raise RuntimeError("the hub runs no gradebook service")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300, help="check() calls timed in each way (default 300)")
    args = parser.parse_args(argv)
    if args.checks < 10:
        parser.error("--checks must be at least 10")
    root = Path(tempfile.mkdtemp(prefix="course-check-overhead-"))
    os.chmod(root, 0o755)
    hub = TemporaryHub(root, "bench-admin-pw-1")
    hub.notebooks.mkdir()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        shutil.copy(path, hub.notebooks / path.name)
    hub.data.mkdir()
    rows = []
    try:
        try:
            hub.start()
        except RuntimeError as exc:
            print(f"check_overhead: the hub did not start: {exc}", file=sys.stderr)
            return 1
        admin = HubClient(hub.url, timeout=120)
        admin.login("admin", hub.admin_password)
        student = HubClient(hub.url, timeout=120)
        name = f"bench{os.getpid() % 10000:04d}"
        student.signup(name, f"{name}-password")
        admin.set_approval(name, True)
        student.login(name, f"{name}-password")
        student.new_token()
        student.start_server()
        kernel = student.start_kernel()

        def timed(label: str, reporting_on: bool) -> dict:
            out = student.run_cell(kernel, TIMING_CELL.format(n=args.checks, reporting_on=reporting_on), timeout=600)
            if out.error:
                raise RuntimeError(out.error)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((label, result))
            return result

        timed("reporting off (plain JupyterLab)", False)
        timed("reporting on, gradebook running", True)
        service = _gradebook(hub)
        service.send_signal(signal.SIGSTOP)
        try:
            timed("reporting on, gradebook stopped", True)
        finally:
            service.send_signal(signal.SIGCONT)
        left = student.run_cell(kernel, WAIT_CELL.format(seconds=120), timeout=180).stdout.strip()
    finally:
        hub.stop_all_servers()
        hub.stop()
        hub.remove_system_users()
        shutil.rmtree(root, ignore_errors=True)

    print(f"check() in a student's kernel, {args.checks} calls each, on {os.cpu_count()} CPU cores:")
    for label, result in rows:
        print(f"  {label:<36} median {result['median_ms']:6.2f} ms   p95 {result['p95_ms']:6.2f} ms")
    print(f"attempts still waiting once the gradebook was back: {left} (0: every attempt delivered)")
    return 0 if left == "0" else 1


if __name__ == "__main__":
    sys.exit(main())
