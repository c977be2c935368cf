#!/usr/bin/env bash
# The main job: installs what the course needs (first run only), then starts the course hub in its embedded
# local mode at http://127.0.0.1:8000 (JupyterHub + configurable-http-proxy + one JupyterLab per student).
# Settings come from the environment or a .env file (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -f .env ]; then set -a; . ./.env; set +a; fi
export COURSE_DATA_DIR="${COURSE_DATA_DIR:-$PWD/var/data}"
exec .venv/bin/python -m hub "$@"
