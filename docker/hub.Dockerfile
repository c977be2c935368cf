# The course hub: JupyterHub 5.5.4 with DockerSpawner (Docker mode, configured by hub/jupyterhub_config.py)
# and KubeSpawner (Kubernetes mode: the Zero to JupyterHub chart runs it; see deploy/kubernetes/).
# Built from the repository root (docker compose build, or: docker build -f docker/hub.Dockerfile .).
# Everything comes from this repository's own files: Python packages from pyproject.toml (the [docker]
# and [kubernetes] extras: JupyterHub, NativeAuthenticator, DockerSpawner, KubeSpawner, pycurl for the
# chart's configuration; no TensorFlow, no JupyterLab) and
# configurable-http-proxy from package.json / package-lock.json. The hub's code is `hub/`, with the
# settings registry from `course/settings.py`.
FROM python:3.12-slim-trixie

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Node.js runs configurable-http-proxy; `python -m hub` checks for git (content tooling).
RUN apt-get update \
 && apt-get install --yes --no-install-recommends nodejs npm git \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/course-platform

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
ENV PATH=/srv/course-platform/node_modules/.bin:${PATH}

COPY pyproject.toml README.md ./
COPY course/ course/
# DL3013: "." is this project; its pins (jupyterhub==5.5.4, nativeauthenticator==1.3.0, ...) live in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[docker,kubernetes]"

COPY hub/ hub/
# The chart starts `jupyterhub` itself, whose hub.extraConfig imports the course's hub/ from here.
ENV PYTHONPATH=/srv/course-platform

# The hub's state (database, secrets, GPU assignments) lives in a named volume mounted here.
ENV COURSE_HUB_MODE=docker \
    COURSE_HUB_STATE_DIR=/srv/jupyterhub \
    COURSE_HUB_BIND_URL=http://0.0.0.0:8000
VOLUME ["/srv/jupyterhub"]
EXPOSE 8000

# `python -m hub` prepares the state (secrets, first admin: the password appears once in
# `docker compose logs jupyterhub`) and runs JupyterHub with hub/jupyterhub_config.py.
CMD ["python", "-m", "hub"]
