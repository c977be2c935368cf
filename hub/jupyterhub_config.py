"""JupyterHub configuration for the course hub (kept thin: the logic lives in the `hub` modules).

Started by `python -m hub` (local mode) or by the hub container (Docker mode). Settings come from the
environment; see `.env.example`.
"""
import os

from hub.common import configure_common
from hub.settings import SettingsError, load_settings

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

try:
    settings = load_settings(os.environ)
except SettingsError as exc:
    raise SystemExit(f"course hub: {exc}") from None
configure_common(c, settings)

if settings.mode == "docker":
    from hub.docker_spawner import configure_docker

    configure_docker(c, settings)
else:
    from hub.local_spawner import configure_local

    configure_local(c, settings)
