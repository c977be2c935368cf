"""Configuration for each student's JupyterLab server (found through JUPYTER_CONFIG_PATH).

Part of the `singleuser` folder, which the student image copies as it is (with the `course` library installed).
- TensorBoard in JupyterLab's launcher, served through jupyter-server-proxy under the server's own URL
  prefix (no extra port), reading logs from COURSE_TENSORBOARD_LOGDIR (default ~/course/logs).
- No calls to the internet at start: news and update checks are off, and JupyterLab does not ask about
  them (default settings in lab-settings/overrides.json next to this file).
- A kernel the server restarts on its own (it died, e.g. past the memory limit) is reported as starting until it
  answers (kernel_restarts.py next to this file), so its first output reaches the student.
"""
import os

from course.settings import TENSORBOARD_LOGDIR

c = get_config()  # noqa: F821


def _tensorboard_command(port, base_url):
    logdir, warning = TENSORBOARD_LOGDIR.read_or_default(os.environ)
    if warning:
        print(f"course: {warning}", flush=True)
    os.makedirs(logdir, exist_ok=True)
    return ["tensorboard", "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
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


def _sibling(name):
    """A module of this folder, loaded by path: the folder is copied into images as it is, not installed."""
    import importlib.util
    import sys

    module_name = f"course_singleuser_{name}"
    if module_name not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    return sys.modules[module_name]


# A kernel the server restarts after it died (past the memory limit, say) is "starting" until it answers, so the
# student's next connection checks its output channel first and the new kernel's first words are not lost.
c.ServerApp.kernel_manager_class = _sibling("kernel_restarts").CourseKernelManager
