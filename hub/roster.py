"""Roster files: a CSV with a `username` column (other columns, such as name or email, are ignored)."""
from __future__ import annotations

import csv
import os
from pathlib import Path

from course.settings import HUB_ADMIN_USERS, HUB_NAME_HELP
from hub.system_users import valid_hub_name


class RosterError(ValueError):
    """The roster cannot be used; the message names the file, the line and what to fix."""


def read_roster(path: Path, reserved: set[str] = frozenset()) -> list[str]:
    """The user names in the roster, in file order; every problem is found before anything is created."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not UTF-8 text; save the roster as CSV (UTF-8)") from None
    except IsADirectoryError:
        raise RosterError(f"{path}: is a folder, not a CSV file") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RosterError(f"{path}: empty; the first line must be a header such as `username,name`")
    header = [cell.strip().lower() for cell in rows[0]]
    if "username" not in header:
        raise RosterError(f"{path}: line 1 must be a header with a `username` column "
                          f"(found: {', '.join(h for h in header if h) or 'nothing'})")
    column = header.index("username")
    names: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        raw = row[column].strip() if column < len(row) else ""
        name = raw.lower()
        if not name:
            raise RosterError(f"{path}: line {number} has no username")
        if not valid_hub_name(name):
            raise RosterError(f"{path}: line {number}: {raw!r} is not a valid user name: {HUB_NAME_HELP}")
        if name in reserved:
            raise RosterError(f"{path}: line {number}: {name!r} is an admin name; admins are set with "
                              f"{HUB_ADMIN_USERS.name}")
        if name in seen:
            raise RosterError(f"{path}: line {number}: {name!r} is already on line {seen[name]}")
        seen[name] = number
        names.append(name)
    if not names:
        raise RosterError(f"{path}: no students listed under the header")
    return names


def write_passwords(path: Path, rows: list[tuple[str, str]]) -> None:
    """Write `username,password` lines to a new file only its owner can read (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise RosterError(f"{path}: already exists; choose another --out file") from None
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["username", "password"])
        writer.writerows(rows)
