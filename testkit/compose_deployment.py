"""The course's compose deployment (docker/docker-compose.yml), built and run on a test engine.

`ComposeDeployment(engine, root, settings)` copies what git tracks in this checkout (what a clean clone holds:
the same Dockerfiles, compose file and build context an instructor has) into `root/checkout`, hands the build
the machine's CA bundle through `docker/build-ca/` (as an instructor behind a TLS-inspecting network does),
writes a `.env` from `.env.example` with `settings` in place of its values, and runs Compose there: Debian's
`docker-compose` 1.29 (Compose v1) unless `compose` names another (Compose v2's `docker-compose` binary). Tests
reach the hub only through the port it publishes on 127.0.0.1.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import requests

from hub.settings import REPO_ROOT
from testkit.docker_engine import COMPOSE_V1, DockerEngine, EngineError

HUB_SERVICE = "jupyterhub"
# Where the machine's CA bundle goes in the build context (docker/build-ca/README.md).
BUILD_CA = "docker/build-ca/machine-ca.crt"
# Labels DockerSpawner puts on every student's container, and the name it gives it.
STUDENT_LABEL = "org.jupyter.service=jupyter-notebook"


def student_container(name: str) -> str:
    """The container DockerSpawner names for a student (its default name template)."""
    return f"jupyter-{name}"


def tracked_files(repo: Path = REPO_ROOT) -> list[str]:
    """What git tracks in `repo`, plus new files git does not ignore (a clean clone with this work tree's edits)."""
    done = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          capture_output=True, check=True)
    return sorted({name for name in done.stdout.decode().split("\0") if name and (repo / name).is_file()})


def copy_checkout(target: Path, repo: Path = REPO_ROOT) -> None:
    """Make `target` hold exactly the files of `tracked_files(repo)` (unchanged files keep their times)."""
    wanted = tracked_files(repo)
    keep = set(wanted) | {".env", BUILD_CA}
    if target.exists():
        for path in sorted(target.rglob("*"), reverse=True):
            rel = path.relative_to(target).as_posix()
            if path.is_file() and rel not in keep:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for rel in wanted:
        src, dst = repo / rel, target / rel
        if dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def example_values(path: Path) -> dict[str, str]:
    """NAME=value lines of an env file such as `.env.example`, in order (comments and blank lines left out)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def env_file_text(settings: dict[str, str]) -> str:
    return "".join(f"{name}={value}\n" for name, value in settings.items())


class ComposeDeployment:
    """docker compose on the course's own compose file, from a copy of the checkout."""

    def __init__(self, engine: DockerEngine, root: Path, settings: dict[str, str], *, port: int,
                 tls_port: int | None = None, project: str = "course-test", compose: str = COMPOSE_V1):
        self.engine = engine
        self.root = Path(root)
        self.checkout = self.root / "checkout"
        self.port = port  # the front's plain HTTP, on 127.0.0.1 ...
        self.tls_port = tls_port or free_port()  # ... and its HTTPS
        self.project = project
        self.compose_command = compose
        self.settings = {"COMPOSE_FILE": "docker/docker-compose.yml", "COMPOSE_PROJECT_NAME": project,
                         "COURSE_DOCKER_PUBLISH": f"127.0.0.1:{port}",
                         "COURSE_DOCKER_PUBLISH_TLS": f"127.0.0.1:{self.tls_port}",
                         "COURSE_DOCKER_SOCKET": str(engine.socket), **settings}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def prepare(self) -> None:
        """The checkout's copy, the build's CA bundle and the `.env`."""
        copy_checkout(self.checkout)
        bundle, target = machine_ca_bundle(), self.checkout / BUILD_CA
        if bundle is not None and not (target.is_file() and target.read_bytes() == Path(bundle).read_bytes()):
            shutil.copy(bundle, target)
        self.write_env()

    def write_env(self, **changes: str) -> None:
        """Write `.env` as an instructor does: `.env.example` with the deployment's settings (and `changes`, kept
        for later writes) in place of its values."""
        self.settings.update(changes)
        values = example_values(self.checkout / ".env.example")
        values.update(self.settings)
        (self.checkout / ".env").write_text(env_file_text(values))

    def compose(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        """Run Compose in the checkout's root, as an instructor does (the `.env` names the compose file)."""
        done = subprocess.run([self.compose_command, *args], cwd=self.checkout, env=self.engine.env(),
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise EngineError(f"{Path(self.compose_command).name} {' '.join(args)} failed ({done.returncode}):\n"
                              f"{(done.stdout + done.stderr)[-4000:]}")
        return done

    def build(self) -> float:
        """`docker compose build`; the seconds it took."""
        started = time.monotonic()
        self.compose("build")
        return time.monotonic() - started

    def up(self, wait: float = 300.0) -> float:
        """`docker compose up -d` until the hub answers on its published port; the seconds it took."""
        started = time.monotonic()
        self.compose("up", "-d")
        self.wait_for_hub(wait)
        return time.monotonic() - started

    def wait_for_hub(self, wait: float = 300.0) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "hub/api/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise EngineError(f"the hub did not answer at {self.url} within {wait:.0f} s:\n{self.logs()[-4000:]}")

    def logs(self, service: str = HUB_SERVICE) -> str:
        done = self.compose("logs", "--no-color", service, check=False, timeout=120)
        return done.stdout + done.stderr

    def exec(self, *command: str, service: str = HUB_SERVICE, check: bool = True,
             timeout: float = 900) -> subprocess.CompletedProcess:
        """A command in a service's running container (no terminal)."""
        return self.compose("exec", "-T", service, *command, check=check, timeout=timeout)

    def inspect(self, container: str) -> dict:
        """`docker inspect` of a container."""
        import json

        return json.loads(self.engine.docker("inspect", container).stdout)[0]

    def shell(self, container: str, command: str, check: bool = True, user: str | None = None) -> str:
        """A shell command in a running container (as its own user unless `user`), its output."""
        args = ["exec", *(["--user", user] if user else []), container, "sh", "-c", command]
        done = self.engine.docker(*args, check=check)
        return done.stdout.decode(errors="replace")

    def student_containers(self, all_states: bool = False) -> list[str]:
        """The names of students' containers on the engine."""
        args = ["ps", "--filter", f"label={STUDENT_LABEL}", "--format", "{{.Names}}"]
        if all_states:
            args.insert(1, "--all")
        return sorted(filter(None, self.engine.docker(*args).stdout.decode().split("\n")))

    def remove_everything(self) -> None:
        """`down` with its volumes, then this deployment's students' containers, their homes and the students'
        network: a fresh deployment next time (the images and the build cache stay). Students' homes left by
        an earlier run (no container uses them) go too."""
        network = self.settings.get("COURSE_DOCKER_NETWORK", "course-hub")
        self.compose("down", "--volumes", "--remove-orphans", check=False, timeout=600)
        listed = self.engine.docker("ps", "--all", "--quiet", "--filter", f"label={STUDENT_LABEL}",
                                    "--filter", f"network={network}", check=False).stdout.decode().split()
        refused = [c for c in self.engine.docker("ps", "--all", "--quiet", "--filter", f"label={STUDENT_LABEL}",
                                                 "--filter", "status=created", check=False).stdout.decode().split()]
        containers = sorted(set(listed) | set(refused))
        if containers:
            self.engine.docker("rm", "--force", "--volumes", *containers, check=False)
        self.engine.docker("network", "rm", network, check=False)
        dangling = self.engine.docker("volume", "ls", "--quiet", "--filter", "dangling=true",
                                      check=False).stdout.decode().split()
        homes = [name for name in dangling if name.startswith("course-home-")]
        named = [self.settings.get(s) for s in ("COURSE_DATA_VOLUME", "COURSE_CONTENT_VOLUME")]
        leftovers = homes + [n for n in named if n and n in dangling]
        if leftovers:
            self.engine.docker("volume", "rm", *leftovers, check=False)

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_ca_bundle() -> str | None:
    """The CA bundle pip and npm use on this machine (PIP_CERT), if any."""
    for candidate in (os.environ.get("PIP_CERT"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None
