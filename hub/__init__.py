"""The hub process: JupyterHub's configuration and the modules it is built from.

`hub/jupyterhub_config.py` is the thin entry point JupyterHub loads; `python -m hub` prepares the state
(`hub.prepare`) and starts a hub. It reads its settings through the registry in `course.settings` and never
imports TensorFlow; what runs on a student's side lives in `singleuser/` and `course/`.
"""
