"""The course hub: JupyterHub configuration and the modules it is built from.

`hub/jupyterhub_config.py` is the thin entry point JupyterHub loads; `python -m hub` starts a local hub.
"""
