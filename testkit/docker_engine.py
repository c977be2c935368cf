"""A Docker engine of the tests' own, and the base image made here (no container registry is reachable).

`DockerEngine(root)` runs Debian's dockerd as root with its own socket, data root and pid file under `root`
(`var/docker/` by default, so the image layers and the build cache carry over from one run to the next) and
stops it by its pid. An engine already running there (left by an earlier run, or a developer's) is used as it is
and left running.

`ensure_base_image(engine)` makes `debian:trixie-slim` when the engine lacks it: a minimal debootstrap of Debian's
trixie, trimmed as the official slim images are, imported with `docker import`. The official image is itself a
debootstrap build, so `FROM debian:trixie-slim` means the same here as on an instructor's machine that pulls it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from hub.settings import REPO_ROOT

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's 20.10 client: BuildKit built in (a newer client on PATH may lack buildx)
COMPOSE_V1 = "/usr/bin/docker-compose"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_SUITE = "trixie"
BASE_IMAGE = f"debian:{BASE_SUITE}-slim"
DEFAULT_ROOT = REPO_ROOT / "var" / "docker"
# What the official slim images leave out (their dpkg path-exclude rules), so later `apt-get install`s stay slim.
SLIM_DPKG = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""
_CLEAN = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true";'
APT_CLEAN = f"""DPkg::Post-Invoke {{ {_CLEAN} }};
APT::Update::Post-Invoke {{ {_CLEAN} }};
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""


class EngineError(RuntimeError):
    """The engine could not be started or asked; the message says what happened."""


def missing_tools() -> list[str]:
    """The Debian packages this module needs that are not installed."""
    wanted = {DOCKERD: "docker.io", DOCKER: "docker.io", COMPOSE_V1: "docker-compose", DEBOOTSTRAP: "debootstrap"}
    return sorted({package for path, package in wanted.items() if not Path(path).exists()})


class DockerEngine:
    """dockerd with a socket, data root, exec root and pid file of its own."""

    def __init__(self, root: Path = DEFAULT_ROOT):
        self.root = Path(root).resolve()
        self.socket = self.root / "docker.sock"
        self.pidfile = self.root / "docker.pid"
        self.log_path = self.root / "dockerd.log"
        # containerd's socket lives under the exec root: keep its path short whatever the checkout's path is.
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:8]
        self.exec_root = Path(f"/run/course-docker-{digest}")
        self.owned = False  # started by this object (and so stopped by it)
        self.proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        """An environment for docker, docker-compose and docker-py that talks to this engine only."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DOCKER_", "COMPOSE_", "COURSE_"))}
        env.update(DOCKER_HOST=self.host, DOCKER_BUILDKIT="1", COMPOSE_DOCKER_CLI_BUILD="1",
                   PATH=f"{Path(DOCKER).parent}:{env.get('PATH', '/usr/bin:/bin')}")
        return env

    def docker(self, *args: str, check: bool = True, timeout: float = 600, input: bytes | None = None,
               ) -> subprocess.CompletedProcess:
        done = subprocess.run([DOCKER, *args], env=self.env(), capture_output=True, timeout=timeout, input=input)
        if check and done.returncode != 0:
            raise EngineError(f"docker {' '.join(args)} failed ({done.returncode}): "
                              f"{done.stderr.decode(errors='replace').strip()[-2000:]}")
        return done

    def answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.docker("version", "--format", "{{.Server.Version}}", check=False, timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self, wait: float = 90.0) -> DockerEngine:
        """Start dockerd (or use the one already running here); returns self once it answers."""
        if self.running_pid() is not None and self.answers():
            return self
        if os.geteuid() != 0:
            raise EngineError("a Docker engine of the tests' own needs root (dockerd runs as root)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [DOCKERD, "--host", self.host, "--data-root", str(self.root / "data"), "--exec-root", str(self.exec_root),
             "--pidfile", str(self.pidfile), "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.owned = True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EngineError(f"dockerd exited with {self.proc.returncode}: {self.log_tail()}")
            if self.answers():
                return self
            time.sleep(0.5)
        raise EngineError(f"dockerd did not answer within {wait:.0f} s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, wait: float = 60.0) -> None:
        """Stop the engine by its pid, if this object started it."""
        if not self.owned:
            return
        pid = self.running_pid() or (self.proc.pid if self.proc is not None else None)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                break
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self.owned = False

    def has_image(self, image: str) -> bool:
        return self.docker("image", "inspect", image, check=False, timeout=60).returncode == 0


def make_base_image(engine: DockerEngine, suite: str = BASE_SUITE, tag: str = BASE_IMAGE,
                    mirror: str = DEBIAN_MIRROR) -> float:
    """Debootstrap `suite` (minbase), trim it as the official slim images are, and import it as `tag`.
    Returns the seconds it took."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=engine.root))
    rootfs = work / "rootfs"
    try:
        done = subprocess.run([DEBOOTSTRAP, "--variant=minbase", suite, str(rootfs), mirror],
                              capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            raise EngineError(f"debootstrap {suite} failed: {(done.stdout + done.stderr).strip()[-2000:]}")
        (rootfs / "etc/dpkg/dpkg.cfg.d/docker-slim").write_text(SLIM_DPKG)
        (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/man/*",
                        "usr/share/info/*", "usr/share/locale/*", "var/log/*.log", "tmp/*"):
            for path in rootfs.glob(pattern):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for doc in (rootfs / "usr/share/doc").glob("*/*"):
            if doc.name != "copyright":
                shutil.rmtree(doc) if doc.is_dir() and not doc.is_symlink() else doc.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([DOCKER, "import", "--change", 'CMD ["bash"]', "-", tag], stdin=tar.stdout,
                                  env=engine.env(), capture_output=True, timeout=600)
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise EngineError(f"docker import {tag} failed: {imported.stderr.decode(errors='replace').strip()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return time.monotonic() - started


def ensure_base_image(engine: DockerEngine, tag: str = BASE_IMAGE) -> float | None:
    """Make the base image if the engine lacks it; the seconds it took, or None when it was there."""
    if engine.has_image(tag):
        return None
    return make_base_image(engine, tag=tag)


def compose_v2(engine: DockerEngine, folder: Path | None = None) -> Path:
    """Compose v2 (what instructors run as `docker compose`), from Debian trixie's docker-compose package: the
    plugin binary, which also runs on its own as `docker-compose`. Unpacked in a throwaway container of the base
    image (apt reaches Debian's mirror from there), kept in `folder` for the next run."""
    folder = Path(folder or engine.root / "compose-v2")
    binary = folder / "docker-compose"
    if binary.is_file():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    script = ("set -e; apt-get update -qq; cd /tmp; apt-get download -qq docker-compose; "
              "dpkg-deb -x docker-compose_*.deb /tmp/x; cp /tmp/x/usr/libexec/docker/cli-plugins/docker-compose /out/")
    engine.docker("run", "--rm", "-v", f"{folder}:/out", BASE_IMAGE, "sh", "-c", script, timeout=600)
    binary.chmod(0o755)
    return binary
