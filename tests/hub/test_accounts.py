"""Accounts in the hub database, the roster CSV and `course hub users ...`."""
from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hub import accounts
from hub.roster import RosterError, read_roster
from hub.settings import REPO_ROOT, load_settings


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings({"COURSE_HUB_STATE_DIR": str(tmp_path / "state")})


def test_approval_sets_the_state_and_never_toggles(settings):
    db = accounts.open_db(settings)
    assert accounts.create_account(db, "alice", "pw-alice-1", approved=False)
    assert not accounts.create_account(db, "alice", "other")  # exists: unchanged
    assert accounts.set_approval(db, "alice", True) is False
    assert accounts.set_approval(db, "alice", True) is True   # approving twice keeps it approved
    assert accounts.find(db, "alice").is_authorized
    accounts.set_approval(db, "alice", False)
    accounts.set_approval(db, "alice", False)
    assert not accounts.find(db, "alice").is_authorized
    with pytest.raises(accounts.AccountsError, match="no account named 'nobody'"):
        accounts.set_approval(db, "nobody", True)
    with pytest.raises(accounts.AccountsError, match="not a valid user name"):
        accounts.create_account(db, "Bad Name", "x")
    assert accounts.list_accounts(db) == [("alice", False)]
    db.close()


def test_a_selection_is_approved_at_once_and_pending_accounts_come_oldest_first(settings):
    db = accounts.open_db(settings)
    for name in ("zoe", "amy", "bo"):
        accounts.create_account(db, name, f"pw-{name}-123", approved=False)
    accounts.create_account(db, "cat", "pw-cat-123", approved=True)
    assert accounts.pending(db) == ["zoe", "amy", "bo"]  # sign-up order, not alphabetical
    assert set(accounts.signup_times(db)) == {"zoe", "amy", "bo", "cat"}
    with pytest.raises(accounts.AccountsError, match="no account named 'nobody'"):
        accounts.set_approvals(db, ["zoe", "nobody"], True)
    assert accounts.pending(db) == ["zoe", "amy", "bo"]  # an unknown name: nothing changed
    assert accounts.set_approvals(db, ["zoe", "cat", "zoe"], True) == ["zoe"]  # cat was approved already
    assert accounts.set_approvals(db, ["zoe", "amy", "bo"], True) == ["amy", "bo"]
    assert accounts.set_approvals(db, ["zoe", "amy", "bo"], True) == []  # a set, not a toggle
    assert accounts.pending(db) == []
    db.close()


def test_changes_from_another_session_are_seen(settings):
    """The hub keeps one long session; the CLI writes through another one."""
    hub_db, cli_db = accounts.open_db(settings), accounts.open_db(settings)
    accounts.create_account(cli_db, "bob", "pw-bob-123", approved=False)
    assert not accounts.find(hub_db, "bob").is_authorized
    accounts.set_approval(cli_db, "bob", True)
    assert accounts.find(hub_db, "bob").is_authorized
    accounts.set_one_time(cli_db, "bob", True)
    assert accounts.is_one_time(hub_db, "bob")
    hub_db.close(), cli_db.close()


def test_logins_do_not_wait_for_asyncio_default_pool(settings):
    """The spawner's pre-start steps run on asyncio's default pool; a login must not queue behind them
    (nor they behind a class's logins): with that pool fully taken, a login still completes, and a wrong
    password is still refused."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from hub.auth import CourseAuthenticator

    db = accounts.open_db(settings)
    accounts.create_account(db, "carol", "pw-carol-1")
    auth = CourseAuthenticator(add_new_table=False)
    auth.db = db

    async def login_while_the_default_pool_is_busy():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        release = threading.Event()
        busy = loop.run_in_executor(None, release.wait, 30)
        try:
            good = await asyncio.wait_for(auth.authenticate(None, {"username": "carol", "password": "pw-carol-1"}), 20)
            bad = await asyncio.wait_for(auth.authenticate(None, {"username": "carol", "password": "wrong-pw-1"}), 20)
            return good, bad
        finally:
            release.set()
            await busy

    assert asyncio.run(login_while_the_default_pool_is_busy()) == ("carol", None)
    db.close()


def _roster(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_roster_reads_usernames_and_ignores_other_columns(tmp_path):
    path = _roster(tmp_path, "\ufeffName,Username,Email\n김민수,Kim.Minsu,k@example.org\n\nLee,lee,\n")
    assert read_roster(path) == ["kim.minsu", "lee"]


@pytest.mark.parametrize("text, message", [
    ("", "empty; the first line must be a header"),
    ("name,email\nKim,k@x\n", "line 1 must be a header with a `username` column (found: name, email)"),
    ("username\n", "no students listed"),
    ("username,name\n,Kim\n", "line 2 has no username"),
    ("username\nkim\nlee\nKIM\n", "line 4: 'kim' is already on line 2"),
    ("username\nkim min\n", "line 2: 'kim min' is not a valid user name"),
    ("username\nadmin\n", "line 2: 'admin' is an admin name"),
])
def test_bad_rosters_are_refused_with_the_line(tmp_path, text, message):
    with pytest.raises(RosterError) as err:
        read_roster(_roster(tmp_path, text), reserved={"admin"})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_roster_that_is_not_text_or_missing(tmp_path):
    (tmp_path / "roster.xlsx").write_bytes(b"PK\x03\x04\xff\xfe\x00")
    with pytest.raises(RosterError, match="not UTF-8 text"):
        read_roster(tmp_path / "roster.xlsx")
    with pytest.raises(RosterError, match="no such file"):
        read_roster(tmp_path / "missing.csv")


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run `course hub ...` in this process; returns (exit code, stdout, stderr)."""
    from hub.cli import main

    def run(args: list[str], state: Path):
        for name in [n for n in os.environ if n.startswith("COURSE_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("COURSE_HUB_STATE_DIR", str(state))
        code = main(args)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def test_users_add_from_roster_creates_approved_accounts_with_private_one_time_passwords(tmp_path, cli):
    state = tmp_path / "state"
    roster = _roster(tmp_path, "username,name\nana,Ana\nben,Ben\n")
    out = tmp_path / "private" / "passwords.csv"
    done = cli(["users", "add", "--from", str(roster), "--out", str(out)], state)
    assert done.returncode == 0, done.stderr
    assert "Created 2 approved account(s)" in done.stdout and str(out) in done.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open()))
    assert [r["username"] for r in rows] == ["ana", "ben"]
    passwords = {r["username"]: r["password"] for r in rows}
    assert len(set(passwords.values())) == 2 and all(len(p) == 16 for p in passwords.values())
    for password in passwords.values():
        assert password not in done.stdout + done.stderr
    db = accounts.open_db(load_settings({"COURSE_HUB_STATE_DIR": str(state)}))
    for name, password in passwords.items():
        info = accounts.find(db, name)
        assert info.is_authorized and info.is_valid_password(password)
        assert accounts.is_one_time(db, name)
    db.close()
    # a second run leaves existing accounts alone and refuses to overwrite the password file
    again = cli(["users", "add", "--from", str(roster), "--out", str(out)], state)
    assert again.returncode == 2 and "already exists; choose another --out file" in again.stderr
    third = cli(["users", "add", "--from", str(roster), "--out", str(tmp_path / "p2.csv")], state)
    assert third.returncode == 0 and "Already existed, left unchanged: ana, ben" in third.stdout
    assert not (tmp_path / "p2.csv").exists()
    listing = cli(["users", "list"], state)
    assert "ana" in listing.stdout and "approved" in listing.stdout


def test_course_cli_has_the_hub_commands():
    done = subprocess.run([sys.executable, "-m", "hub.cli", "users", "--help"], cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True)
    assert done.returncode == 0 and "add" in done.stdout and "approve" in done.stdout


def test_users_add_with_a_bad_roster_prints_one_line_and_creates_nothing(tmp_path, cli):
    state = tmp_path / "state"
    roster = _roster(tmp_path, "username\nana\nAna\n")
    done = cli(["users", "add", "--from", str(roster)], state)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"course hub: {roster}: line 3: 'ana' is already on line 2"
    assert not state.exists()


def test_users_approve_and_revoke_set_the_state(tmp_path, cli):
    state = tmp_path / "state"
    db = accounts.open_db(load_settings({"COURSE_HUB_STATE_DIR": str(state)}))
    accounts.create_account(db, "cara", "pw-cara-123", approved=False)
    db.close()
    assert "cara: approved" in cli(["users", "approve", "cara"], state).stdout
    assert "cara: approved (unchanged)" in cli(["users", "approve", "cara"], state).stdout
    assert "cara: not approved" in cli(["users", "revoke", "cara"], state).stdout
    missing = cli(["users", "approve", "zed"], state)
    assert missing.returncode == 2 and "no account named 'zed'" in missing.stderr


def test_users_approve_pending_approves_everyone_waiting(tmp_path, cli):
    state = tmp_path / "state"
    db = accounts.open_db(load_settings({"COURSE_HUB_STATE_DIR": str(state)}))
    for name in ("dan", "eve"):
        accounts.create_account(db, name, f"pw-{name}-123", approved=False)
    accounts.create_account(db, "fox", "pw-fox-123", approved=True)
    db.close()
    both = cli(["users", "approve", "--pending", "dan"], state)
    # (the last line: the first command's output also holds the log of the database set-up above)
    assert both.returncode == 2 and both.stderr.strip().splitlines()[-1] == (
        "course hub: give either account names or --pending (everyone waiting), not both")
    neither = cli(["users", "approve"], state)
    assert neither.returncode == 2 and neither.stderr.strip() == (
        "course hub: name the accounts to approve, or use --pending for everyone waiting")
    done = cli(["users", "approve", "--pending"], state)
    assert done.returncode == 0 and done.stdout.strip() == "Approved 2 account(s): dan, eve"
    again = cli(["users", "approve", "--pending"], state)
    assert again.returncode == 0 and again.stdout.strip() == "Nobody is waiting for approval."
    listing = cli(["users", "list"], state).stdout
    assert "waiting" not in listing and all(name in listing for name in ("dan", "eve", "fox"))
