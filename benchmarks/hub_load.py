"""Load test for the course hub in local mode: N students at once on loopback.

Starts a throw-away hub (temporary state folder, free ports), then every simulated student, all at the
same time: signs up, is approved by the instructor (the approval form), logs in, starts a server, starts
a kernel, runs one cell, and stops the server. Prints p50/p95 spawn time and cell latency, memory per
server (server + kernel RSS), and every failure. Bounded: the whole run stops after --timeout seconds.

    .venv/bin/python benchmarks/hub_load.py --students 30
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testkit.hub_client import HubClient  # noqa: E402
from testkit.temporary_hub import TemporaryHub  # noqa: E402

CELL = "import numpy as np\nprint(int(np.arange(1_000_000).sum()))"
EXPECTED = str(sum(range(1_000_000)))


@dataclass
class Outcome:
    name: str
    spawn: float | None = None
    kernel: float | None = None
    cell: float | None = None
    rss_mb: float | None = None
    stop: float | None = None
    error: str | None = None
    steps: list[str] = field(default_factory=list)


def server_rss_mb(user: str) -> float | None:
    """Resident memory of a student's server and its kernels (MB)."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            if not any("jupyterhub-singleuser" in part for part in (proc.info["cmdline"] or [])):
                continue
            if proc.environ().get("JUPYTERHUB_USER") != user:
                continue
            tree = [proc, *proc.children(recursive=True)]
            return sum(p.memory_info().rss for p in tree) / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def student(hub: TemporaryHub, name: str, approved: threading.Event, signed_up: list, out: Outcome) -> None:
    client = HubClient(hub.url, timeout=120)
    password = f"{name}-password"
    try:
        out.steps.append("signup")
        client.signup(name, password)
        signed_up.append(name)
        approved.wait()
        out.steps.append("login")
        client.login(name, password)
        client.new_token()
        out.steps.append("spawn")
        out.spawn = client.start_server(wait=300)
        out.steps.append("kernel")
        started = time.monotonic()
        kernel = client.start_kernel()
        out.kernel = time.monotonic() - started
        out.steps.append("cell")
        result = client.run_cell(kernel, CELL, timeout=180)
        if result.error or result.stdout.strip() != EXPECTED:
            raise RuntimeError(f"cell gave {result.error or result.stdout.strip()!r}")
        out.cell = result.seconds
        out.rss_mb = server_rss_mb(name)
        out.steps.append("stop")
        started = time.monotonic()
        client.stop_server(wait=120)
        out.stop = time.monotonic() - started
        out.steps.append("done")
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
        out.error = f"{out.steps[-1] if out.steps else 'start'}: {type(exc).__name__}: {str(exc)[:200]}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def summary(label: str, values: list[float], unit: str = "s") -> str:
    if not values:
        return f"{label:<22} no data"
    return (f"{label:<22} p50 {pct(values, 50):7.2f} {unit}   p95 {pct(values, 95):7.2f} {unit}   "
            f"max {max(values):7.2f} {unit}   (n={len(values)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20, help="simulated students (default 20)")
    parser.add_argument("--timeout", type=float, default=900, help="stop the run after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state folder and log")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")

    root = Path(tempfile.mkdtemp(prefix="course-hub-load-"))
    os.chmod(root, 0o755)
    hub = TemporaryHub(root, "load-admin-pw-1", {"COURSE_IDLE_TIMEOUT": "3600"})
    hub.notebooks.mkdir()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        shutil.copy(path, hub.notebooks / path.name)
    hub.data.mkdir()
    outcomes: list[Outcome] = []
    wall = 0.0
    try:
        t0 = time.monotonic()
        try:
            hub.start()
        except RuntimeError as exc:
            print(f"hub_load: the hub did not start: {exc}", file=sys.stderr)
            return 1
        print(f"hub up in {time.monotonic() - t0:.1f} s at {hub.url} (state {root})", flush=True)
        admin = HubClient(hub.url, timeout=120)
        admin.login("admin", hub.admin_password)
        tag = f"{os.getpid() % 10000:04d}"
        outcomes = [Outcome(f"s{tag}x{i:03d}") for i in range(args.students)]
        approved, signed_up = threading.Event(), []
        started = time.monotonic()
        pool = ThreadPoolExecutor(args.students)
        futures = [pool.submit(student, hub, o.name, approved, signed_up, o) for o in outcomes]
        deadline = started + args.timeout
        approved_names: set[str] = set()
        while time.monotonic() < deadline and len(approved_names) < args.students:
            for name in list(signed_up):
                if name not in approved_names:
                    admin.set_approval(name, True)
                    approved_names.add(name)
            if all(f.done() for f in futures):
                break
            time.sleep(0.2)
        approved.set()
        done, pending = wait(futures, timeout=max(1.0, deadline - time.monotonic()))
        wall = time.monotonic() - started
        for future, outcome in zip(futures, outcomes):
            if future in pending:
                outcome.error = outcome.error or f"{outcome.steps[-1]}: still running at the --timeout"
        pool.shutdown(wait=False, cancel_futures=True)
    finally:
        hub.stop_all_servers()
        hub.stop()
        hub.remove_system_users()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    ok = [o for o in outcomes if o.error is None]
    print()
    print(f"students {args.students} at once on {os.cpu_count()} CPU cores; wall time {wall:.1f} s; "
          f"load average now {os.getloadavg()[0]:.1f}")
    print(summary("spawn (start->ready)", [o.spawn for o in outcomes if o.spawn is not None]))
    print(summary("kernel start", [o.kernel for o in outcomes if o.kernel is not None]))
    print(summary("cell latency", [o.cell for o in outcomes if o.cell is not None]))
    print(summary("stop", [o.stop for o in outcomes if o.stop is not None]))
    print(summary("RSS per server+kernel", [o.rss_mb for o in outcomes if o.rss_mb is not None], "MB"))
    print(f"completed {len(ok)}/{len(outcomes)}; failures {len(outcomes) - len(ok)}")
    for o in outcomes:
        if o.error:
            print(f"  FAIL {o.name}: {o.error}")
    return 0 if len(ok) == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
