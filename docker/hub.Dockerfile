# The course hub: JupyterHub 5.5.4 with DockerSpawner (Docker mode, configured by hub/jupyterhub_config.py) and
# KubeSpawner (Kubernetes mode: the Zero to JupyterHub chart runs it; see deploy/kubernetes/), on Debian.
# Built from the repository root by `docker compose build`, or: docker build -f docker/hub.Dockerfile .
# Everything comes from this repository's own files: the Python packages from pyproject.toml (the [docker] and
# [kubernetes] extras: JupyterHub, NativeAuthenticator, DockerSpawner, KubeSpawner, pycurl for the chart's
# configuration; no TensorFlow, no JupyterLab), configurable-http-proxy from package-lock.json, the hub's code
# (`hub/`, with the settings registry in `course/`) and the notebooks it serves as the course content.
# Behind a TLS-inspecting network, put its CA certificate in docker/build-ca/ (used while building, never kept).
# Works with BuildKit and with the classic builder (no `RUN --mount`, no `COPY --chmod`).

FROM debian:trixie-slim AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Node.js runs configurable-http-proxy; git keeps the course content's history; tini is the init.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends \
        python3 nodejs git tini ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# ---- build: the Python and npm packages, from pyproject.toml and package-lock.json alone -------------------------
FROM base AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY docker/build-ca/ /tmp/build-ca/
WORKDIR /srv/course-platform
# configurable-http-proxy as package-lock.json pins it (each package checked against the lock's hash), the
# same version local mode's `npm ci` installs; no npm needed.
COPY package-lock.json docker/npm_lock_install.py /tmp/npm/
RUN . /tmp/build-ca/trust.sh \
 && python3 /tmp/npm/npm_lock_install.py /tmp/npm/package-lock.json /srv/course-platform/node_modules --omit-dev
COPY pyproject.toml README.md /tmp/course-src/
# DL3013: "." is this project; its pins (jupyterhub==5.5.4, nativeauthenticator==1.3.0, ...) live in pyproject.toml.
# hadolint ignore=DL3013
RUN . /tmp/build-ca/trust.sh \
 && mkdir /tmp/course-src/course && touch /tmp/course-src/course/__init__.py \
 && python3 -m venv /opt/course/venv \
 && /opt/course/venv/bin/pip install --no-cache-dir "/tmp/course-src[docker,kubernetes]" "setuptools>=78.1.1" \
 && /opt/course/venv/bin/pip uninstall --yes --quiet course

# ---- the image -------------------------------------------------------------------------------------------------
FROM base
COPY --from=build /opt/course/venv /opt/course/venv
COPY --from=build /srv/course-platform/node_modules /srv/course-platform/node_modules
WORKDIR /srv/course-platform
COPY pyproject.toml README.md ./
COPY course/ course/
COPY hub/ hub/
# Editable: `hub` and `course` run from here, where the hub also finds node_modules/ and notebooks/.
RUN /opt/course/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation --quiet --editable . \
 && rm -rf build
# The course content the hub commits into its content repository (a new version whenever these change).
COPY notebooks/ notebooks/

ENV PATH=/opt/course/venv/bin:/srv/course-platform/node_modules/.bin:${PATH} \
    PYTHONPATH=/srv/course-platform \
    COURSE_HUB_MODE=docker \
    COURSE_HUB_STATE_DIR=/srv/jupyterhub \
    COURSE_HUB_BIND_URL=http://0.0.0.0:8000
# The hub's state (database, secrets, GPU assignments) lives in a named volume mounted here.
VOLUME ["/srv/jupyterhub"]
EXPOSE 8000
ENTRYPOINT ["tini", "-g", "--"]
# `python -m hub` prepares the state (secrets, the content repository, the first admin: the password appears
# once in `docker compose logs jupyterhub`) and runs JupyterHub with hub/jupyterhub_config.py.
CMD ["python", "-m", "hub"]
