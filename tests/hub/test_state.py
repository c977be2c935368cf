"""Secrets, the first admin, the start-up message, and system-user names."""
from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from hub import accounts
from hub.prepare import Prepared, StartupError, make_read_only_for_students, prepare, startup_message
from hub.secret_files import ensure_secrets
from hub.settings import load_settings
from hub.system_users import (
    AccountError,
    home_dir,
    running_as_root,
    student_access_problems,
    system_username,
    valid_hub_name,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_created_once_with_mode_0600(tmp_path: Path):
    first = ensure_secrets(tmp_path)
    folder = tmp_path / "secrets"
    assert _mode(folder) == 0o700
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["course_tools_token", "gradebook_cookie_secret", "gradebook_token",
                                       "idle_culler_token", "jupyterhub_cookie_secret", "proxy_auth_token"]
    assert all(_mode(f) == 0o600 for f in files)
    assert len({first.proxy_auth_token, first.culler_token, first.tools_token, first.gradebook_token}) == 4
    assert len(first.proxy_auth_token) == 64 and int(first.proxy_auth_token, 16) >= 0
    os.chmod(folder / "proxy_auth_token", 0o644)  # drifted permissions are put back
    assert ensure_secrets(tmp_path) == first
    assert _mode(folder / "proxy_auth_token") == 0o600


def _settings(tmp_path: Path, **env):
    base = {"COURSE_HUB_STATE_DIR": str(tmp_path / "state"), "COURSE_HUB_NOTEBOOKS_DIR": str(tmp_path / "nb"),
            "COURSE_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "nb").mkdir(exist_ok=True)
    (tmp_path / "nb" / "00_setup.ipynb").write_text("{}")
    return load_settings({**base, **env})


def test_prepare_creates_admin_with_generated_one_time_password_shown_once(open_tmp: Path):
    tmp_path = open_tmp
    settings = _settings(tmp_path)
    done = prepare(settings)
    [admin] = done.new_admins
    assert admin.username == "admin" and admin.password and len(admin.password) == 16
    message = startup_message(done)
    assert f"admin / {admin.password}" in message
    assert "http://127.0.0.1:8000/" in message and "hub/authorize" in message
    assert "Gradebook:   http://127.0.0.1:8000/services/gradebook/" in message
    # nothing on disk holds the password in plain text
    for path in settings.state_dir.rglob("*"):
        if path.is_file():
            assert admin.password.encode() not in path.read_bytes(), path
    db = accounts.open_db(settings)
    info = accounts.find(db, "admin")
    assert info.is_authorized and info.is_valid_password(admin.password)
    assert accounts.is_one_time(db, "admin")
    db.close()
    assert _mode(settings.state_dir) == 0o711
    assert _mode(settings.state_dir / "jupyterhub.sqlite") == 0o600
    again = prepare(settings)  # a second start shows no password
    assert again.new_admins == [] and admin.password not in startup_message(again)
    assert "the password you set" in startup_message(again)


def test_admin_password_from_environment_is_used_and_can_recover_access(open_tmp: Path):
    settings = _settings(open_tmp, COURSE_HUB_ADMIN_PASSWORD="first-password")
    prepare(settings)
    settings2 = replace(settings, admin_password="second-password")
    done = prepare(settings2)
    assert [a.username for a in done.new_admins] == ["admin"] and done.new_admins[0].password is None
    db = accounts.open_db(settings)
    info = accounts.find(db, "admin")
    assert info.is_valid_password("second-password") and not info.is_valid_password("first-password")
    assert not accounts.is_one_time(db, "admin")
    db.close()
    assert "second-password" not in startup_message(done)


def test_state_inside_a_private_folder_is_refused_when_students_are_system_users(tmp_path: Path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    settings = _settings(private)
    if running_as_root():
        with pytest.raises(StartupError) as err:
            prepare(settings)
        message = str(err.value)
        assert message.startswith(f"COURSE_HUB_STATE_DIR={private / 'state'} is inside ")
        assert "which students' accounts cannot enter (mode 700)" in message and "\n" not in message
    else:
        prepare(settings)  # as an ordinary user every server runs as that user: nothing to check


def test_startup_message_says_plainly_when_servers_share_one_user(tmp_path: Path):
    settings = _settings(tmp_path)
    shared = startup_message(Prepared(settings, as_root=False))
    assert "not running as root" in shared and "can read and change each other's files" in shared
    private = startup_message(Prepared(settings, as_root=True))
    assert "own system user (course-<name>)" in private and "WARNING" not in private


def test_shared_data_is_made_read_only_for_others(tmp_path: Path):
    data = tmp_path / "data"
    (data / "mnist").mkdir(parents=True)
    (data / "mnist" / "train.npz").write_bytes(b"x")
    os.chmod(data / "mnist", 0o777)
    os.chmod(data / "mnist" / "train.npz", 0o666)
    make_read_only_for_students(data)
    assert _mode(data / "mnist") == 0o755 and _mode(data / "mnist" / "train.npz") == 0o644


@pytest.mark.parametrize("name", ["alice", "kim.minsu", "s01", "a-b_c", "x" * 24])
def test_valid_names_map_to_prefixed_system_users(name, tmp_path):
    assert valid_hub_name(name)
    assert system_username(name) == "course-" + name
    assert home_dir(tmp_path, name) == tmp_path / name


@pytest.mark.parametrize("name", ["root", "../etc", "Alice", "1abc", "", "a b", "x" * 25, "a/b", "김민수"])
def test_unsafe_names_are_refused(name, tmp_path):
    if name == "root":  # a valid name, but it can never become the system user root
        assert system_username(name) == "course-root"
        return
    assert not valid_hub_name(name)
    with pytest.raises(AccountError):
        system_username(name)
    with pytest.raises(AccountError):
        home_dir(tmp_path, name)


def test_folders_other_users_cannot_enter_are_found(tmp_path: Path):
    locked = tmp_path / "locked"
    (locked / "inner").mkdir(parents=True)
    target = locked / "inner" / "python"
    target.write_text("")
    os.chmod(locked, 0o700)
    try:
        assert locked in student_access_problems([target])
        os.chmod(locked, 0o711)
        assert locked not in student_access_problems([target])
    finally:
        os.chmod(locked, 0o755)


def _listed(path: str, name: str) -> bool:
    try:
        return any(line.split(":", 1)[0] == name for line in Path(path).read_text().splitlines())
    except FileNotFoundError:
        return False


def test_a_student_system_user_gets_a_private_home_and_no_subordinate_ids(open_tmp: Path, unique):
    """As root: the account is created once (a second call finds it), its home is private, and it gets no
    /etc/subuid or /etc/subgid range (writing those made every useradd slower, one at a time)."""
    import pwd
    import subprocess

    from hub.system_users import ensure_system_user

    name = unique("su")
    homes = open_tmp / "homes"
    if not running_as_root():
        with pytest.raises(AccountError, match=f"useradd course-{name} failed"):
            ensure_system_user(name, homes)
        return
    try:
        entry = ensure_system_user(name, homes)
        assert entry.pw_name == f"course-{name}" and entry.pw_uid != 0
        assert Path(entry.pw_dir) == homes / name and _mode(homes / name) == 0o700
        assert (homes / name).stat().st_uid == entry.pw_uid
        assert ensure_system_user(name, homes) == pwd.getpwnam(f"course-{name}")
        assert not _listed("/etc/subuid", entry.pw_name) and not _listed("/etc/subgid", entry.pw_name)
    finally:
        subprocess.run(["userdel", f"course-{name}"], capture_output=True)
