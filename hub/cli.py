"""`course hub ...`: start the hub and manage accounts. `register(subparsers)` adds the command group to
the `course` CLI; `python -m hub.cli ...` runs the same commands on their own."""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from hub.settings import SettingsError, load_settings


def _settings():
    try:
        return load_settings(os.environ)
    except SettingsError as exc:
        raise SystemExit(f"course hub: {exc}") from None


def _start(args: argparse.Namespace) -> int:
    from hub.__main__ import main

    return main(["--check"] if args.check else [])


def _users_add(args: argparse.Namespace) -> int:
    from hub import accounts
    from hub.roster import RosterError, read_roster, write_passwords

    settings = _settings()
    try:
        names = read_roster(Path(args.roster), reserved=set(settings.admin_users))
    except RosterError as exc:
        print(f"course hub: {exc}", file=sys.stderr)
        return 2
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else settings.state_dir / f"roster-passwords-{stamp}.csv"
    if out.exists():
        print(f"course hub: {out}: already exists; choose another --out file", file=sys.stderr)
        return 2
    try:
        db = accounts.open_db(settings)
    except Exception as exc:  # noqa: BLE001 - e.g. no permission on the state folder
        print(f"course hub: cannot open the hub database in {settings.state_dir}: "
              f"{str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    created: list[tuple[str, str]] = []
    skipped: list[str] = []
    try:
        for name in names:
            password = accounts.generate_password()
            if accounts.create_account(db, name, password, approved=True, one_time=True):
                created.append((name, password))
            else:
                skipped.append(name)
    finally:
        db.close()
    if created:
        write_passwords(out, created)
        print(f"Created {len(created)} approved account(s). One-time passwords: {out} "
              "(mode 0600, readable only by you). Hand each student their line; they choose a new "
              "password at first login.")
    else:
        print("No new accounts created.")
    if skipped:
        print(f"Already existed, left unchanged: {', '.join(skipped)}")
    return 0


def _users_set(args: argparse.Namespace) -> int:
    from hub import accounts

    approve = args.users_command == "approve"
    every_pending = getattr(args, "pending", False)
    if every_pending and args.names:
        print("course hub: give either account names or --pending (everyone waiting), not both", file=sys.stderr)
        return 2
    if not every_pending and not args.names:
        print("course hub: name the accounts to approve, or use --pending for everyone waiting", file=sys.stderr)
        return 2
    settings = _settings()
    db = accounts.open_db(settings)
    try:
        if every_pending:
            names = accounts.pending(db)
            if not names:
                print("Nobody is waiting for approval.")
                return 0
            accounts.set_approvals(db, names, True)
            print(f"Approved {len(names)} account(s): {', '.join(names)}")
            return 0
        for name in args.names:
            before = accounts.set_approval(db, name.lower(), approve)
            state = "approved" if approve else "not approved"
            print(f"{name}: {state}" + (" (unchanged)" if before == approve else ""))
    except accounts.AccountsError as exc:
        print(f"course hub: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    return 0


def _users_list(args: argparse.Namespace) -> int:
    from hub import accounts

    db = accounts.open_db(_settings())
    try:
        rows = accounts.list_accounts(db)
    finally:
        db.close()
    for name, approved in rows:
        print(f"{name:<26} {'approved' if approved else 'waiting for approval'}")
    if not rows:
        print("No accounts yet.")
    return 0


def _grades_export(args: argparse.Namespace) -> int:
    """The gradebook's CSV (as /services/gradebook/grades.csv serves it) to a file (mode 0600) or stdout."""
    from jupyterhub import orm

    from hub import accounts
    from hub.gradebook.report import Course, Snapshot, csv_text, student_names
    from hub.gradebook.store import FILENAME, Gradebook

    settings = _settings()
    try:
        db = accounts.open_db(settings)
        try:
            users = [(u.name, bool(u.admin)) for u in db.query(orm.User)]
        finally:
            db.close()
        path = settings.state_dir / FILENAME
        book = Gradebook(path) if path.exists() else None  # never create the hub's database from here
        names = student_names(users, book.users() if book else set(), settings.admin_users)
        snapshot = Snapshot.read(book, names) if book else Snapshot(sorted(names))
        text = csv_text(Course.load(notebooks_dir=settings.notebooks_dir), snapshot)
    except Exception as exc:  # noqa: BLE001 - e.g. no permission on the state folder
        print(f"course hub: cannot read the gradebook in {settings.state_dir}: "
              f"{(str(exc).splitlines() or [type(exc).__name__])[0]}", file=sys.stderr)
        return 1
    if not args.out:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    partial = out.with_name(f".{out.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(partial, out)
    except OSError as exc:
        print(f"course hub: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"Wrote the grades of {len(snapshot.students)} student(s) to {out} (mode 0600).")
    return 0


def _grade(args: argparse.Namespace) -> int:
    """`course hub grade`: re-run copies of the students' notebooks in a sandbox, record the grades."""
    from hub.grading import notebooks
    from hub.grading.runner import ClassGrader, grade, open_gradebook, pairs_for, table
    from hub.system_users import valid_hub_name

    settings = _settings()
    if settings.mode == "kubernetes":
        print("course hub: grading does not run in kubernetes mode yet: each student's home is a volume of its "
              "own that the hub pod does not mount (the gradebook's live results still come in)", file=sys.stderr)
        return 2
    try:
        known_chapters = notebooks.graded_chapters()
        chapters = list(dict.fromkeys(notebooks.chapter_id(c, known_chapters) for c in args.chapters)) \
            or known_chapters
        students = notebooks.known_students(settings)
        if args.students:
            asked = list(dict.fromkeys(n.lower() for n in args.students))
            bad = [n for n in asked if not valid_hub_name(n)]
            if bad:
                raise notebooks.GradingInputError(f"{bad[0]!r} is not a student's user name")
            unknown = [n for n in asked if n not in students and n not in settings.admin_users]
            if unknown:
                raise notebooks.GradingInputError(f"no student named {unknown[0]!r} (no home in "
                                                  f"{settings.homes_dir} and no account)")
            students = asked
    except notebooks.GradingInputError as exc:
        print(f"course hub: {exc}", file=sys.stderr)
        return 2
    if args.jobs is not None and args.jobs < 1:
        print("course hub: --jobs must be at least 1", file=sys.stderr)
        return 2
    if not students:
        print("No students to grade.")
        return 0
    try:
        gradebook = open_gradebook(settings)
    except Exception as exc:  # noqa: BLE001 - e.g. no permission on the state folder
        print(f"course hub: cannot open the gradebook in {settings.state_dir}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        return 1
    grader = ClassGrader(settings, gradebook, full=args.full)
    jobs = args.jobs or settings.grade_jobs
    pairs = pairs_for(students, chapters)
    print(f"Grading chapter(s) {', '.join(chapters)} for {len(students)} student(s), {min(jobs, len(pairs))} at a "
          f"time, {'full' if args.full else 'fast'} mode ({settings.mode} mode)", flush=True)
    print(grader.limits_line(), flush=True)

    def report(outcome) -> None:
        print(f"  {outcome.user} {outcome.chapter}: {outcome.status} ({outcome.seconds:.0f} s)", flush=True)

    outcomes = grade(settings, pairs, full=args.full, jobs=jobs, grader=grader, on_outcome=report)
    print()
    print(table(outcomes))
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add `hub` (start, users add|approve|revoke|list, grade) to a `course` CLI's subparsers."""
    hub = subparsers.add_parser("hub", help="run the course hub and manage its accounts",
                                description="Settings come from the environment; see .env.example.")
    actions = hub.add_subparsers(dest="hub_command", metavar="ACTION")
    actions.required = True
    start = actions.add_parser("start", help="start the hub in the foreground (same as `python -m hub`)")
    start.add_argument("--check", action="store_true", help="only validate the settings")
    start.set_defaults(func=_start)
    users = actions.add_parser("users", help="accounts: add from a roster, approve, revoke, list")
    user_actions = users.add_subparsers(dest="users_command", metavar="ACTION")
    user_actions.required = True
    add = user_actions.add_parser("add", help="create approved accounts from a roster CSV")
    add.add_argument("--from", dest="roster", required=True, metavar="ROSTER.csv",
                     help="CSV with a header line and a `username` column")
    add.add_argument("--out", metavar="FILE",
                     help="where to write the one-time passwords (default: in the hub's state folder)")
    add.set_defaults(func=_users_add)
    for verb, text in (("approve", "approve sign-ups (sets the state; approving twice is harmless)"),
                       ("revoke", "withdraw approval")):
        cmd = user_actions.add_parser(verb, help=text)
        cmd.add_argument("names", nargs="*" if verb == "approve" else "+", metavar="NAME")
        if verb == "approve":
            cmd.add_argument("--pending", action="store_true", help="approve every account waiting for approval")
        cmd.set_defaults(func=_users_set)
    user_actions.add_parser("list", help="accounts and whether they are approved").set_defaults(func=_users_list)
    grades = actions.add_parser("grades", help="the gradebook: export live and graded results")
    grades_actions = grades.add_subparsers(dest="grades_command", metavar="ACTION")
    grades_actions.required = True
    export = grades_actions.add_parser("export", help="write the gradebook's CSV (one row per student)")
    export.add_argument("--out", metavar="FILE", help="where to write it (mode 0600; default: standard output)")
    export.set_defaults(func=_grades_export)
    grade = actions.add_parser("grade", help="re-run copies of the students' notebooks in a sandbox and record grades",
                               description="Each student's chapter notebook is copied (never changed) and run "
                                           "top to bottom in a sandbox; its checks are recorded in the gradebook.")
    grade.add_argument("chapters", nargs="*", metavar="CHAPTER",
                       help="chapters such as 03 or 3, or 00a (default: every chapter with exercises)")
    grade.add_argument("--students", nargs="+", metavar="NAME", help="only these students (default: all)")
    grade.add_argument("--full", action="store_true", help="full mode (default: fast mode, COURSE_FAST=1)")
    grade.add_argument("--jobs", type=int, metavar="N", help="students graded at once (default: COURSE_GRADE_JOBS)")
    grade.set_defaults(func=_grade)
    return hub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["hub", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
