#!/usr/bin/env bash
# Installs what the tests need (Debian packages, npm packages, the .venv with the test extras, datasets),
# then lints (ruff) and runs every test tier: the library, the hub on loopback with a real browser, the
# Docker mode's static gate and its live deployment (the docker tier, beside the others), and every notebook
# under nbval in fast mode. A tier that cannot run fails the run (--require-all-tiers) instead of being
# skipped. Extra arguments go to pytest (e.g. `-k datasets`, `-m docker`) and run only what they choose.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

export COURSE_DATA_DIR="${COURSE_DATA_DIR:-$PWD/var/data}"
export COURSE_FAST=1 COURSE_CHECKS_STRICT=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
# The chapters' kernels record their checks here. A fresh file every run: the test that follows the
# notebooks (notebooks-record-no-exercise, in conftest.py) proves from it that executing the chapters as
# committed records no exercise, only the chapters' own results.
export COURSE_PROGRESS_FILE="$PWD/var/test-progress.json"
mkdir -p var && rm -f "$COURSE_PROGRESS_FILE" "$COURSE_PROGRESS_FILE.lock"
mkdir -p test-artifacts

printf '\033[1m==> %s\033[0m\n' "ruff check"
.venv/bin/ruff check .

# The chapters run from a fresh copy of what git tracks: what they write (logs, checkpoints) stays out of
# notebooks/, which is what every student receives.
NOTEBOOK_RUN=var/test-notebooks
rm -rf "$NOTEBOOK_RUN" && mkdir -p "$NOTEBOOK_RUN"
if git ls-files --error-unmatch notebooks >/dev/null 2>&1; then
  git ls-files -z -- notebooks | while IFS= read -r -d '' file; do
    rel=${file#notebooks/}
    mkdir -p "$NOTEBOOK_RUN/$(dirname "$rel")" && cp "$file" "$NOTEBOOK_RUN/$rel"
  done
else
  cp -R notebooks/. "$NOTEBOOK_RUN/"
fi

PYTEST=(.venv/bin/python -m pytest --require-all-tiers)
if [ $# -gt 0 ]; then  # a chosen part (-m unit, -k datasets, a file): one run, the docker tier only if chosen
  exec "${PYTEST[@]}" tests "$NOTEBOOK_RUN" --nbval-lax --nbval-cell-timeout=300 "$@"
fi

# Everything: the docker tier (its own engine, image builds, a compose deployment: mostly waiting on the network
# and on containers) runs in a pytest of its own beside the other tiers, and its report follows theirs.
DOCKER_LOG=var/docker-tier.log
printf '\033[1m==> %s\033[0m\n' "docker tier: running beside the other tiers (report at the end; live: $DOCKER_LOG)"
"${PYTEST[@]}" -p no:cacheprovider tests/docker >"$DOCKER_LOG" 2>&1 &
docker_pid=$!
trap 'kill -INT "$docker_pid" 2>/dev/null || true' EXIT
set +e
"${PYTEST[@]}" tests "$NOTEBOOK_RUN" -m "not docker" --nbval-lax --nbval-cell-timeout=300
others=$?
wait "$docker_pid"
docker=$?
set -e
trap - EXIT
printf '\033[1m==> %s\033[0m\n' "docker tier (ran beside the others)"
cat "$DOCKER_LOG"
if [ "$others" -ne 0 ] || [ "$docker" -ne 0 ]; then
  printf '\033[1m==> %s\033[0m\n' "FAILED: the other tiers exited $others, the docker tier $docker"
  exit 1
fi
