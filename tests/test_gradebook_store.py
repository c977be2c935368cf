"""The gradebook's database: private, in WAL mode, idempotent for repeated reports, safe for many writers."""
from __future__ import annotations

import os
import sqlite3
import stat
import threading

from hub.gradebook.questions import EXERCISE, RESULT, load_questions
from hub.gradebook.store import GRADED, RUNNING, Attempt, Gradebook

KINDS = {"03.cost_by_hand": EXERCISE, "06.test_accuracy": RESULT}


def test_the_database_is_private_and_in_wal_mode(tmp_path):
    book = Gradebook(tmp_path / "state" / "gradebook.sqlite")
    book.record_attempts("ana", [Attempt("u1", "03.cost_by_hand", True, "2026-12-01T10:00:00+00:00")], KINDS)
    for path in tmp_path.glob("state/gradebook.sqlite*"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.name
    with sqlite3.connect(book.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_attempts_are_stored_once_and_summed_per_question(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")
    first = [Attempt("u1", "03.cost_by_hand", False, "2026-12-01T10:00:00+00:00"),
             Attempt("u2", "03.cost_by_hand", True, "2026-12-01T10:01:00+00:00")]
    assert book.record_attempts("ana", first, KINDS) == 2
    assert book.record_attempts("ana", first, KINDS) == 0  # the same report sent again
    record = book.live()["ana"]["03.cost_by_hand"]
    assert (record.attempts, record.passed, record.last_at) == (2, True, "2026-12-01T10:01:00+00:00")
    assert book.live("ben") == {}


def test_the_latest_run_per_chapter_carries_its_grades(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")
    old = book.start_run("ana", "03", notebook="/homes/ana/course/03.ipynb", sha256="a" * 64, mtime="t0")
    book.finish_run(old, GRADED, grades={"03.cost_by_hand": False}, kinds=KINDS)
    new = book.start_run("ana", "03", notebook="/homes/ana/course/03.ipynb", sha256="b" * 64, mtime="t1")
    assert book.latest_runs()["ana"]["03"].status == RUNNING
    book.finish_run(new, GRADED, grades={"03.cost_by_hand": True}, kinds=KINDS)
    run = book.latest_runs("ana")["ana"]["03"]
    assert (run.id, run.status, run.sha256, run.grades) == (new, GRADED, "b" * 64, {"03.cost_by_hand": True})
    assert book.users() == {"ana"}


def test_thirty_kernels_reporting_at_once_lose_nothing(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")

    def kernel(n: int) -> None:
        for i in range(20):
            Gradebook(book.path).record_attempts(
                f"student{n}", [Attempt(f"{n}-{i}", "03.cost_by_hand", i % 2 == 0, "2026-12-01T10:00:00+00:00")],
                KINDS)

    threads = [threading.Thread(target=kernel, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    live = book.live()
    assert len(live) == 30 and all(r["03.cost_by_hand"].attempts == 20 for r in live.values())


def test_the_hub_reads_the_questions_without_importing_the_checks():
    questions = load_questions()
    assert "03.cost_by_hand" in questions and questions["03.cost_by_hand"].chapter == "03"
    assert {q.kind for q in questions.values()} <= {EXERCISE, RESULT}


def test_uids_are_kept_per_student(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")
    attempt = [Attempt("same-uid", "03.cost_by_hand", True, "2026-12-01T10:00:00+00:00")]
    assert book.record_attempts("ana", attempt, KINDS) == 1
    assert book.record_attempts("ben", attempt, KINDS) == 1  # ben's report cannot be shadowed by ana's uid
    assert book.record_attempts("ana", attempt, KINDS) == 0
    assert set(book.live()) == {"ana", "ben"}


def test_the_latest_finished_run_is_kept_apart_from_one_in_progress(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")
    done = book.start_run("ana", "03")
    book.finish_run(done, GRADED, grades={"03.cost_by_hand": True}, kinds=KINDS)
    going = book.start_run("ana", "03")
    assert book.latest_runs()["ana"]["03"].id == going
    finished = book.latest_runs("ana", finished=True)["ana"]["03"]
    assert (finished.id, finished.status, finished.grades) == (done, GRADED, {"03.cost_by_hand": True})
    assert book.latest_runs("ben", finished=True) == {}
