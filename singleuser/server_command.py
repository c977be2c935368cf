"""The command a student's server runs: sync ~/course with nbgitpuller, then start the server.

Runs as the student (the spawner's command; in Docker mode the image's start-up hook), so the files it
writes are theirs. Content sync never stops the server from starting: a failure is reported on stderr (the
server log) and the server starts anyway. Reads COURSE_CONTENT_REPO, COURSE_CONTENT_BRANCH and
COURSE_CONTENT_DIR (default ~/course), the same names the hub reads.

Usage: python server_command.py -- jupyterhub-singleuser [args...]

The single-user server then runs in this same process (other commands are exec'd) with one start-up cost
removed: jsonschema's optional IRI format checker (`rfc3987_syntax`) compiles a grammar at import, about
3 s of CPU per server, and nothing in a student's server needs it (jsonschema treats it as not installed).
With thirty students starting at once on a small machine, that is most of the difference.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def _trust_repo(path: str) -> str:
    """A git config file (used as the global one during the sync) that trusts the hub's repository.

    The hub-built repository belongs to another user; git refuses to read it unless it is listed in
    `safe.directory`, which git only takes from the global or system configuration. The file includes
    the student's own ~/.gitconfig, so nothing else changes.
    """
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(cache) / "course-hub"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "gitconfig"
    lines = ["[include]", f"\tpath = {Path.home() / '.gitconfig'}", "[safe]",
             f"\tdirectory = {path}", f"\tdirectory = {path.rstrip('/')}/.git"]
    config.write_text("\n".join(lines) + "\n")
    return str(config)


def sync_content(url: str, branch: str, target: Path) -> list[str]:
    """Pull `url`@`branch` into `target` with nbgitpuller's rules; return its log lines."""
    from nbgitpuller.pull import GitPuller

    local = not url.startswith(("http://", "https://", "git@", "ssh://"))
    saved = os.environ.get("GIT_CONFIG_GLOBAL")
    if local:
        os.environ["GIT_CONFIG_GLOBAL"] = _trust_repo(url[len("file://"):] if url.startswith("file://") else url)
    try:
        if target.exists() and not (target / ".git").is_dir():
            raise RuntimeError(f"{target} exists but is not a synced course folder; "
                               "rename it to get a fresh copy")
        target.parent.mkdir(parents=True, exist_ok=True)
        puller = GitPuller(url, str(target), branch=branch, depth=0 if local else 1)
        return [line.rstrip() for line in puller.pull()]
    finally:
        if saved is None:
            os.environ.pop("GIT_CONFIG_GLOBAL", None)
        else:
            os.environ["GIT_CONFIG_GLOBAL"] = saved


def _content_settings() -> tuple[str | None, str, Path]:
    """COURSE_CONTENT_REPO, COURSE_CONTENT_BRANCH and COURSE_CONTENT_DIR; a bad value is logged, never fatal."""
    from course import settings

    values = []
    for setting in (settings.CONTENT_REPO, settings.CONTENT_BRANCH, settings.CONTENT_DIR):
        value, warning = setting.read_or_default(os.environ)
        if warning:
            print(f"course content: {warning}", file=sys.stderr)
        values.append(value)
    return values[0], values[1], values[2]


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        print("usage: server_command.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    url, branch, target = _content_settings()
    if url:
        try:
            sync_content(url, branch, target)
            print(f"course content: {target} is up to date with {url}", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - the server must start even if the sync fails
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            print(f"course content: sync from {url} failed ({detail}); starting without it", file=sys.stderr)
    sys.stderr.flush()
    if Path(argv[0]).name == "jupyterhub-singleuser":
        return run_singleuser(argv)
    os.execvp(argv[0], argv)
    return 0  # not reached


def run_singleuser(argv: list[str]) -> int:
    """Run jupyterhub-singleuser in this process, without the slow optional IRI checker."""
    sys.modules.setdefault("rfc3987_syntax", None)  # an import of it now raises ImportError
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) != here]  # this folder is not a library
    sys.argv = argv
    from jupyterhub.singleuser import main as singleuser

    return singleuser() or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
