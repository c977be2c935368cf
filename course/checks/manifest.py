"""The questions as data (`questions.json` beside this module), for the parts that cannot import the checks.

The hub's gradebook has no NumPy or TensorFlow, so it cannot import the question modules; it reads this
file instead: every question's id, chapter, kind (exercise or chapter result), title and number of hidden
cases. A test keeps the file equal to the registry; `python -m course.checks.manifest` rewrites it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from course.checks.catalog import registry

MANIFEST = Path(__file__).with_name("questions.json")


def manifest() -> dict[str, Any]:
    """Every registered question, in id order, as plain data."""
    questions = [
        {"id": q.id, "chapter": q.chapter, "kind": q.kind, "title": q.title, "hidden_cases": q.hidden_cases}
        for q in sorted(registry().values(), key=lambda q: q.id)
    ]
    return {"version": 1, "questions": questions}


def render() -> str:
    return json.dumps(manifest(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write questions.json (``--check``: exit 1 when it is out of date instead)."""
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        current = MANIFEST.read_text(encoding="utf-8") if MANIFEST.exists() else ""
        if current != render():
            print(f"{MANIFEST} is out of date: run python -m course.checks.manifest", file=sys.stderr)
            return 1
        return 0
    MANIFEST.write_text(render(), encoding="utf-8")
    print(f"wrote {MANIFEST} ({len(manifest()['questions'])} questions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
