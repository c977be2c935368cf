"""Docker mode's figures: image sizes, build times, `docker compose up` to the first login, a class spawning at
once in containers beside local mode in the same run, and the memory each student's container holds.

Runs on the test tier's engine (var/docker/, started as root if it is not running) with a deployment of its own
(project course-bench, its own network and volumes, a free port on 127.0.0.1), built from a copy of what git
tracks, as the docker tier does:

    .venv/bin/python benchmarks/docker_deploy.py                  # warm builds, 10 students, local mode beside
    .venv/bin/python benchmarks/docker_deploy.py --cold           # empty the build cache first: a cold build
    .venv/bin/python benchmarks/docker_deploy.py --gpu-flavour    # also build the GPU student image once (size)

The cold build starts from the base image (made here by debootstrap when the engine lacks it; its own time is
printed) and downloads every package. Both classes are the same as `hub_load.py`'s: every student signs up, is
approved, logs in, starts a server, starts a kernel, runs one cell and stops, all at once.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import hub_load  # noqa: E402

from testkit.compose_deployment import ComposeDeployment, free_port, student_container  # noqa: E402
from testkit.docker_engine import DockerEngine, ensure_base_image  # noqa: E402
from testkit.hub_client import HubClient  # noqa: E402

ADMIN_PASSWORD = "bench-admin-pw-1"
SETTINGS = {
    "COURSE_IMAGE_FLAVOUR": "cpu", "COURSE_HUB_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "COURSE_DOCKER_NETWORK": "course-bench", "COURSE_DATA_VOLUME": "course-bench-data",
    "COURSE_CONTENT_VOLUME": "course-bench-content", "COURSE_IDLE_TIMEOUT": "3600",
    "COURSE_KERNEL_IDLE_TIMEOUT": "0",
}
IMAGES = ("course-hub:latest", "course-singleuser:latest", "course-front:latest")


def image_mb(engine: DockerEngine, image: str) -> float:
    return int(engine.docker("image", "inspect", "--format", "{{.Size}}", image).stdout) / 1e6


def container_mb(engine: DockerEngine, user: str) -> float | None:
    """Resident memory of every process in a student's container (its server and kernels), MB."""
    done = engine.docker("top", student_container(user), "-o", "pid,rss", check=False)
    if done.returncode != 0:
        return None
    rows = [row.split() for row in done.stdout.decode().split("\n")[1:] if row.strip()]
    return sum(int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()) / 1024


def timed(what: str, action) -> float:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"{what}: {seconds:.1f} s", flush=True)
    return seconds


def first_login(deploy: ComposeDeployment) -> float:
    """`docker compose up -d` from nothing (no containers, no volumes) until the first admin is logged in."""
    deploy.remove_everything()
    started = time.monotonic()
    deploy.compose("up", "-d")
    deadline = started + 600
    while time.monotonic() < deadline:
        try:
            HubClient(deploy.url, timeout=10).login("admin", ADMIN_PASSWORD)
            return time.monotonic() - started
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise RuntimeError(f"no login within 600 s:\n{deploy.logs()[-3000:]}")


def docker_class(deploy: ComposeDeployment, students: int) -> hub_load.ClassRun:
    admin = HubClient(deploy.url, timeout=120)
    admin.login("admin", ADMIN_PASSWORD)
    return hub_load.run_class(hub_load.COURSE, deploy, students, 900, admin,
                              memory=lambda name: container_mb(deploy.engine, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--cold", action="store_true", help="empty the build cache and the images first")
    parser.add_argument("--gpu-flavour", action="store_true", help="also build the GPU flavour once, for its size")
    parser.add_argument("--no-local", action="store_true", help="leave out the local-mode class")
    args = parser.parse_args(argv)

    engine = DockerEngine().start()
    figures: dict[str, object] = {}
    base = ensure_base_image(engine)
    if base is not None:
        print(f"base image debian:trixie-slim made by debootstrap: {base:.1f} s", flush=True)
        figures["base_image_s"] = round(base, 1)
    deploy = ComposeDeployment(engine, REPO / "var" / "docker-bench", SETTINGS, port=free_port(),
                               project="course-bench")
    deploy.prepare()
    if args.cold:
        deploy.remove_everything()
        engine.docker("rmi", "--force", *IMAGES, check=False)
        engine.docker("builder", "prune", "--all", "--force")
        figures["cold_build_s"] = round(timed("cold build (both images, empty cache)", deploy.build), 1)
    figures["warm_build_s"] = round(timed("warm build (nothing changed)", deploy.build), 1)
    marker = deploy.checkout / "course" / "__init__.py"
    marker.write_text(marker.read_text() + f"\n# benchmark {time.time()}\n")
    figures["code_change_build_s"] = round(timed("build after a change in course/", deploy.build), 1)
    deploy.prepare()  # the checkout as git tracks it again
    deploy.build()
    for image in IMAGES:
        figures[f"{image} MB"] = round(image_mb(engine, image))
        print(f"{image}: {figures[f'{image} MB']} MB", flush=True)
    if args.gpu_flavour:
        deploy.write_env(COURSE_IMAGE_FLAVOUR="gpu", COURSE_SINGLEUSER_IMAGE="course-singleuser:gpu")
        figures["gpu_flavour_build_s"] = round(timed("GPU flavour build (student image)",
                                                     lambda: deploy.compose("build", "data")), 1)
        figures["course-singleuser:gpu MB"] = round(image_mb(engine, "course-singleuser:gpu"))
        print(f"course-singleuser:gpu: {figures['course-singleuser:gpu MB']} MB", flush=True)
        deploy.write_env(COURSE_IMAGE_FLAVOUR="cpu", COURSE_SINGLEUSER_IMAGE="course-singleuser:latest")
    try:
        seconds = first_login(deploy)
        print(f"docker compose up -d (nothing running, no volumes) to the first login: {seconds:.1f} s", flush=True)
        figures["up_to_first_login_s"] = round(seconds, 1)
        runs = {"docker": docker_class(deploy, args.students)}
    finally:
        deploy.remove_everything()
        engine.stop()  # if this run started it
    if not args.no_local:
        local = hub_load.course_class(args.students, 900, keep=False)
        if local is not None:
            runs["local"] = local
    print()
    print("\n".join(hub_load.report([runs["docker"]], f"== Docker mode: {args.students} students at once, one "
                                                     "container each (RSS: every process in the container) ==")))
    if "local" in runs:
        print()
        print("\n".join(hub_load.report([runs["local"]], f"== local mode, the same run: {args.students} students "
                                                        "at once, one process tree each ==")))
    for kind, run in runs.items():
        spawned = hub_load.spawns([run])
        if spawned:
            figures[f"{kind}_spawn_p50_s"] = round(hub_load.pct(spawned, 50), 1)
            figures[f"{kind}_spawn_p95_s"] = round(hub_load.pct(spawned, 95), 1)
        memory = [o.rss_mb for o in run.outcomes if o.rss_mb is not None]
        if memory:
            figures[f"{kind}_mb_per_student_p50"] = round(hub_load.pct(memory, 50))
        figures[f"{kind}_failures"] = hub_load.failures([run])
    print()
    print(json.dumps(figures, indent=1))
    return 0 if all(hub_load.failures([run]) == 0 for run in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
