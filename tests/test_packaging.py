"""What each install resolves, and dependency floors past the advisories known when they were set.

Two environments, as The Littlest JupyterHub keeps them: the hub's (`.[hub]`, and `.[docker]` and
`.[kubernetes]` for its image) has neither TensorFlow nor JupyterLab; a student's server (`.[server]`) has
both; local mode (`.[local]`) is the two together.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

# (package, first fixed version, advisories): a floor below the fixed version admits a known vulnerable release.
ADVISORIES = [
    ("jupyter-server-proxy", "4.2.0", "CVE-2024-28179 (4.1.1), CVE-2024-35225 (4.2.0)"),
    ("jupyterlab", "4.6.2", "CVE-2024-43805, CVE-2026-40171/42266/42557 (4.5.7), GHSA-vmhf-c436-hxj4 (4.5.9), "
                            "GHSA-pppj-hq3g-57pj and four more (4.6.2)"),
    ("jupyter-server", "2.21.0", "CVE-2026-44727 (2.20.0), GHSA-c3mw-737p-c7g2 (2.21.0)"),
    ("jupyterhub", "5.5.4", "the 5.x advisories, e.g. GHSA-9x4q-3gxw-849f (5.1.0)"),
    ("keras", "3.14.0", "CVE-2025-1550 (3.9), CVE-2025-8747 (3.11), CVE-2025-9906 (3.11.3), CVE-2026-1462, "
                        "CVE-2026-0897, GHSA-hqp4-2352-xf5r (3.14.0)"),
    ("tornado", "6.5.8", "CVE-2025-47287 (6.5.0), CVE-2025-67725/67726 (6.5.3), GHSA-mpf4-983q-p7j4 (6.5.8)"),
    ("requests", "2.32.4", "CVE-2024-35195 (2.32.0), CVE-2024-47081 (2.32.4)"),
    ("pytest", "9.0.3", "CVE-2025-71176"),
    ("check-jsonschema", "0.30.0", "CVE-2024-53848"),
    ("dockerspawner", "12.0.0", "GHSA-hfgr-h3vc-p6c2 (allowed_images)"),
    ("nbgitpuller", "0.10.2", "CVE-2021-39160"),
    ("setuptools", "78.1.1", "CVE-2024-6345 (70.0), CVE-2025-47273 (78.1.1)"),
]


def _requirements() -> list[tuple[str, Requirement]]:
    found = [("build-system", Requirement(r)) for r in PYPROJECT["build-system"]["requires"]]
    found += [("dependencies", Requirement(r)) for r in PYPROJECT["project"]["dependencies"]]
    for extra, items in PYPROJECT["project"]["optional-dependencies"].items():
        found += [(f"[{extra}]", Requirement(r)) for r in items]
    return found


def _lowest_allowed(requirement: Requirement) -> Version | None:
    floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==", "~=", ">")]
    return min(floors) if floors else None


@pytest.mark.parametrize("package, fixed, advisories", ADVISORIES, ids=[a[0] for a in ADVISORIES])
def test_every_floor_is_past_the_known_advisories(package, fixed, advisories):
    """Regression: `jupyter-server-proxy>=4.1` admitted releases with CVE-2024-28179 and CVE-2024-35225."""
    for where, requirement in _requirements():
        if requirement.name.lower() != package:
            continue
        lowest = _lowest_allowed(requirement)
        assert lowest is not None and lowest >= Version(fixed), \
            f"{where} {requirement}: raise the floor to >={fixed} ({advisories})"


def test_every_direct_dependency_has_a_floor():
    for where, requirement in _requirements():
        if requirement.name == "course":
            continue
        assert _lowest_allowed(requirement) is not None, f"{where} {requirement} has no lower bound"


def _resolve(extra: str, tmp_path: Path) -> set[str]:
    """What `pip install '.[extra]'` would install on a machine with nothing installed (pip's dry run)."""
    report = tmp_path / f"{extra}.json"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--report", str(report), f".[{extra}]"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip() and "WARNING: Location" not in line]
        pytest.fail(f"pip could not resolve .[{extra}] (the package index must be reachable): "
                    + (lines[-1] if lines else f"exit {done.returncode}"))
    return {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads(report.read_text())["install"]}


@pytest.mark.docker_static
@pytest.mark.parametrize("extra", ["hub", "docker", "kubernetes"])
def test_the_hubs_install_resolves_neither_tensorflow_nor_jupyterlab(extra, tmp_path):
    names = _resolve(extra, tmp_path)
    assert {"jupyterhub", "jupyterhub-nativeauthenticator", "course"} <= names  # it did resolve the hub
    heavy = {n for n in names if n.startswith(("tensorflow", "keras", "jupyterlab", "jupyter-server", "torch"))}
    assert not heavy, f".[{extra}] pulls {sorted(heavy)} into the hub's environment"
    assert "numpy" not in names and "matplotlib" not in names
    if extra == "docker":
        assert "dockerspawner" in names
    if extra == "kubernetes":
        assert {"jupyterhub-kubespawner", "pycurl"} <= names
