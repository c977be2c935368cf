# A student's server: Jupyter Docker Stacks' TensorFlow image with CUDA, plus the course.
# Built from the repository root (docker compose build, or: docker build -f docker/singleuser.Dockerfile .).
# It runs as the image's non-root user (jovyan); the hub gives each container only its assigned GPUs.
FROM quay.io/jupyter/tensorflow-notebook:cuda-2026-09-01

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Korean fonts for plots; git for nbgitpuller.
USER root
RUN apt-get update --yes \
 && apt-get install --yes --no-install-recommends fonts-nanum git \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# The course package with what a student's server needs ([server] extra), from this repository's files,
# and the GPU dashboard for JupyterLab.
COPY --chown=${NB_UID}:${NB_GID} pyproject.toml README.md /tmp/course-src/
COPY --chown=${NB_UID}:${NB_GID} course/ /tmp/course-src/course/
USER ${NB_UID}
RUN pip install --no-cache-dir "/tmp/course-src[server]" "jupyterlab-nvdashboard==0.15.0" \
 && rm -rf /tmp/course-src \
 && fix-permissions "${CONDA_DIR}" \
 && fix-permissions "/home/${NB_USER}"

# The datasets, fetched at build time (early: editing the notebooks or start-up files does not fetch again);
# the compose file's `data` service copies them into the shared volume.
USER root
RUN mkdir -p /srv/data && chown "${NB_UID}:${NB_GID}" /srv/data
USER ${NB_UID}
RUN course data fetch --to /srv/data \
 && chmod -R a+rX /srv/data

# The student's side, the same folder local mode uses: content sync (nbgitpuller), the server's
# configuration (TensorBoard through jupyter-server-proxy) and the kernels' GPU settings. COPY writes it
# as root, so students cannot change it.
COPY singleuser/ /opt/course/singleuser/
COPY --chmod=0755 docker/before-notebook.d/10-course-content /usr/local/bin/before-notebook.d/
ENV JUPYTER_CONFIG_PATH=/opt/course/singleuser \
    PYTHONSTARTUP=/opt/course/singleuser/kernel_startup.py \
    COURSE_DATA_DIR=/srv/data \
    COURSE_CONTENT_REPO=file:///srv/course-content \
    COURSE_CONTENT_BRANCH=main

# The notebooks as a git repository: each start pulls them into ~/course (a student's edits are kept).
COPY --chown=${NB_UID}:${NB_GID} notebooks/ /srv/course-content/
RUN git -C /srv/course-content init --quiet --initial-branch=main \
 && git -C /srv/course-content add --all \
 && git -C /srv/course-content -c user.name="course image" -c user.email="image@course.invalid" \
        commit --quiet -m "Course content baked into the image" \
 && chmod -R a+rX /srv/course-content

WORKDIR /home/${NB_USER}
