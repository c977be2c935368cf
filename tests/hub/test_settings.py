"""Hub settings: defaults, the .env.example file, and one-line errors for values that are not allowed."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from course import settings as registry
from hub.settings import REPO_ROOT, SettingsError, load_settings


def test_defaults_match_the_documented_ones():
    s = load_settings({})
    assert s.mode == "local"
    assert s.bind_url == "http://127.0.0.1:8000"
    assert (s.port, s.base_url) == (8000, "/")
    assert s.state_dir == REPO_ROOT / "var" / "hub"
    assert s.homes_dir == s.state_dir / "homes"
    assert s.data_dir == REPO_ROOT / "var" / "data"
    assert s.admin_users == ("admin",) and s.admin_password is None and s.admin_access is False
    assert (s.idle_timeout, s.kernel_idle_timeout) == (3600, 1200)
    assert (s.login_attempts, s.lockout_seconds) == (5, 600)
    assert (s.gpu_policy, s.gpu_ids, s.gpu_memory_limit_mb) == ("none", (), None)
    assert (s.cpu_limit, s.mem_limit_bytes) == (None, None)
    assert (s.singleuser_image, s.docker_network, s.data_volume) == \
        ("course-singleuser:latest", "course-hub", "course-data")
    assert s.content_repo is None and s.content_branch == "main"


def _env_example() -> dict[str, str]:
    values = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_env_example_documents_every_setting_and_gives_the_defaults():
    """.env.example and the registry name the same variables, with the same defaults."""
    example = _env_example()
    documented = {name for name in example if name.startswith("COURSE_")}
    registered = {s.name for s in registry.REGISTRY.values() if s.in_env_file}
    assert documented == registered, (f"in the registry, not in .env.example: {sorted(registered - documented)}; "
                                      f"in .env.example, not in the registry: {sorted(documented - registered)}")
    for name in documented:
        setting = registry.get(name)
        assert setting.read({name: example[name]}) == setting.read({}), f"{name}: .env.example gives another default"
    assert load_settings(example) == load_settings({})


def test_values_are_parsed():
    s = load_settings({
        "COURSE_HUB_MODE": "Docker", "COURSE_HUB_BIND_URL": "http://0.0.0.0:9000/course",
        "COURSE_HUB_STATE_DIR": "var/x", "COURSE_HUB_ADMIN_USERS": "Kim, lee",
        "COURSE_HUB_ADMIN_ACCESS": "yes", "COURSE_GPU_POLICY": "spread", "COURSE_GPU_IDS": "0, 1",
        "COURSE_GPU_MEMORY_LIMIT_MB": "2048", "COURSE_CPU_LIMIT": "1.5", "COURSE_MEM_LIMIT": "4G",
        "COURSE_IDLE_TIMEOUT": "0", "COURSE_CONTENT_REPO": "https://example.org/course.git",
    })
    assert s.mode == "docker" and s.port == 9000 and s.base_url == "/course/"
    assert s.state_dir == REPO_ROOT / "var" / "x" and s.homes_dir == s.state_dir / "homes"
    assert s.admin_users == ("kim", "lee") and s.admin_access is True
    assert s.gpu_policy == "spread" and s.gpu_ids == ("0", "1") and s.gpu_memory_limit_mb == 2048
    assert s.cpu_limit == 1.5 and s.mem_limit_bytes == 4 * 1024 ** 3 and s.idle_timeout == 0
    assert s.content_repo == "https://example.org/course.git"


@pytest.mark.parametrize("name, value, allowed", [
    ("COURSE_HUB_MODE", "k8s", "local, docker, kubernetes"),
    ("COURSE_GPU_POLICY", "half", "none, shared, spread, exclusive"),
    ("COURSE_IDLE_TIMEOUT", "-1", ">= 0"),
    ("COURSE_KERNEL_IDLE_TIMEOUT", "soon", "whole number"),
    ("COURSE_LOGIN_ATTEMPTS", "0", ">= 1"),
    ("COURSE_GPU_MEMORY_LIMIT_MB", "-512", ">= 1"),
    ("COURSE_CPU_LIMIT", "-2", "positive number"),
    ("COURSE_CPU_LIMIT", "nan", "positive number"),
    ("COURSE_MEM_LIMIT", "-4G", "positive size"),
    ("COURSE_MEM_LIMIT", "lots", "positive size"),
    ("COURSE_MEM_LIMIT", "2048", "with a unit"),
    ("COURSE_GPU_IDS", "0,0", "distinct GPU indices"),
    ("COURSE_GPU_IDS", "gpu0", "distinct GPU indices"),
    ("COURSE_HUB_ADMIN_ACCESS", "maybe", "true or false"),
    ("COURSE_HUB_BIND_URL", "localhost:8000", "URL"),
    ("COURSE_HUB_BIND_URL", "http://127.0.0.1:65535", "65532"),
    ("COURSE_HUB_ADMIN_USERS", "Dr Kim", "user names"),
    ("COURSE_CONTENT_REPO", "course.git", "git URL"),
    ("COURSE_SINGLEUSER_IMAGE", "bad image", "image name"),
])
def test_bad_values_give_one_line_naming_variable_value_and_what_is_allowed(name, value, allowed):
    with pytest.raises(SettingsError) as err:
        load_settings({name: value})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(name) and repr(value) in message and allowed in message


def test_short_admin_password_and_unknown_hub_variable_are_refused():
    with pytest.raises(SettingsError, match="COURSE_HUB_ADMIN_PASSWORD is not allowed: it is too short") as err:
        load_settings({"COURSE_HUB_ADMIN_PASSWORD": "abc"})
    assert "abc" not in str(err.value)  # a password is never repeated
    with pytest.raises(SettingsError, match="COURSE_HUB_ADMIN_ACESS is not a hub setting"):
        load_settings({"COURSE_HUB_ADMIN_ACESS": "true"})


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings({}).mode = "docker"  # type: ignore[misc]


def _run(args, env):
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=120)


def test_python_m_hub_stops_with_one_line_on_a_bad_value(tmp_path: Path):
    done = _run(["-m", "hub"], {"COURSE_HUB_MODE": "k8s", "COURSE_HUB_STATE_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip() == ("course hub: COURSE_HUB_MODE='k8s' is not allowed: "
                                   "use one of local, docker, kubernetes")
    assert "Traceback" not in done.stdout + done.stderr
    assert not any(tmp_path.iterdir()), "nothing is created before the settings are valid"


def test_jupyterhub_config_stops_with_one_line_on_a_bad_value(tmp_path: Path):
    done = _run(["-m", "jupyterhub", "-f", str(REPO_ROOT / "hub" / "jupyterhub_config.py")],
                {"COURSE_IDLE_TIMEOUT": "-5", "COURSE_HUB_STATE_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode != 0
    assert "course hub: COURSE_IDLE_TIMEOUT='-5' is not allowed: use a whole number >= 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_flag_validates_only(tmp_path: Path):
    done = _run(["-m", "hub", "--check"], {"COURSE_HUB_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == 0 and "settings are valid (local mode" in done.stdout
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("policy", ["spread", "exclusive"])
def test_a_gpu_policy_without_gpus_stops_at_settings_in_one_line(policy):
    with pytest.raises(SettingsError) as err:
        load_settings({"COURSE_GPU_POLICY": policy})
    message = str(err.value)
    assert "\n" not in message and "needs COURSE_GPU_IDS" in message and "nvidia-smi -L" in message
