"""progress.json: attempts, atomic locked writes under real concurrency, corrupt files, summaries."""

from __future__ import annotations

import json
import multiprocessing
import os
import types
from datetime import datetime
from pathlib import Path

import pytest

from course.checks import check, progress, registry


def entries(path: Path) -> dict:
    return json.loads(path.read_text())["questions"]


def test_default_path_is_home_course(monkeypatch, tmp_path):
    from course.config import progress_path

    monkeypatch.delenv("COURSE_PROGRESS_FILE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert progress_path() == tmp_path / ".course" / "progress.json"


def test_attempts_passed_ever_and_timestamps(progress_file):
    assert progress.record_attempt("03.cost_by_hand", False) == []
    assert progress_file.parent.is_dir()  # the folder was created
    first = entries(progress_file)["03.cost_by_hand"]
    assert first["attempts"] == 1 and first["passed"] is False and first["first_passed_at"] is None
    assert first["chapter"] == "03"
    progress.record_attempt("03.cost_by_hand", True)
    passed_at = entries(progress_file)["03.cost_by_hand"]["first_passed_at"]
    assert datetime.fromisoformat(passed_at).tzinfo is not None
    progress.record_attempt("03.cost_by_hand", False)
    progress.record_attempt("04.other", True)
    data = json.loads(progress_file.read_text())
    assert data["version"] == 1
    e = data["questions"]["03.cost_by_hand"]
    assert e["attempts"] == 3 and e["passed"] is True and e["first_passed_at"] == passed_at
    assert datetime.fromisoformat(e["last_attempt_at"]) >= datetime.fromisoformat(passed_at)
    assert data["questions"]["04.other"]["attempts"] == 1
    leftovers = sorted(p.name for p in progress_file.parent.iterdir())
    assert leftovers == ["progress.json", "progress.json.lock"]  # no temp files left behind


def test_check_records_via_environment(progress_file):
    check("00.tensorflow_version", 2)
    check("00.tensorflow_version", None)  # not an attempt
    e = entries(progress_file)["00.tensorflow_version"]
    assert e["attempts"] == 1 and e["passed"] is False


def test_concurrent_writers_never_lose_an_update(progress_file):
    """Four processes hammer the same file; every one of the 240 attempts must be counted."""
    ids = ["05.a", "05.b", "06.c"]
    jobs = [(ids[i % 3], i % 7 == 0, str(progress_file)) for i in range(240)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        notes = pool.starmap(progress.record_attempt, jobs, chunksize=1)
    assert all(n == [] for n in notes)
    data = entries(progress_file)  # parses: never a half-written file
    for qid in ids:
        want = sum(1 for j in jobs if j[0] == qid)
        assert data[qid]["attempts"] == want
        assert data[qid]["passed"] is any(j[1] for j in jobs if j[0] == qid)
    assert sum(e["attempts"] for e in data.values()) == 240
    assert not [p for p in progress_file.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("content",
                         ["{not json", '["a list"]', '{"questions": {"01.x": {"attempts": "many"}}}', b"\xff\xfe\x00"])
def test_corrupt_file_is_moved_aside_once(progress_file, content):
    progress_file.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        progress_file.write_bytes(content)
    else:
        progress_file.write_text(content)
    fb = check("00.tensorflow_version", 1)
    assert len(fb.notes) == 1 and "moved to" in fb.notes[0] and "fresh" in fb.notes[0]
    aside = [p for p in progress_file.parent.iterdir() if p.name.startswith("progress.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == (content if isinstance(content, bytes) else content.encode())
    assert str(aside[0]) in fb.notes[0]
    assert entries(progress_file)["00.tensorflow_version"]["attempts"] == 1
    assert check("00.tensorflow_version", 1).notes == []  # said once
    assert entries(progress_file)["00.tensorflow_version"]["attempts"] == 2


def test_two_corrupt_files_in_the_same_second_are_both_kept(progress_file):
    progress_file.parent.mkdir(parents=True)
    for text in ("{bad one", "{bad two"):
        progress_file.write_text(text)
        assert progress.record_attempt("01.x", True)
    kept = sorted(p.read_text() for p in progress_file.parent.glob("progress.json.corrupt-*"))
    assert kept == ["{bad one", "{bad two"]


def test_unwritable_locations_give_a_note(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    notes = progress.record_attempt("01.x", True, path=blocker / "progress.json")
    assert len(notes) == 1
    assert notes[0].startswith("Progress could not be saved to") and "file, not a folder" in notes[0]

    folder = tmp_path / "is_a_dir" / "progress.json"
    folder.mkdir(parents=True)  # progress.json is a folder: cannot be read or replaced
    notes = progress.record_attempt("01.x", True, path=folder)
    assert len(notes) == 1 and "could not be saved" in notes[0]
    assert folder.is_dir()  # and it was not moved or deleted

    readonly = tmp_path / "readonly"
    readonly.mkdir()
    os.chmod(readonly, 0o500)
    try:
        notes = progress.record_attempt("01.x", True, path=readonly / "progress.json")
        if os.access(readonly, os.W_OK):  # root ignores the mode bits: the write succeeds
            assert notes == [] and (readonly / "progress.json").exists()
        else:
            assert len(notes) == 1 and "PermissionError" in notes[0]
    finally:
        os.chmod(readonly, 0o700)


def _counts(chapter: str) -> tuple[int, int]:
    """(exercises, chapter results) of ``chapter`` in the registry."""
    kinds = [q.kind for q in registry().values() if q.chapter == chapter]
    return kinds.count("exercise"), kinds.count("result")


def test_summary_counts_per_chapter(progress_file):
    available = _counts("00")[0]
    empty = progress.summary()
    assert empty["00"] == {"available": available, "attempted": 0, "passed": 0,
                           "results": {"available": 0, "reached": 0, "completed": False}}
    progress.record_attempt("00.tensorflow_version", False)
    progress.record_attempt("00.tensorflow_version", True)
    progress.record_attempt("97.retired_one", False)  # no longer in the registry: still counted
    progress.record_attempt("97.retired_two", True)
    s = progress.summary()
    assert s["00"]["available"] == available and s["00"]["attempted"] == 1 and s["00"]["passed"] == 1
    assert s["97"] == {"available": 0, "attempted": 2, "passed": 1,
                       "results": {"available": 0, "reached": 0, "completed": False}}
    assert list(s) == sorted(s)
    assert progress.summary(progress_file) == s


def test_every_entry_records_its_kind(progress_file):
    assert registry()["06.test_accuracy"].kind == "result"
    progress.record_attempt("06.test_accuracy", True)
    progress.record_attempt("06.max_pool", False)
    progress.record_attempt("97.retired", True)  # not in the registry: an exercise
    progress.record_attempt("98.told", True, kind="result")
    recorded = entries(progress_file)
    assert {qid: e["kind"] for qid, e in recorded.items()} == {
        "06.test_accuracy": "result", "06.max_pool": "exercise", "97.retired": "exercise", "98.told": "result"}
    assert check("05.lecun_std", 1 / 28).passed and check("05.sine_fit", (0.011, 0.2)).passed
    recorded = entries(progress_file)
    assert recorded["05.lecun_std"]["kind"] == "exercise" and recorded["05.sine_fit"]["kind"] == "result"


def test_a_chapter_result_never_counts_as_an_answered_exercise(progress_file):
    exercises, results = _counts("05")
    assert results == 3  # the XOR network, the sine fit and the take-off model: the chapter's own figures
    for qid in ("05.xor", "05.sine_fit", "05.takeoff_mae"):
        progress.record_attempt(qid, True)
    row = progress.summary()["05"]
    assert row["available"] == exercises and row["attempted"] == 0 and row["passed"] == 0
    assert row["results"] == {"available": 3, "reached": 3, "completed": True}
    progress.record_attempt("05.lecun_std", True)
    progress.record_attempt("06.test_accuracy", False)  # tried, not reached: attempts of a result count nowhere
    s = progress.summary()
    assert (s["05"]["attempted"], s["05"]["passed"]) == (1, 1)
    assert s["06"]["attempted"] == 0 and s["06"]["results"] == {"available": 1, "reached": 0, "completed": False}


def test_old_progress_files_without_kinds_still_load(progress_file):
    """Files written before kinds existed: the registry says which entries are chapter results."""
    progress_file.parent.mkdir(parents=True)
    old = {"chapter": "06", "attempts": 1, "passed": True, "first_passed_at": "2025-03-01T10:00:00+00:00",
           "last_attempt_at": "2025-03-01T10:00:00+00:00"}
    progress_file.write_text(json.dumps({"version": 1, "questions": {
        "06.test_accuracy": old, "06.max_pool": old, "96.gone": dict(old, chapter="96")}}))
    s = progress.summary()
    assert (s["06"]["attempted"], s["06"]["passed"]) == (1, 1)  # 06.max_pool only
    assert s["06"]["results"]["reached"] == 1 and s["06"]["results"]["completed"]
    assert (s["96"]["attempted"], s["96"]["passed"]) == (1, 1)  # unknown and no kind: an exercise
    progress.record_attempt("06.test_accuracy", True)  # the next attempt writes the kind in
    recorded = entries(progress_file)
    assert recorded["06.test_accuracy"]["kind"] == "result" and recorded["06.test_accuracy"]["attempts"] == 2
    assert "kind" not in recorded["06.max_pool"]  # entries are only touched when attempted


def test_format_summary_table(progress_file):
    text = progress.format_summary()
    assert "Nothing attempted yet" in text and str(progress_file) in text
    progress.record_attempt("00.tensorflow_version", True)
    text = progress.format_summary()
    lines = text.splitlines()
    assert "Nothing attempted yet" not in text
    header = next(line for line in lines if line.startswith("Chapter"))
    assert header.split()[:4] == ["Chapter", "Questions", "Attempted", "Passed"]
    row = next(line for line in lines if line.startswith("00 "))
    available = progress.summary()["00"]["available"]
    assert row.split()[:4] == ["00", str(available), "1", "1"]
    assert any(line.startswith("Total") for line in lines)
    widths = {len(line) for line in lines if line.startswith(("Chapter", "---"))}
    assert len(widths) == 1  # header and rules line up


def test_format_summary_shows_exercises_and_chapter_results_apart(progress_file):
    exercises_05, _ = _counts("05")
    for qid in ("05.xor", "05.sine_fit", "05.takeoff_mae", "06.test_accuracy"):
        progress.record_attempt(qid, True)
    progress.record_attempt("05.lecun_std", False)
    text = progress.format_summary()
    lines = text.splitlines()
    exercises_at = lines.index("Exercises (your own answers)")
    results_at = next(i for i, line in enumerate(lines) if line.startswith("Figures reached by"))
    assert exercises_at < results_at
    exercise_rows = {line.split()[0]: line.split()[1:4] for line in lines[exercises_at:results_at]
                     if line[:2].isdigit()}
    assert exercise_rows["05"] == [str(exercises_05), "1", "0"]  # the three results are not answers
    assert exercise_rows["06"][1:] == ["0", "0"]
    assert "02" not in exercise_rows or exercise_rows["02"][1:] == ["0", "0"]
    result_rows = {line.split()[0]: line[8:].strip() for line in lines[results_at + 1:] if line[:2].isdigit()}
    assert result_rows["05"] == "chapter completed (figures reached 3 of 3)"
    assert result_rows["06"] == "chapter completed (figures reached 1 of 1)"
    assert result_rows["04"] == "figures reached 0 of 1"
    assert "00" not in result_rows  # chapter 00 has no chapter result
    total = next(line for line in lines if line.startswith("Total")).split()
    assert total[2:4] == ["1", "0"]  # one exercise attempted, none passed: results are not in the total


def test_format_summary_mentions_a_corrupt_file(progress_file):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text("{oops")
    text = progress.format_summary()
    assert "unreadable" in text and "move it aside" in text
    assert progress_file.read_text() == "{oops"  # reading never moves or changes it


def test_main_progress_prints_and_returns_zero(progress_file, capsys):
    assert progress.main_progress(types.SimpleNamespace()) == 0
    assert "Nothing attempted yet" in capsys.readouterr().out
    progress.record_attempt("00.tensorflow_version", True)
    assert progress.main_progress(None) == 0
    assert "Total" in capsys.readouterr().out
    assert progress.main_progress(types.SimpleNamespace(json=True, path=str(progress_file))) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["00"]["passed"] == 1 and data["06"]["results"] == {"available": 1, "reached": 0, "completed": False}
