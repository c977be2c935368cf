"""Configuration for each student's JupyterLab server (found through JUPYTER_CONFIG_PATH).

Self-contained on purpose: a Docker image can copy this file to /etc/jupyter unchanged.
- TensorBoard in JupyterLab's launcher, served through jupyter-server-proxy under the server's own URL
  prefix (no extra port), reading logs from COURSE_TENSORBOARD_LOGDIR (default ~/course/logs).
- No calls to the internet at start: news and update checks are off, and JupyterLab does not ask about
  them (default settings in lab-settings/overrides.json next to this file).
"""
import os

c = get_config()  # noqa: F821


def _tensorboard_command(port, base_url):
    logdir = os.path.expanduser(os.environ.get("COURSE_TENSORBOARD_LOGDIR", "~/course/logs"))
    os.makedirs(logdir, exist_ok=True)
    return ["tensorboard", "--logdir", logdir, "--host", "127.0.0.1", "--port", str(port),
            "--path_prefix", base_url.rstrip("/") + "/tensorboard", "--reload_interval", "15"]


c.ServerProxy.servers = {
    "tensorboard": {
        "command": _tensorboard_command,
        "absolute_url": True,
        "timeout": 120,
        "launcher_entry": {"enabled": True, "title": "TensorBoard"},
        "new_browser_tab": False,
    },
}

c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.app_settings_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab-settings")
