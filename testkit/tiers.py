"""The test tiers, and what each needs on this machine.

`unit` (the default) runs anywhere the course is installed. The others need system packages: a plain
`pytest` skips them and says why; with `--require-all-tiers` (scripts/test.sh, so CI) a missing part fails.
"""
from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium on a machine with no display and a closed network (never a downloaded browser).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRE_ALL = "--require-all-tiers"
# The one kind of skip --require-all-tiers lets through: a reference file the project may not carry (the Zero
# to JupyterHub chart's values schema and defaults, which ../shared/schemas/ beside the checkout holds where
# it is present). The tests that need it say so in their skip reason, starting with this text.
OUTSIDE_PROJECT = "reference outside the project is absent: "

TIERS = {
    "unit": "the library and the hub's modules on their own",
    "hub": "the real hub on loopback: JupyterHub, configurable-http-proxy, students' servers",
    "browser": "Debian's Chromium driven by Playwright against the live hub",
    "docker_static": "the Docker mode's gate without an engine: hadolint, the compose schema, docker-py, pip",
    "kubernetes_static": "the Kubernetes mode's gate without a cluster: the chart's values schema, KubeSpawner's "
                         "pod manifests against the Kubernetes API schema",
    "notebooks": "every chapter executed by nbval in fast mode",
    "docker": "the compose deployment built and run live on a Docker engine the tests start (as root)",
}


def venv_tool(name: str) -> str | None:
    """A command installed beside this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _missing_modules(*names: str) -> str | None:
    gone = [n for n in names if importlib.util.find_spec(n) is None]
    return f"Python package(s) {', '.join(gone)} not installed (pip install -e '.[test]')" if gone else None


@functools.cache
def tier_problem(tier: str) -> str | None:
    """Why `tier` cannot run on this machine, or None when it can."""
    if tier == "hub":
        proxy = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
        if not proxy.exists() and not shutil.which("configurable-http-proxy"):
            return "configurable-http-proxy is missing: run `npm ci` (scripts/setup.sh does)"
        if not shutil.which("git"):
            return "git is missing: apt-get install git"
        return _missing_modules("jupyterhub", "nativeauthenticator", "jupyterlab", "nbgitpuller")
    if tier == "browser":
        if not CHROMIUM.exists():
            return "Chromium is missing: apt-get install chromium (the tests never download a browser)"
        return tier_problem("hub") or _missing_modules("playwright")
    if tier == "docker_static":
        for tool in ("hadolint", "check-jsonschema"):
            if venv_tool(tool) is None:
                return f"{tool} is missing: pip install -e '.[test]'"
        return _missing_modules("dockerspawner", "docker", "yaml")
    if tier == "kubernetes_static":
        # Without the chart's own files beside the checkout only the tests that need them skip (OUTSIDE_PROJECT).
        return _missing_modules("kubespawner", "kubernetes_validate", "jsonschema", "yaml")
    if tier == "docker":
        import os

        from testkit.docker_engine import missing_tools

        missing = missing_tools()
        if missing:
            return f"{', '.join(missing)} missing: apt-get install {' '.join(missing)} (scripts/setup.sh --test does)"
        if os.geteuid() != 0:
            return "the docker tier starts a Docker engine of its own, which needs root"
        return _missing_modules("docker", "playwright", "websocket")
    if tier == "notebooks":
        missing = _missing_modules("nbval", "tensorflow")
        if missing:
            return missing
        probe = "import course.datasets as d; d.load_mnist(download=False)"
        if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode != 0:
            return "no MNIST in COURSE_DATA_DIR or the cache: run scripts/setup.sh (it fills var/data)"
    return None


def require(config: pytest.Config, reason: str | None) -> None:
    """Skip the current test when `reason` names something missing; fail instead under --require-all-tiers."""
    if reason is None:
        return
    if config.getoption(REQUIRE_ALL):
        pytest.fail(f"{reason} (scripts/test.sh runs every tier)", pytrace=False)
    pytest.skip(reason)
