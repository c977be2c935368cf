#!/usr/bin/env bash
# Installs what the tests need (Debian packages, npm packages, the .venv with the test extras, datasets),
# then runs every test: the library, the hub on loopback with a real browser, the Docker mode's static gate,
# and every notebook under nbval in fast mode. Extra arguments go to pytest (e.g. `-k datasets`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

export COURSE_DATA_DIR="${COURSE_DATA_DIR:-$PWD/var/data}"
export COURSE_FAST=1 COURSE_CHECKS_STRICT=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
export COURSE_PROGRESS_FILE="${COURSE_PROGRESS_FILE:-$PWD/var/test-progress.json}"
mkdir -p test-artifacts
exec .venv/bin/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=300 "$@"
