"""What runs on a student's side: their server's start-up and configuration (one folder an image copies).

- `server_command.py`: the command each student's server runs, as the student: sync ~/course with
  nbgitpuller, then start jupyterhub-singleuser;
- `jupyter_server_config.py` and `lab-settings/`: the server's configuration (found through
  JUPYTER_CONFIG_PATH), with TensorBoard through jupyter-server-proxy;
- `kernel_restarts.py`: the server's kernel manager (loaded by that configuration): a kernel the server
  restarted on its own is "starting" until it answers, so the first thing it says reaches the student;
- `kernel_startup.py`: every kernel's PYTHONSTARTUP file (GPU memory settings after `import tensorflow`);
- `grade_notebook.py`: run by `course hub grade` as the student, in a sandbox: executes a copy of one of their
  notebooks in a fresh kernel and reports what its checks recorded.

Kernels import the `course` library beside it. Nothing here imports the hub's code.
"""
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
SERVER_COMMAND = FOLDER / "server_command.py"
KERNEL_STARTUP = FOLDER / "kernel_startup.py"
