"""`python -m hub`: prepare the hub's state and run JupyterHub in the foreground (local mode by default).

Options: --check (validate the settings and exit). Settings come from the environment (see .env.example).
"""
from __future__ import annotations

import argparse
import os
import sys

from hub.settings import REPO_ROOT, SettingsError, load_settings

CONFIG_FILE = REPO_ROOT / "hub" / "jupyterhub_config.py"


def hub_environment() -> dict[str, str]:
    """The environment JupyterHub runs with: ours, with the repository importable (for `hub.*`)."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub", description="Start the course hub.")
    parser.add_argument("--check", action="store_true", help="validate the settings and exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"course hub: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"course hub: settings are valid ({settings.mode} mode, {settings.bind_url})")
        return 0
    from hub.prepare import StartupError, prepare, startup_message

    try:
        done = prepare(settings)
    except StartupError as exc:
        print(f"course hub: {exc}", file=sys.stderr)
        return 1
    print(startup_message(done), flush=True)
    os.chdir(settings.state_dir)
    argv_hub = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)]
    os.execve(sys.executable, argv_hub, hub_environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
