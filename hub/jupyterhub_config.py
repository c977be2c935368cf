"""JupyterHub configuration for the course hub (kept thin: the logic lives in the `hub` modules).

Started by `python -m hub` (local mode) or by the hub container (Docker mode). Settings come from the
environment; see `.env.example`. Kubernetes mode does not use this file: the Zero to JupyterHub chart's own
configuration calls `hub.kubernetes_mode` from the values' hub.extraConfig (deploy/kubernetes/).
"""
import os

from hub.common import configure_common
from hub.settings import SettingsError, load_settings

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

try:
    settings = load_settings(os.environ)
except SettingsError as exc:
    raise SystemExit(f"course hub: {exc}") from None
if settings.mode == "kubernetes":
    raise SystemExit("course hub: COURSE_HUB_MODE=kubernetes runs in the Zero to JupyterHub chart's hub pod "
                     "(helm upgrade --install with deploy/kubernetes/values.yaml; see deploy/kubernetes/README.md)")
configure_common(c, settings)

if settings.mode == "docker":
    from hub.docker_spawner import configure_docker

    configure_docker(c, settings)
else:
    from hub.local_spawner import configure_local

    configure_local(c, settings)
