"""The gradebook's summaries and CSV: exercises counted, chapter results apart, graded beside live, one row
per student, and nothing a student did not earn."""
from __future__ import annotations

import csv
import io

from hub.gradebook.questions import EXERCISE, RESULT, QuestionInfo, load_questions
from hub.gradebook.report import Course, Snapshot, chapter_titles, class_summary, csv_columns, csv_text, student_names
from hub.gradebook.store import GRADED, Attempt, Gradebook

QUESTIONS = {q.id: q for q in [
    QuestionInfo("03.cost", "03", EXERCISE, "Cost by hand"),
    QuestionInfo("03.gradient", "03", EXERCISE, "The gradient"),
    QuestionInfo("03.trained", "03", RESULT, "W and b after training"),
    QuestionInfo("04.softmax", "04", EXERCISE, "Softmax"),
]}
COURSE = Course.load(QUESTIONS)
T0, T1, T2 = "2026-12-01T10:00:00+00:00", "2026-12-01T10:05:00+00:00", "2026-12-01T10:09:00+00:00"


def _book(tmp_path) -> Gradebook:
    book = Gradebook(tmp_path / "gradebook.sqlite")
    book.record_attempts("ana", [Attempt("1", "03.cost", False, T0), Attempt("2", "03.cost", True, T1),
                                 Attempt("3", "03.gradient", True, T1), Attempt("4", "03.trained", True, T2)],
                         COURSE.kinds)
    book.record_attempts("ben", [Attempt("1", "03.cost", False, T0), Attempt("2", "04.softmax", False, T1)],
                         COURSE.kinds)
    return book


def test_chapters_count_exercises_and_keep_results_apart():
    ch03 = COURSE.chapter("03")
    assert ch03.exercises == ("03.cost", "03.gradient") and ch03.results == ("03.trained",)
    assert [c.id for c in COURSE.chapters] == ["03", "04"]


def test_a_row_counts_passed_exercises_attempts_completion_and_last_activity(tmp_path):
    book = _book(tmp_path)
    summary = class_summary(COURSE, Snapshot.read(book, {"ana", "ben", "cy"}), viewer="prof", instructor=True)
    rows = {r["name"]: r for r in summary["students"]}
    assert list(rows) == ["ana", "ben", "cy"]  # cy never reported: still a row
    ana = rows["ana"]["chapters"]["03"]
    assert (ana["passed"], ana["total"], ana["attempts"]) == (2, 2, 3)  # the figure is no exercise attempt
    assert (ana["results_reached"], ana["results_total"], ana["completed"]) == (1, 1, True)
    assert ana["last_at"] == T2 and rows["ana"]["last_at"] == T2
    ben = rows["ben"]["chapters"]["03"]
    assert (ben["passed"], ben["attempts"], ben["completed"]) == (0, 1, False)
    assert rows["ben"]["questions"]["03.cost"] == {"attempts": 1, "passed": False, "last_at": T0, "graded": None}
    assert rows["cy"]["chapters"]["03"]["last_at"] is None and rows["cy"]["questions"] == {}
    assert (rows["ana"]["passed"], rows["ana"]["total"], rows["ana"]["completed"]) == (2, 3, 1)
    totals = summary["totals"]["03"]
    assert totals == {"students": 3, "active": 2, "completed": 1, "passed": 2, "passed_mean": 0.67, "total": 2,
                      "attempts": 4, "graded": 0, "graded_passed_mean": None, "last_at": T2}


def test_a_student_gets_only_their_own_row_and_no_class_totals(tmp_path):
    book = _book(tmp_path)
    summary = class_summary(COURSE, Snapshot.read(book, {"ana", "ben"}, only="ben"), viewer="ben", instructor=False)
    assert [r["name"] for r in summary["students"]] == ["ben"]
    assert "totals" not in summary and summary["viewer"] == {"name": "ben", "instructor": False}
    assert "ana" not in repr(summary)


def test_graded_results_come_from_the_last_finished_run_and_show_one_in_progress(tmp_path):
    book = _book(tmp_path)
    run = book.start_run("ana", "03")
    book.finish_run(run, GRADED, grades={"03.cost": True, "03.gradient": False, "03.trained": True},
                    kinds=COURSE.kinds)
    book.start_run("ana", "03")  # a new run is going on
    timed_out = book.start_run("ben", "03")
    book.finish_run(timed_out, "timed out after 300 s", grades={"03.cost": True}, kinds=COURSE.kinds)
    rows = {r["name"]: r for r in class_summary(COURSE, Snapshot.read(book, {"ana", "ben"}), viewer="prof",
                                                  instructor=True)["students"]}
    graded = rows["ana"]["chapters"]["03"]["graded"]
    assert (graded["status"], graded["passed"], graded["total"], graded["results_reached"]) == (GRADED, 1, 2, 1)
    assert graded["running"] is True and graded["completed"] is False
    assert rows["ana"]["questions"]["03.gradient"]["graded"] is False
    ben = rows["ben"]["chapters"]["03"]["graded"]
    assert (ben["status"], ben["passed"], ben["running"]) == ("timed out after 300 s", 1, False)
    assert rows["ben"]["chapters"]["04"]["graded"] is None


def test_a_run_left_running_too_long_shows_as_interrupted(tmp_path):
    book = _book(tmp_path)
    book.start_run("ana", "04")
    snapshot = Snapshot.read(book, {"ana"})
    snapshot.stale_before = "2999-01-01T00:00:00+00:00"
    graded = class_summary(COURSE, snapshot, viewer="prof", instructor=True)["students"][0]["chapters"]["04"]["graded"]
    assert (graded["running"], graded["interrupted"], graded["passed"]) == (False, True, None)


def test_the_csv_has_a_student_column_then_chapters_then_questions_live_and_graded(tmp_path):
    book = _book(tmp_path)
    run = book.start_run("ana", "03")
    book.finish_run(run, GRADED, grades={"03.cost": True, "03.gradient": True, "03.trained": True},
                    kinds=COURSE.kinds)
    rows = list(csv.DictReader(io.StringIO(csv_text(COURSE, Snapshot.read(book, {"ana", "ben", "cy"})))))
    header = csv_columns(COURSE)
    assert header[:8] == ["student", "ch03_exercises", "ch03_live_passed", "ch03_live_completed", "ch03_graded_passed",
                          "ch03_graded_completed", "ch03_graded_status", "ch03_graded_at"]
    assert header[-2:] == ["04.softmax_live", "04.softmax_graded"] and "03.trained_live" in header
    by = {r["student"]: r for r in rows}
    assert list(by) == ["ana", "ben", "cy"]
    ana, ben, cy = by["ana"], by["ben"], by["cy"]
    assert (ana["ch03_exercises"], ana["ch03_live_passed"], ana["ch03_live_completed"]) == ("2", "2", "1")
    assert (ana["ch03_graded_passed"], ana["ch03_graded_completed"], ana["ch03_graded_status"]) == ("2", "1", GRADED)
    assert ana["ch03_graded_at"].startswith("20") and ana["03.cost_graded"] == "1" and ana["03.trained_live"] == "1"
    assert (ana["ch04_graded_passed"], ana["04.softmax_live"], ana["04.softmax_graded"]) == ("", "", "")
    assert (ben["03.cost_live"], ben["04.softmax_live"], ben["ch03_live_completed"]) == ("0", "0", "0")
    assert set(cy.values()) <= {"cy", "", "0", "2", "1"} and cy["ch03_live_passed"] == "0"


def test_csv_cells_never_start_a_formula(tmp_path):
    book = _book(tmp_path)
    run = book.start_run("ana", "03")
    book.finish_run(run, "=HYPERLINK(\"x\")", grades={}, kinds=COURSE.kinds)
    rows = list(csv.DictReader(io.StringIO(csv_text(COURSE, Snapshot.read(book, {"ana"})))))
    assert rows[0]["ch03_graded_status"] == "'=HYPERLINK(\"x\")"


def test_students_are_the_hubs_users_and_the_stores_without_instructors():
    hub_users = [("ana", False), ("prof", False), ("root", True)]
    assert student_names(hub_users, {"ben", "prof", "root"}, ["prof"]) == {"ana", "ben"}


def test_chapter_titles_from_notebook_names(tmp_path):
    (tmp_path / "03_linear_regression.ipynb").write_text("{}")
    (tmp_path / "00a_python_primer.ipynb").write_text("{}")
    (tmp_path / "notes.ipynb").write_text("{}")
    (tmp_path / "0a_short.ipynb").write_text("{}")
    (tmp_path / "00ab_two_letters.ipynb").write_text("{}")
    assert chapter_titles(tmp_path) == {"03": "linear regression", "00a": "python primer"}
    assert chapter_titles(tmp_path / "missing") == {} and chapter_titles(None) == {}


def test_the_primer_00a_sorts_between_00_and_01_on_the_page_and_in_the_csv(tmp_path):
    scrambled = {q.id: q for q in [
        QuestionInfo("01.rank", "01", EXERCISE, "Rank"),
        QuestionInfo("00a.slicing", "00a", EXERCISE, "Slicing"),
        QuestionInfo("00.gpu_count", "00", EXERCISE, "GPUs"),
        QuestionInfo("00a.axis_sum", "00a", EXERCISE, "Axis sum"),
    ]}
    for name in ("00_setup", "00a_python_primer", "01_tensors"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    course = Course.load(scrambled, tmp_path)
    assert [(c.id, c.title) for c in course.chapters] == [("00", "setup"), ("00a", "python primer"), ("01", "tensors")]
    assert course.chapter("00a").exercises == ("00a.axis_sum", "00a.slicing")
    book = Gradebook(tmp_path / "gradebook.sqlite")
    book.record_attempts("ana", [Attempt("1", "00a.slicing", True, T0)], course.kinds)
    snapshot = Snapshot.read(book, ["ana"])
    page = class_summary(course, snapshot, viewer="prof", instructor=True)
    assert [c["id"] for c in page["chapters"]] == ["00", "00a", "01"]
    assert list(page["totals"]) == ["00", "00a", "01"] and page["totals"]["00a"]["passed"] == 1
    assert page["students"][0]["chapters"]["00a"]["passed"] == 1 and page["students"][0]["passed"] == 1
    header, row = list(csv.reader(io.StringIO(csv_text(course, snapshot))))
    chapter_columns = [c for c in header if c.endswith("_exercises")]
    assert chapter_columns == ["ch00_exercises", "ch00a_exercises", "ch01_exercises"]
    assert [c for c in header if c.endswith("_live")] == ["00.gpu_count_live", "00a.axis_sum_live",
                                                           "00a.slicing_live", "01.rank_live"]
    cells = dict(zip(header, row))
    assert (cells["ch00a_exercises"], cells["ch00a_live_passed"], cells["00a.slicing_live"]) == ("2", "1", "1")


def test_the_real_course_loads():
    course = Course.load(load_questions())
    assert course.chapters and all(c.exercises or c.results for c in course.chapters)
    assert "03.cost_by_hand" in course.chapter("03").exercises
    ids = [c.id for c in course.chapters]
    assert ids.index("00") + 1 == ids.index("00a") == ids.index("01") - 1  # the primer between setup and tensors
