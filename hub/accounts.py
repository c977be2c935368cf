"""Course accounts in the hub database (NativeAuthenticator's `users_info` table).

Used before the hub starts (the first admin) and by the instructor's CLI (roster accounts, approval).
Approval always *sets* the state it is asked for; NativeAuthenticator's own link toggles, which would
revoke an account approved twice.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import bcrypt
from jupyterhub.orm import Base, new_session_factory
from nativeauthenticator.orm import UserInfo
from sqlalchemy import Column, DateTime, Unicode
from sqlalchemy.orm import Session

from course.settings import HUB_NAME_HELP
from hub.settings import Settings
from hub.system_users import valid_hub_name


class OneTimePassword(Base):
    """Accounts whose password was generated (roster, first admin): changed at first login."""

    __tablename__ = "course_one_time_passwords"
    username = Column(Unicode(255), primary_key=True)
    created = Column(DateTime, default=lambda: datetime.now(timezone.utc))


class SignUpTime(Base):
    """When each account was created (NativeAuthenticator's `users_info` has no such column)."""

    __tablename__ = "course_signup_times"
    username = Column(Unicode(255), primary_key=True)
    created = Column(DateTime, default=lambda: datetime.now(timezone.utc))


class AccountsError(ValueError):
    """An account operation cannot be done; the message is one line."""


@dataclass(frozen=True)
class NewAccount:
    """An account created with a generated password (to hand to its owner once)."""

    username: str
    password: str | None
    admin: bool = False


def open_db(settings: Settings) -> Session:
    """A session on the hub's database, creating the schema (and the state folder) if needed."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return new_session_factory(settings.db_url)()


def generate_password() -> str:
    """A random password that is easy to type: 16 characters from letters and digits."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def find(db: Session, username: str) -> UserInfo | None:
    """The account row for `username`, freshly read from the database."""
    return (db.query(UserInfo).filter(UserInfo.username == username)
            .execution_options(populate_existing=True).first())


def _hash(password: str) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt())


def create_account(db: Session, username: str, password: str, *, approved: bool = True,
                   one_time: bool = False) -> bool:
    """Create an account; False (and nothing changed) if it already exists."""
    if not valid_hub_name(username):
        raise AccountsError(f"{username!r} is not a valid user name: {HUB_NAME_HELP}")
    if find(db, username) is not None:
        return False
    db.add(UserInfo(username=username, password=_hash(password), is_authorized=approved))
    record_signup(db, username)
    if one_time:
        db.merge(OneTimePassword(username=username))
    db.commit()
    return True


def set_password(db: Session, username: str, password: str, *, one_time: bool = False) -> None:
    """Replace the password of an existing account."""
    info = find(db, username)
    if info is None:
        raise AccountsError(f"no account named {username!r}")
    info.password = _hash(password)
    set_one_time(db, username, one_time)
    db.commit()


def set_approval(db: Session, username: str, approved: bool) -> bool:
    """Approve (or revoke) `username`; returns the previous state. Never toggles."""
    info = find(db, username)
    if info is None:
        raise AccountsError(f"no account named {username!r}: students sign up first, "
                            "or add them with `course hub users add --from roster.csv`")
    before = bool(info.is_authorized)
    info.is_authorized = approved
    db.commit()
    return before


def set_approvals(db: Session, usernames: list[str], approved: bool) -> list[str]:
    """Approve (or revoke) every account in `usernames` at once; returns the names whose state changed.

    Nothing changes when one of them does not exist (the error names them all)."""
    names = list(dict.fromkeys(usernames))
    rows = {r.username: r for r in db.query(UserInfo).filter(UserInfo.username.in_(names))
            .execution_options(populate_existing=True)}
    missing = [n for n in names if n not in rows]
    if missing:
        raise AccountsError(f"no account named {', '.join(repr(n) for n in missing)}")
    changed = [n for n in names if bool(rows[n].is_authorized) != approved]
    for name in changed:
        rows[name].is_authorized = approved
    db.commit()
    return changed


def pending(db: Session) -> list[str]:
    """Names of the accounts waiting for approval, oldest sign-up first."""
    rows = (db.query(UserInfo).filter(UserInfo.is_authorized.isnot(True))
            .execution_options(populate_existing=True).order_by(UserInfo.id).all())
    return [r.username for r in rows]


def record_signup(db: Session, username: str) -> None:
    """Note now as `username`'s sign-up time (replacing a discarded account's); committed by the caller."""
    db.merge(SignUpTime(username=username, created=datetime.now(timezone.utc)))


def signup_times(db: Session) -> dict[str, datetime]:
    """Sign-up time (UTC) of each account that has one recorded."""
    rows = db.query(SignUpTime).execution_options(populate_existing=True).all()
    return {r.username: r.created.replace(tzinfo=timezone.utc) if r.created.tzinfo is None else r.created
            for r in rows}


def is_one_time(db: Session, username: str) -> bool:
    """True while the account still has its generated password."""
    return db.get(OneTimePassword, username, populate_existing=True) is not None


def set_one_time(db: Session, username: str, flag: bool) -> None:
    """Mark (or clear) the account's password as generated and to be changed."""
    row = db.get(OneTimePassword, username)
    if flag and row is None:
        db.add(OneTimePassword(username=username))
    elif not flag and row is not None:
        db.delete(row)
    db.commit()


def list_accounts(db: Session) -> list[tuple[str, bool]]:
    """(username, approved) for every account, sorted by name."""
    rows = db.query(UserInfo).execution_options(populate_existing=True).all()
    return sorted((r.username, bool(r.is_authorized)) for r in rows)


def ensure_admins(db: Session, settings: Settings) -> list[NewAccount]:
    """Create the configured admin accounts that do not exist yet, approved.

    The first admin gets COURSE_HUB_ADMIN_PASSWORD if set, otherwise a generated password (to be changed
    at first login), as do the other admins. When COURSE_HUB_ADMIN_PASSWORD is set and differs from the
    first admin's current password, the account takes it (how an instructor recovers a lost password).
    Returns the accounts created or reset, with the passwords to show once.
    """
    made: list[NewAccount] = []
    for index, name in enumerate(settings.admin_users):
        given = settings.admin_password if index == 0 else None
        info = find(db, name)
        if info is None:
            password = given or generate_password()
            create_account(db, name, password, approved=True, one_time=given is None)
            made.append(NewAccount(name, None if given else password, admin=True))
            continue
        if not info.is_authorized:
            info.is_authorized = True
            db.commit()
        if given and not info.is_valid_password(given):
            set_password(db, name, given)
            made.append(NewAccount(name, None, admin=True))
    return made
