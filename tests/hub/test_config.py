"""The hub configuration in local mode, loaded into a real traitlets Config (no hub started)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from traitlets.config import Config

import singleuser
from hub.common import ADMIN_SCOPES, configure_common, tensorboard_proxy_url
from hub.local_spawner import CourseLocalSpawner, configure_local
from hub.settings import REPO_ROOT, load_settings


def _config(tmp_path: Path, **env) -> tuple[Config, object]:
    settings = load_settings({"COURSE_HUB_STATE_DIR": str(tmp_path / "state"),
                              "COURSE_DATA_DIR": str(tmp_path / "data"), **env})
    c = Config()
    configure_common(c, settings)
    configure_local(c, settings)
    return c, settings


def test_local_mode_network_database_and_secrets(tmp_path):
    c, s = _config(tmp_path, COURSE_HUB_BIND_URL="http://127.0.0.1:18000")
    assert c.JupyterHub.bind_url == "http://127.0.0.1:18000"
    assert (c.JupyterHub.hub_ip, c.JupyterHub.hub_port) == ("127.0.0.1", 18002)
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18001"
    assert c.ConfigurableHTTPProxy.command[0].endswith("configurable-http-proxy")
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'state' / 'jupyterhub.sqlite'}"
    secrets = tmp_path / "state" / "secrets"
    assert c.JupyterHub.cookie_secret_file == str(secrets / "jupyterhub_cookie_secret")
    assert c.ConfigurableHTTPProxy.auth_token == (secrets / "proxy_auth_token").read_text()
    assert c.JupyterHub.cleanup_servers is False
    assert c.JupyterHub.spawner_class is CourseLocalSpawner


def test_authenticator_rules(tmp_path):
    c, _ = _config(tmp_path, COURSE_LOGIN_ATTEMPTS="3", COURSE_LOCKOUT_SECONDS="120")
    assert c.JupyterHub.authenticator_class == "hub.auth.CourseAuthenticator"
    assert c.Authenticator.allow_all is True
    assert c.NativeAuthenticator.allowed_failed_logins == 3
    assert c.NativeAuthenticator.seconds_before_next_try == 120
    assert c.NativeAuthenticator.open_signup is False
    assert c.CourseAuthenticator.instructors == {"admin"}


def _roles(c) -> dict:
    return {r["name"]: r for r in c.JupyterHub.load_roles}


def test_instructors_cannot_open_student_servers_unless_allowed(tmp_path):
    c, _ = _config(tmp_path, COURSE_HUB_ADMIN_USERS="kim,lee")
    roles = _roles(c)
    assert roles["admin"]["users"] == []
    instructor = roles["instructor"]
    assert instructor["users"] == ["kim", "lee"]
    assert "access:servers" not in instructor["scopes"] and "tokens" not in instructor["scopes"]
    assert "shares" not in instructor["scopes"]
    assert {"admin:users", "admin:servers", "admin-ui"} <= set(instructor["scopes"])
    c2, _ = _config(tmp_path, COURSE_HUB_ADMIN_USERS="kim", COURSE_HUB_ADMIN_ACCESS="true")
    assert _roles(c2)["admin"] == {"name": "admin", "users": ["kim"]} and "instructor" not in _roles(c2)
    assert "access:servers" in ADMIN_SCOPES


def test_idle_culler_service_and_tools_service(tmp_path):
    c, _ = _config(tmp_path, COURSE_IDLE_TIMEOUT="1800")
    services = {s["name"]: s for s in c.JupyterHub.services}
    culler = services["idle-culler"]
    assert culler["command"][1:3] == ["-m", "jupyterhub_idle_culler"] and "--timeout=1800" in culler["command"]
    assert culler["api_token"] == (tmp_path / "state" / "secrets" / "idle_culler_token").read_text()
    assert set(_roles(c)["idle-culler"]["scopes"]) == {"list:users", "read:users:activity", "read:servers",
                                                      "delete:servers"}
    assert "course-tools" in services and "command" not in services["course-tools"]
    c0, _ = _config(tmp_path, COURSE_IDLE_TIMEOUT="0")
    assert "idle-culler" not in {s["name"] for s in c0.JupyterHub.services}


def test_what_every_server_gets(tmp_path):
    c, s = _config(tmp_path, COURSE_KERNEL_IDLE_TIMEOUT="600", COURSE_GPU_MEMORY_LIMIT_MB="2048")
    env = c.Spawner.environment
    assert env["COURSE_DATA_DIR"] == str(tmp_path / "data")
    assert env["COURSE_GPU_MEMORY_GROWTH"] == "1" and env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["COURSE_GPU_MEMORY_LIMIT_MB"] == "2048"
    assert env["PYTHONSTARTUP"] == str(singleuser.KERNEL_STARTUP)
    assert env["JUPYTER_CONFIG_PATH"] == str(singleuser.FOLDER)
    assert env["COURSE_CONTENT_REPO"] == str(tmp_path / "state" / "content")
    spawner = SimpleNamespace(server=SimpleNamespace(base_url="/course/user/ana/"), user=None)
    assert env["TENSORBOARD_PROXY_URL"] is tensorboard_proxy_url
    assert tensorboard_proxy_url(spawner) == "/course/user/ana/proxy/%PORT%/"
    assert "--MappingKernelManager.cull_idle_timeout=600" in c.Spawner.args
    assert "--MappingKernelManager.cull_connected=True" in c.Spawner.args
    assert c.Spawner.default_url == "/lab/tree/course"
    assert c.Spawner.cmd[1] == str(singleuser.SERVER_COMMAND)
    assert c.Spawner.cmd[-1].endswith("jupyterhub-singleuser")
    c0, _ = _config(tmp_path, COURSE_KERNEL_IDLE_TIMEOUT="0")
    assert not any("cull" in a for a in c0.Spawner.args)


def test_singleuser_config_adds_tensorboard_under_the_server_prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_TENSORBOARD_LOGDIR", raising=False)
    c = Config()
    path = singleuser.FOLDER / "jupyter_server_config.py"
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: c, "__file__": str(path)})
    tb = c.ServerProxy.servers["tensorboard"]
    cmd = tb["command"](port=6006, base_url="/user/ana/")
    assert cmd[0] == "tensorboard" and "--path_prefix" in cmd
    assert cmd[cmd.index("--path_prefix") + 1] == "/user/ana/tensorboard"
    assert cmd[cmd.index("--logdir") + 1] == str(tmp_path / "course" / "logs")
    assert tb["launcher_entry"]["title"] == "TensorBoard" and tb["absolute_url"] is True
    settings_dir = Path(c.LabApp.app_settings_dir)
    overrides = json.loads((settings_dir / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_kernel_startup_file_applies_gpu_settings_after_tensorflow_is_imported(tmp_path):
    """Run the real start-up file in a fresh interpreter, with a stand-in `tensorflow` and `course.gpu`."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text("import builtins\nbuiltins.ORDER = ['tensorflow']\n")
    script = (
        "import builtins, runpy, sys, types\n"
        "import course.settings as settings\n"  # the real registry; course.gpu is a stand-in
        "gpu = types.ModuleType('course.gpu')\n"
        "gpu.configure_from_env = lambda: builtins.ORDER.append('configured')\n"
        "course = types.ModuleType('course'); course.gpu = gpu; course.settings = settings\n"
        "sys.modules.update({'course': course, 'course.gpu': gpu, 'course.settings': settings})\n"
        f"runpy.run_path({str(singleuser.KERNEL_STARTUP)!r}, run_name='__main__')\n"
        "assert 'tensorflow' not in sys.modules, 'the start-up file must not import TensorFlow'\n"
        "import tensorflow\n"
        "print(builtins.ORDER)\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(fake), "COURSE_GPU_MEMORY_GROWTH": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['tensorflow', 'configured']"
    # a course.gpu without the function is skipped quietly
    quiet_script = script.replace("gpu.configure_from_env = lambda: builtins.ORDER.append('configured')\n", "")
    quiet = subprocess.run([sys.executable, "-c", quiet_script], env=env, capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "['tensorflow']" and quiet.stderr == ""
    # without the hub's GPU variables nothing is hooked
    off = subprocess.run([sys.executable, "-c", script], env={**env, "COURSE_GPU_MEMORY_GROWTH": ""},
                         capture_output=True, text=True)
    assert off.returncode == 0 and off.stdout.strip() == "['tensorflow']"


def test_authenticator_replaces_the_toggling_approval_link():
    from hub.auth import (
        STATIC_DIR,
        ApprovalPageHandler,
        CourseAuthenticator,
        CourseLoginHandler,
        DiscardHandler,
        SetAuthorizationHandler,
    )

    routes = CourseAuthenticator.get_handlers(CourseAuthenticator.__new__(CourseAuthenticator), None)
    handlers = {route[0]: route[1] for route in routes}
    assert handlers[r"/authorize"] is ApprovalPageHandler  # the page, and its one POST for a selection
    assert handlers[r"/authorize/([^/]*)"] is SetAuthorizationHandler
    assert handlers[r"/discard/([^/]*)"] is DiscardHandler
    assert handlers[r"/login"] is CourseLoginHandler
    template = (REPO_ROOT / "hub" / "templates" / "authorization-area.html").read_text()
    assert 'method="post"' in template and 'name="_xsrf"' in template
    # the page's script is a file the hub serves (no inline script), and the one it names exists
    static = next(route for route in routes if route[0] == r"/course-static/(.*)")
    assert static[2] == {"path": str(STATIC_DIR)} and "course-static/approvals.js" in template
    assert (STATIC_DIR / "approvals.js").is_file() and "<script>" not in template


def test_the_gradebook_service_its_token_and_role(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_HUB_ADMIN_PASSWORD", "not-for-the-gradebook")
    monkeypatch.setenv("COURSE_GRADE_TIMEOUT", "120")
    c, _ = _config(tmp_path, COURSE_HUB_BIND_URL="http://127.0.0.1:18000/course/")
    gradebook = {s["name"]: s for s in c.JupyterHub.services}["gradebook"]
    assert gradebook["url"] == "http://127.0.0.1:18003"  # the proxy sends /course/services/gradebook/ there
    assert gradebook["command"][0] == sys.executable
    assert gradebook["command"][1:] == ["-m", "hub.gradebook.service", "--ip", "127.0.0.1", "--port", "18003"]
    assert gradebook["api_token"] == (tmp_path / "state" / "secrets" / "gradebook_token").read_text()
    assert gradebook["oauth_no_confirm"] is True and gradebook["display"] is True
    env = gradebook["environment"]
    assert env["COURSE_HUB_STATE_DIR"] == str(tmp_path / "state") and env["COURSE_GRADE_TIMEOUT"] == "120"
    assert "COURSE_HUB_ADMIN_PASSWORD" not in env  # secrets stay with the hub
    assert gradebook["api_token"] not in json.dumps(env)
    role = _roles(c)["gradebook"]
    assert role == {"name": "gradebook", "scopes": ["list:users", "read:users"], "services": ["gradebook"]}


def test_students_and_their_servers_may_reach_the_gradebook(tmp_path):
    c, _ = _config(tmp_path, COURSE_HUB_BIND_URL="http://127.0.0.1:18000/course/")
    # every user's browser (JupyterHub's `user` role, extended) ...
    assert _roles(c)["user"] == {"name": "user", "scopes": ["self", "access:services!service=gradebook"]}
    # ... and every server's own token, which keeps JupyterHub's default `server` scopes
    assert c.Spawner.server_token_scopes == ["users:activity!user", "access:servers!server",
                                             "access:services!service=gradebook"]
    assert c.Spawner.environment["COURSE_GRADEBOOK_URL"] == "http://127.0.0.1:18003/course/services/gradebook/"
    c2, _ = _config(tmp_path)
    assert c2.Spawner.environment["COURSE_GRADEBOOK_URL"] == "http://127.0.0.1:8003/services/gradebook/"


def test_the_hub_http_client_is_not_limited_to_ten_requests_at_once(tmp_path):
    """Readiness checks of servers still starting must not hold up the proxy's route updates (hub_http_client)."""
    import asyncio

    from tornado.httpclient import AsyncHTTPClient

    from hub.common import HUB_HTTP_CLIENTS

    _config(tmp_path)

    async def max_clients():
        return AsyncHTTPClient(force_instance=True).max_clients

    assert HUB_HTTP_CLIENTS >= 50
    assert asyncio.run(max_clients()) == HUB_HTTP_CLIENTS
