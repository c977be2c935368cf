"""Load test for the course hub in local mode: N students at once on loopback, optionally against a stock hub.

Starts a throw-away hub (temporary state folder, free ports), then every simulated student, all at the
same time: signs up, is approved by the instructor (the approval form), logs in, starts a server, starts
a kernel, runs one cell, and stops the server. Prints p50/p95 spawn time and cell latency, memory per
server (server + kernel RSS), and every failure. Bounded: the whole run (every hub's start and class)
stops after --timeout seconds, shared out evenly between the classes still to run; cleaning up after a class
(stopping servers, the hub, removing system users) takes at most about two minutes more.

With --baseline the same class (the same N, the same steps but sign-up and approval, which a stock hub has
not) also runs against a stock JupyterHub from the same environment (`benchmarks/stock_hub_config.py`:
DummyAuthenticator, SimpleLocalProcessSpawner, no content sync, nothing of the course's configuration), one
hub after the other in this run, and both tables are printed, ending with the line
`ratio p95 spawn course/stock: X.XX`. --rounds R runs R rounds, each hub once per round, alternating which
goes first (stock, course, course, stock, ...), and pools each hub's students. With --stock-without-iri
the stock servers also skip jsonschema's optional IRI checker, the one start-up cost the course's server
command removes (`singleuser/server_command.py`), so that the ratio shows only what the course adds.

    .venv/bin/python benchmarks/hub_load.py --students 30
    .venv/bin/python benchmarks/hub_load.py --students 30 --baseline --rounds 2
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testkit.hub_client import HubClient  # noqa: E402
from testkit.temporary_hub import TemporaryHub, free_port_block, stop_process, wait_until_up  # noqa: E402

STOCK_CONFIG = Path(__file__).resolve().parent / "stock_hub_config.py"
CELL = "import numpy as np\nprint(int(np.arange(1_000_000).sum()))"
EXPECTED = str(sum(range(1_000_000)))
COURSE, STOCK = "course", "stock"


@dataclass
class Outcome:
    name: str
    login: float | None = None
    spawn: float | None = None
    kernel: float | None = None
    cell: float | None = None
    rss_mb: float | None = None
    stop: float | None = None
    error: str | None = None
    steps: list[str] = field(default_factory=list)


@dataclass
class ClassRun:
    """One class against one hub: every student's outcome and the run's wall time."""

    hub: str
    outcomes: list[Outcome]
    wall: float = 0.0
    load: float = 0.0


class StockHub:
    """A stock JupyterHub (`stock_hub_config.py`) in a subprocess, with its state under `root`."""

    def __init__(self, root: Path, password: str, without_iri: bool = False):
        self.root = root
        self.state = root / "state"
        self.log_path = root / "hub.log"
        self.port = free_port_block()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.password = password
        self.token = secrets.token_hex(32)
        self.proc: subprocess.Popen | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "JUPYTER"))}
        self.env.update({"STOCK_HUB_STATE": str(self.state), "STOCK_HUB_PORT": str(self.port),
                         "STOCK_HUB_PASSWORD": password, "STOCK_HUB_TOKEN": self.token,
                         "STOCK_HUB_WITHOUT_IRI": "1" if without_iri else "0"})

    def start(self, wait: float = 240.0) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "homes").mkdir(exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(STOCK_CONFIG)],
                                         cwd=self.state, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        wait_until_up(self.proc, self.url, wait, "stock hub", self.log_tail)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def api(self, method: str, path: str) -> requests.Response:
        return requests.request(method, self.url + "hub/api/" + path, timeout=60,
                                headers={"Authorization": f"token {self.token}"})

    def stop_all_servers(self, wait: float = 90.0) -> None:
        try:
            users = self.api("GET", "users").json()
            for user in users:
                if user.get("servers"):
                    self.api("DELETE", f"users/{user['name']}/server")
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(u.get("servers") for u in self.api("GET", "users").json()):
                time.sleep(1)
        except (requests.RequestException, ValueError):
            pass

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_process(self.proc)
        self.kill_leftovers()

    def kill_leftovers(self) -> None:
        """End any server the hub left behind (each runs in a session of its own, with HOME in this state)."""
        import psutil

        homes = str(self.state / "homes") + os.sep
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.pid != os.getpid() and proc.environ().get("HOME", "").startswith(homes):
                    proc.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue


def server_rss_mb(user: str) -> float | None:
    """Resident memory of a student's server and its kernels (MB)."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            if not any(("jupyterhub-singleuser" in part or "jupyterhub.singleuser" in part)
                       for part in (proc.info["cmdline"] or [])):
                continue
            if proc.environ().get("JUPYTERHUB_USER") != user:
                continue
            tree = [proc, *proc.children(recursive=True)]
            return sum(p.memory_info().rss for p in tree) / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def student(url: str, name: str, password: str, out: Outcome,
            approved: threading.Event | None = None, signed_up: list | None = None,
            memory: Callable[[str], float | None] = server_rss_mb) -> None:
    """One student's class: (sign up and wait for approval,) log in, spawn, kernel, a cell, stop.
    Without `approved` (a stock hub) there is no sign-up: the login is the first step. `memory(name)` gives
    the MB the student's server and kernel hold (local processes by default)."""
    client = HubClient(url, timeout=120)
    try:
        if approved is not None:
            out.steps.append("signup")
            client.signup(name, password)
            signed_up.append(name)
            approved.wait()
        out.steps.append("login")
        started = time.monotonic()
        client.login(name, password)
        out.login = time.monotonic() - started
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
        out.rss_mb = memory(name)
        out.steps.append("stop")
        started = time.monotonic()
        client.stop_server(wait=120)
        out.stop = time.monotonic() - started
        out.steps.append("done")
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
        out.error = f"{out.steps[-1] if out.steps else 'start'}: {type(exc).__name__}: {str(exc)[:200]}"


def run_class(kind: str, hub, students: int, timeout: float, admin: HubClient | None = None,
              password: str | None = None, memory: Callable[[str], float | None] = server_rss_mb) -> ClassRun:
    """Every student at once against `hub`; on the course hub `admin` approves each sign-up as it comes."""
    tag = f"{os.getpid() % 10000:04d}{secrets.randbelow(100):02d}"
    prefix = "s" if kind == COURSE else "b"
    run = ClassRun(kind, [Outcome(f"{prefix}{tag}x{i:03d}") for i in range(students)])
    approved, signed_up = threading.Event(), []
    started = time.monotonic()
    pool = ThreadPoolExecutor(students)
    futures = []
    for o in run.outcomes:
        secret = password or f"{o.name}-password"
        if kind == COURSE:
            futures.append(pool.submit(student, hub.url, o.name, secret, o, approved, signed_up, memory))
        else:
            futures.append(pool.submit(student, hub.url, o.name, secret, o))
    deadline = started + timeout
    if admin is not None:
        approved_names: set[str] = set()
        while time.monotonic() < deadline and len(approved_names) < students:
            for name in list(signed_up):
                if name not in approved_names:
                    admin.set_approval(name, True)
                    approved_names.add(name)
            if all(f.done() for f in futures):
                break
            time.sleep(0.2)
        approved.set()
    done, pending = wait(futures, timeout=max(1.0, deadline - time.monotonic()))
    run.wall = time.monotonic() - started
    run.load = os.getloadavg()[0]
    for future, outcome in zip(futures, run.outcomes):
        if future in pending:
            step = outcome.steps[-1] if outcome.steps else "start"
            outcome.error = outcome.error or f"{step}: still running at the --timeout"
    pool.shutdown(wait=False, cancel_futures=True)
    return run


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


def report(runs: list[ClassRun], title: str | None = None) -> list[str]:
    """The table for one hub's class (several runs of it are pooled)."""
    outcomes = [o for run in runs for o in run.outcomes]
    ok = [o for o in outcomes if o.error is None]
    walls = ", ".join(f"{run.wall:.1f}" for run in runs)
    lines = [title] if title else []
    lines += [
        f"students {len(runs[0].outcomes)} at once on {os.cpu_count()} CPU cores; wall time {walls} s; "
        f"load average after {', '.join(f'{run.load:.1f}' for run in runs)}",
        summary("login", [o.login for o in outcomes if o.login is not None]),
        summary("spawn (start->ready)", [o.spawn for o in outcomes if o.spawn is not None]),
        summary("kernel start", [o.kernel for o in outcomes if o.kernel is not None]),
        summary("cell latency", [o.cell for o in outcomes if o.cell is not None]),
        summary("stop", [o.stop for o in outcomes if o.stop is not None]),
        summary("RSS per server+kernel", [o.rss_mb for o in outcomes if o.rss_mb is not None], "MB"),
        f"completed {len(ok)}/{len(outcomes)}; failures {len(outcomes) - len(ok)}",
    ]
    lines += [f"  FAIL {o.name}: {o.error}" for o in outcomes if o.error]
    return lines


def spawns(runs: list[ClassRun]) -> list[float]:
    return [o.spawn for run in runs for o in run.outcomes if o.spawn is not None]


def ratio_lines(course: list[ClassRun], stock: list[ClassRun]) -> list[str]:
    """p50 and p95 spawn, course against stock; the last line is `ratio p95 spawn course/stock: X.XX`."""
    ours, theirs = spawns(course), spawns(stock)
    if not ours or not theirs:
        return ["ratio p50 spawn course/stock: n/a", "ratio p95 spawn course/stock: n/a"]
    return [f"ratio p50 spawn course/stock: {pct(ours, 50) / pct(theirs, 50):.2f}",
            f"ratio p95 spawn course/stock: {pct(ours, 95) / pct(theirs, 95):.2f}"]


def failures(runs: list[ClassRun]) -> int:
    return sum(1 for run in runs for o in run.outcomes if o.error is not None)


def order(rounds: int, baseline: bool) -> list[str]:
    """Which hub runs when: the course hub alone, or stock, course, course, stock, ... for `rounds` rounds."""
    if not baseline:
        return [COURSE] * rounds
    pairs = [(STOCK, COURSE) if i % 2 == 0 else (COURSE, STOCK) for i in range(rounds)]
    return [kind for pair in pairs for kind in pair]


def course_class(students: int, budget: float, keep: bool) -> ClassRun | None:
    """The class against a throw-away course hub; `budget` seconds for the hub's start and the class."""
    root = Path(tempfile.mkdtemp(prefix="course-hub-load-"))
    os.chmod(root, 0o755)
    hub = TemporaryHub(root, "load-admin-pw-1", {"COURSE_IDLE_TIMEOUT": "3600"})
    hub.notebooks.mkdir()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        shutil.copy(path, hub.notebooks / path.name)
    hub.data.mkdir()
    try:
        t0 = time.monotonic()
        try:
            hub.start(wait=min(240.0, budget))
        except RuntimeError as exc:
            print(f"hub_load: the course hub did not start: {exc}", file=sys.stderr)
            return None
        print(f"course hub up in {time.monotonic() - t0:.1f} s at {hub.url} (state {root})", flush=True)
        admin = HubClient(hub.url, timeout=120)
        admin.login("admin", hub.admin_password)
        return run_class(COURSE, hub, students, budget - (time.monotonic() - t0), admin=admin)
    finally:
        hub.stop_all_servers(wait=90.0)
        hub.stop()
        hub.remove_system_users()
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def stock_class(students: int, budget: float, keep: bool, without_iri: bool = False) -> ClassRun | None:
    """The class against a throw-away stock hub; `budget` seconds for the hub's start and the class."""
    root = Path(tempfile.mkdtemp(prefix="stock-hub-load-"))
    password = secrets.token_urlsafe(12)
    hub = StockHub(root, password, without_iri)
    try:
        t0 = time.monotonic()
        try:
            hub.start(wait=min(240.0, budget))
        except RuntimeError as exc:
            print(f"hub_load: the stock hub did not start: {exc}", file=sys.stderr)
            return None
        print(f"stock hub up in {time.monotonic() - t0:.1f} s at {hub.url} (state {root})", flush=True)
        return run_class(STOCK, hub, students, budget - (time.monotonic() - t0), password=password)
    finally:
        hub.stop_all_servers()
        hub.stop()
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20, help="simulated students (default 20)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="stop the whole run after this many seconds (default 900)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run the class against a stock JupyterHub and print the ratio")
    parser.add_argument("--rounds", type=int, default=1, help="classes per hub, pooled (default 1)")
    parser.add_argument("--stock-without-iri", action="store_true",
                        help="with --baseline: stock servers also skip jsonschema's IRI checker, as the course's do")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state folders and logs")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.stock_without_iri and not args.baseline:
        parser.error("--stock-without-iri needs --baseline")
    if args.timeout <= 0:
        parser.error("--timeout must be more than 0 seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs: dict[str, list[ClassRun]] = {COURSE: [], STOCK: []}
    deadline = time.monotonic() + args.timeout
    plan = order(args.rounds, args.baseline)
    for index, kind in enumerate(plan):
        budget = (deadline - time.monotonic()) / (len(plan) - index)  # the time left, shared out evenly
        if budget < 1:
            print(f"hub_load: the --timeout ({args.timeout:.0f} s) ran out before the {kind} class", file=sys.stderr)
            return 1
        if kind == COURSE:
            run = course_class(args.students, budget, args.keep)
        else:
            run = stock_class(args.students, budget, args.keep, args.stock_without_iri)
        if run is None:
            return 1
        runs[kind].append(run)
        if args.baseline:
            print(f"{kind} class done: spawn p95 {pct(spawns([run]), 95) if spawns([run]) else float('nan'):.2f} s, "
                  f"failures {failures([run])}", flush=True)

    print()
    if not args.baseline:
        print("\n".join(report(runs[COURSE])))
        return 0 if failures(runs[COURSE]) == 0 else 1
    print("\n".join(report(runs[COURSE], "== course hub (NativeAuthenticator, system users, content sync, "
                                         "the course's server configuration) ==")))
    print()
    peer = "; its servers skip jsonschema's IRI checker, as the course's do" if args.stock_without_iri else ""
    title = f"== stock JupyterHub (DummyAuthenticator, SimpleLocalProcessSpawner{peer}) =="
    print("\n".join(report(runs[STOCK], title)))
    print()
    print("\n".join(ratio_lines(runs[COURSE], runs[STOCK])))
    return 0 if failures(runs[COURSE]) == 0 and failures(runs[STOCK]) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
