"""`course hub grades export`: the gradebook's CSV from the command line, the same as the service serves."""
from __future__ import annotations

import csv
import io
import stat

from jupyterhub import orm

from hub import accounts
from hub.cli import main
from hub.gradebook.questions import load_questions
from hub.gradebook.report import Course, Snapshot, csv_text
from hub.gradebook.store import FILENAME, GRADED, Attempt, Gradebook
from hub.settings import load_settings


def _hub(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("COURSE_HUB_STATE_DIR", str(state))
    monkeypatch.setenv("COURSE_HUB_ADMIN_USERS", "prof")
    settings = load_settings({"COURSE_HUB_STATE_DIR": str(state)})
    db = accounts.open_db(settings)
    db.add_all([orm.User(name="ana"), orm.User(name="ben"), orm.User(name="prof"), orm.User(name="root", admin=True)])
    db.commit()
    db.close()
    return state


def test_export_writes_the_services_csv_to_a_private_file(tmp_path, monkeypatch, capsys):
    state = _hub(tmp_path, monkeypatch)
    kinds = {q.id: q.kind for q in load_questions().values()}
    book = Gradebook(state / FILENAME)
    book.record_attempts("ana", [Attempt("1", "03.cost_by_hand", True, "2026-12-01T10:00:00+00:00")], kinds)
    book.record_attempts("zed", [Attempt("1", "03.gradient", False, "2026-12-01T10:00:00+00:00")], kinds)
    run = book.start_run("ben", "03")
    book.finish_run(run, GRADED, grades={"03.cost_by_hand": True}, kinds=kinds)
    out = tmp_path / "grades.csv"
    assert main(["grades", "export", "--out", str(out)]) == 0
    assert "Wrote the grades of 3 student(s)" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert list(rows) == ["ana", "ben", "zed"]  # hub users and the store's, never instructors or admins
    assert rows["ana"]["03.cost_by_hand_live"] == "1" and rows["zed"]["03.gradient_live"] == "0"
    assert rows["ben"]["ch03_graded_status"] == GRADED and rows["ben"]["03.cost_by_hand_graded"] == "1"
    same = csv_text(Course.load(), Snapshot.read(book, {"ana", "ben", "zed"}))
    assert out.read_bytes().decode("utf-8") == same  # the same bytes, CRLF line ends included
    # without --out: standard output
    assert main(["grades", "export"]) == 0
    assert capsys.readouterr().out == same


def test_export_before_anyone_reported_lists_the_students_and_creates_nothing(tmp_path, monkeypatch, capsys):
    state = _hub(tmp_path, monkeypatch)
    assert main(["grades", "export"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("student,ch00_exercises,")
    assert [line.split(",")[0] for line in lines[1:]] == ["ana", "ben"]
    assert not (state / FILENAME).exists()


def test_export_to_a_folder_that_is_not_there_is_one_line(tmp_path, monkeypatch, capsys):
    _hub(tmp_path, monkeypatch)
    assert main(["grades", "export", "--out", str(tmp_path / "missing" / "grades.csv")]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the hub database's own log lines
    assert last.startswith("course hub: cannot write ") and last.endswith("No such file or directory")


def test_grading_says_it_does_not_run_in_kubernetes_mode(tmp_path, monkeypatch, capsys):
    _hub(tmp_path, monkeypatch)
    monkeypatch.setenv("COURSE_HUB_MODE", "kubernetes")
    capsys.readouterr()  # what opening the database logged
    assert main(["grade", "03"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("course hub: grading does not run in kubernetes mode yet") and "\n" not in err
