"""Graded checks: feedback for every kind of bad answer, strict mode, unknown ids, HTML escaping."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from course.checks import (
    Feedback,
    Wrong,
    call_student,
    check,
    expect_array,
    expect_number,
    expect_whole_number,
    load_errors,
    question,
    registry,
)
from course.checks.catalog import _ID, _REGISTRY
from course.checks.feedback import ERROR, FAILED, PASSED, UNANSWERED, UNKNOWN

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def questions():
    """Test-only questions in chapter 99, removed afterwards."""
    registry()  # load the real questions first
    before = dict(_REGISTRY)

    @question("99.number", title="A number", hint="Think about 0.525.")
    def _(answer):
        expect_number(answer, 0.525, tol=1e-3, name="cost")

    @question("99.array", title="An array")
    def _(answer):
        expect_array(answer, [[1.0, 2.0], [3.0, 4.0]], dtype_kind="f", tol=1e-4, name="W")

    @question("99.function", title="A function")
    def _(answer):
        result = call_student(answer, 3, timeout=0.5, name="square")
        expect_number(result, 9.0, name="square(3)")
        return "square works."

    @question("99.echo", title="Echo <b>bold</b>")
    def _(answer):
        raise Wrong(f"you wrote {answer}", hint=f"not {answer}")

    @question("99.buggy", title="A broken grader")
    def _(answer):
        return 1 / 0

    yield
    _REGISTRY.clear()
    _REGISTRY.update(before)


def wrong(fn, *args, **kwargs) -> Wrong:
    with pytest.raises(Wrong) as info:
        fn(*args, **kwargs)
    return info.value


def recorded(path: Path) -> dict:
    return json.loads(path.read_text())["questions"]


# ----------------------------------------------------------------------------------------------- registry


def test_sample_question_registered_and_all_modules_load():
    reg = registry()
    assert "00.tensorflow_version" in reg
    assert reg["00.tensorflow_version"].chapter == "00"
    assert load_errors() == {}
    for qid, q in reg.items():
        assert _ID.match(qid) and q.chapter == qid.split(".", 1)[0] and q.title
        assert q.module == f"course.checks.questions.ch{q.chapter}", f"{qid} is defined in {q.module}"
        assert q.grader.__name__ == qid.split(".", 1)[1], f"the grader of {qid} is named {q.grader.__name__}"


def test_question_ids_are_validated_and_unique(questions):
    for bad in ("3.bad", "0a.bad", "00A.bad", "00ab.bad", "a0.bad", "003.bad", "00a", "00a.", "00a.bad-name"):
        with pytest.raises(ValueError, match="must look like"):
            question(bad, title="x")
    with pytest.raises(ValueError, match="already defined"):
        ns: dict = {"__name__": "some_other_module", "question": question}
        exec("@question('99.number', title='again')\ndef g(answer):\n    pass\n", ns)


def test_a_chapter_between_two_others_has_a_letter(questions):
    """The primer is chapter "00a": between 00 and 01 in every sorted list of chapters or question ids."""
    @question("99a.letter", title="A chapter with a letter")
    def letter(answer):
        expect_number(answer, 1.0, name="one")

    q = registry()["99a.letter"]
    assert q.chapter == "99a" and q.module == __name__
    assert check("99a.letter", 1.0).passed
    assert sorted(["01.a", "00a.b", "00.z", "00.a"]) == ["00.a", "00.z", "00a.b", "01.a"]
    assert sorted({"01", "00a", "00"}) == ["00", "00a", "01"]


def test_import_is_fast_and_does_not_import_tensorflow():
    code = (
        "import sys, course.checks as c; assert 'tensorflow' not in sys.modules, 'import';"
        "c.registry(); assert 'tensorflow' not in sys.modules, 'registry'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# Each part of the package imports only the parts above it (function-level imports included).
LAYERS = ["feedback", "describe", "authoring", "catalog", "manifest", "progress", "reporting", "grading"]


def _imported_parts(path: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    prefix = "course.checks."
    return {n[len(prefix):].split(".")[0] for n in names if n.startswith(prefix)}


def test_parts_import_one_way():
    package = ROOT / "course" / "checks"
    assert sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__") == sorted(LAYERS)
    for i, part in enumerate(LAYERS):
        imported = _imported_parts(package / f"{part}.py") - {"questions"}
        assert imported <= set(LAYERS[:i]), f"{part} imports {sorted(imported - set(LAYERS[:i]))}"
    assert _imported_parts(package / "catalog.py") == {"questions"}  # loads the chapters on first use
    for module in sorted((package / "questions").glob("ch*.py")):
        assert _imported_parts(module) <= {"authoring", "describe", "catalog"}, module.name


# ----------------------------------------------------------------------------------------------- check()


def test_pass_fail_and_tolerance_message(questions, progress_file):
    ok = check("99.number", 0.5253)
    assert ok.passed and bool(ok) and ok.status == PASSED
    bad = check("99.number", 0.6)
    assert bad.status == FAILED and not bad
    assert "off by 0.075" in bad.message and "±0.001" in bad.message and "too high" in bad.message
    assert bad.hint == "Think about 0.525."  # the question's hint fills in when Wrong has none
    text = str(bad)
    assert text.startswith("✗") and "99.number" in text and "Hint: Think about 0.525." in text
    assert recorded(progress_file)["99.number"]["attempts"] == 2


def test_none_is_not_answered_and_not_recorded(questions, progress_file):
    fb = check("99.number", None)
    assert fb.status == UNANSWERED and not fb.passed
    assert "None" in fb.message
    assert not progress_file.exists()
    assert check("99.number").status == UNANSWERED


@pytest.mark.parametrize(
    "answer, words",
    [
        ("0.525", ["is a str", "expected a number"]),
        (True, ["bool"]),
        (lambda: 0.525, ["function"]),
        ([0.5, 0.5, 0.5], ["shape (3,)", "single number"]),
        (float("nan"), ["NaN"]),
        (np.float32("inf"), ["infinite"]),
        (np.array([np.nan]), ["NaN"]),
        (1 + 2j, ["complex"]),
        ({"cost": 0.5}, ["dict"]),
        (object(), ["a value of type object", "not numeric"]),
        ([[1, 2], [3]], ["different lengths"]),
        (10**400, ["far too large"]),
    ],
)
def test_bad_numbers_give_feedback_not_tracebacks(questions, answer, words):
    fb = check("99.number", answer)
    assert fb.status == FAILED, fb
    for word in words:
        assert word in fb.message, fb.message


def test_numbers_accept_numpy_scalars_and_one_element_arrays(questions):
    for answer in (0.525, np.float32(0.525), np.array(0.525), np.array([[0.525]]), [0.525]):
        assert check("99.number", answer).passed, answer


def test_expect_number_relative_tolerance():
    assert expect_number(101.0, 100.0, rel=0.02) == 101.0
    w = wrong(expect_number, 103.0, 100.0, tol=1e-6, rel=0.02, name="loss")
    assert "loss = 103 is off by 3" in w.message and "±2" in w.message


def test_close_is_the_tolerance_of_expect_number():
    from course.checks.authoring import close

    assert close(0.5, 0.5) and not close(0.5, 0.5000001)  # no tolerance: equal
    assert close(1.0009, 1.0, tol=1e-3) and not close(1.0011, 1.0, tol=1e-3)
    assert close(101.0, 100.0, rel=0.01) and not close(101.1, 100.0, rel=0.01)
    assert close(1e-6 + 0.9e-9, 1e-6, rel=1e-3) and not close(1e-6 + 1.1e-9, 1e-6, rel=1e-3)  # purely relative
    assert close(0.0009, 0.0, tol=1e-3, rel=1e-3) and close(4.2036, 4.2, tol=1e-3, rel=1e-3)  # whichever is larger
    assert not close(4.205, 4.2, tol=1e-3, rel=1e-3)
    assert not close(float("nan"), 0.0, tol=float("inf"))
    for value, target, tol, rel in [(101.0, 100.0, 0.5, 0.02), (0.5, 0.525, 1e-3, 0.0), (3.0, 2.0, 0.0, 0.4)]:
        try:
            expect_number(value, target, tol=tol, rel=rel)
            accepted = True
        except Wrong:
            accepted = False
        assert accepted is close(value, target, tol=tol, rel=rel), (value, target, tol, rel)


def test_reject_slips_raises_the_first_match_with_its_message_and_hint():
    from course.checks.authoring import reject_slips

    slips = [(2.0, "doubled", "halve it"), (0.5, "halved", None), ("hell", "the input", "decode the output")]
    assert reject_slips(1.0, slips, tol=0.1) is None
    w = wrong(reject_slips, 2.05, slips, tol=0.1)
    assert (w.message, w.hint) == ("doubled", "halve it")
    assert wrong(reject_slips, np.float32(0.5), slips).message == "halved"  # exact by default
    assert reject_slips(0.5001, slips) is None
    assert wrong(reject_slips, "hell", slips).hint == "decode the output"  # other values: equality
    assert reject_slips("hello", slips) is None
    twice = [(1.0, "first", None), (1.0, "second", None)]
    assert wrong(reject_slips, 1.0, twice).message == "first"
    with pytest.raises(TypeError, match="not arrays"):
        reject_slips(np.zeros(2), slips)


def test_array_checks(questions):
    good = [[1.0, 2.0], [3.0, 4.00001]]
    assert check("99.array", np.array(good, dtype=np.float32)).passed
    assert check("99.array", good).passed
    fb = check("99.array", np.array(good).T.reshape(4))
    assert "shape (4,)" in fb.message and "expected (2, 2)" in fb.message and "reshape" in fb.hint
    fb = check("99.array", np.array([[1, 2], [3, 4]]))
    assert "dtype int64" in fb.message and "floating point" in fb.message and "float32" in fb.hint
    fb = check("99.array", np.array([[1.0, np.nan], [np.inf, 4.0]]))
    assert "1 NaN and 1 infinite" in fb.message
    fb = check("99.array", np.array([[1.0, 2.0], [3.5, 4.0]]))
    assert "1 of 4 value(s)" in fb.message and "±0.0001" in fb.message and "0.5 at index (1, 0)" in fb.message
    assert "dtype is <U1" in check("99.array", [["a", "b"], ["c", "d"]]).message
    assert "not numeric" in check("99.array", [[1.0, None], [3.0, 4.0]]).message


def test_expect_array_shape_wildcards_and_kinds():
    x = np.zeros((5, 10), dtype=np.int32)
    assert expect_array(x, shape=(None, 10), dtype_kind="iu") is x
    w = wrong(expect_array, x, shape=(None, 3), name="logits")
    assert "logits has shape (5, 10); expected (any, 3)" in w.message
    w = wrong(expect_array, np.zeros((5, 1)), shape=(5,))
    assert "axis of size 1" in w.hint
    w = wrong(expect_array, None, name="y_pred")
    assert "y_pred is None" in w.message
    w = wrong(expect_array, "1 2 3")
    assert "quotes" in w.hint
    w = wrong(expect_array, [True, False], [True, True])
    assert "1 of 2" in w.message


def test_student_function_raise_and_not_callable(questions):
    def broken(x):
        return x.shape  # AttributeError for an int

    fb = check("99.function", broken)
    assert fb.status == FAILED
    assert fb.message.startswith("square raised AttributeError: 'int' object has no attribute 'shape'")
    assert "in broken" in fb.message and "Traceback" not in str(fb)
    assert "full error" in fb.hint

    def typo(x, y):
        return x * y

    assert "raised TypeError:" in check("99.function", typo).message
    fb = check("99.function", 9)
    assert "should be a function" in fb.message and "without calling it" in fb.hint
    ok = check("99.function", lambda x: x * x)
    assert ok.passed and ok.message == "square works."


def test_student_function_that_runs_too_long(questions):
    stop = threading.Event()

    def forever(x):
        while not stop.is_set():  # an "infinite" loop the test can end afterwards
            pass
        return 0

    try:
        fb = check("99.function", forever)
    finally:
        stop.set()
    assert fb.status == FAILED
    assert "took longer than 0.5 s" in fb.message and "infinite loop" in fb.hint


def test_call_student_without_timeout_and_system_exit():
    assert call_student(lambda a, b=0: a + b, 1, b=2, timeout=None) == 3
    w = wrong(call_student, lambda: sys.exit(3))
    assert "raised SystemExit: 3" in w.message
    w = wrong(call_student, lambda: 1 / 0, timeout=None, name="f")
    assert w.message.startswith("f raised ZeroDivisionError: division by zero")


def test_grader_bug_is_reported_as_failed_check(questions):
    fb = check("99.buggy", 1)
    assert fb.status == ERROR and not fb.passed
    assert "The check itself failed (ZeroDivisionError: division by zero)" in fb.message
    assert "99.buggy" in fb.hint and "Traceback" not in str(fb)


def test_unknown_question_lists_close_matches(questions):
    fb = check("99.numbr", 1)
    assert fb.status == UNKNOWN and "Did you mean: 99.number" in fb.message
    fb = check("00.tensorflow_versoin", "x")
    assert "00.tensorflow_version" in fb.message
    fb = check("42.nothing_like_it", 1)
    assert fb.status == UNKNOWN and "There is no question '42.nothing_like_it'." in fb.message
    fb = check(3, 1)
    assert fb.status == UNKNOWN and "must be a string" in fb.message


def test_html_escapes_student_text(questions):
    fb = check("99.echo", "<script>alert('x')</script>")
    page = fb._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Echo &lt;b&gt;bold&lt;/b&gt;" in page  # titles are escaped too
    assert "#c62828" in page and "✗" in page
    assert "<script>" in str(fb)  # plain text keeps what was typed
    ok = check("99.number", 0.525)._repr_html_()
    assert "✓" in ok and "#2e7d32" in ok


def test_feedback_shows_multiline_and_notes():
    fb = Feedback("01.x", "T", FAILED, "line one\nline <two>", hint="h", notes=["saved nowhere"])
    assert "line one<br>line &lt;two&gt;" in fb._repr_html_()
    assert str(fb).splitlines() == ["✗ Not yet: 01.x · T", "  line one", "  line <two>", "  Hint: h",
                                    "  Note: saved nowhere"]
    assert repr(fb) == str(fb)


# ----------------------------------------------------------------------------------------------- strict mode


def test_strict_mode_raises_for_wrong_answers_only(questions, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKS_STRICT", "1")
    assert check("99.number", 0.525).passed
    assert check("99.number", None).status == UNANSWERED  # None never raises
    with pytest.raises(AssertionError) as info:
        check("99.number", 0.7)
    assert "off by 0.175" in str(info.value) and "99.number" in str(info.value)
    with pytest.raises(AssertionError, match="The check itself failed"):
        check("99.buggy", 1)
    with pytest.raises(AssertionError, match="no question"):
        check("99.nope", 1)
    monkeypatch.setenv("COURSE_CHECKS_STRICT", "0")
    assert check("99.number", 0.7).status == FAILED


# ----------------------------------------------------------------------------------------------- progress notes


def test_unwritable_progress_still_gives_feedback(questions, tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a regular file")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(blocker / "progress.json"))
    fb = check("99.number", 0.525)
    assert fb.passed
    assert len(fb.notes) == 1 and fb.notes[0].startswith("Progress could not be saved")
    assert "Note: Progress could not be saved" in str(fb)


# ----------------------------------------------------------------------------------------------- TensorFlow answers


def test_tensorflow_values_tensors_and_keras_models(questions):
    import keras
    import tensorflow as tf

    assert check("00.tensorflow_version", tf.__version__).passed
    fb = check("00.tensorflow_version", tf)
    assert "the module tensorflow, not its version" in fb.message
    assert "not the installed" in check("00.tensorflow_version", "0.0.1").message

    assert check("99.number", tf.constant(0.525)).passed
    assert check("99.number", tf.Variable([0.525])).passed
    assert "shape (2,)" in check("99.number", tf.constant([0.5, 0.5])).message
    assert check("99.array", tf.constant([[1.0, 2.0], [3.0, 4.0]])).passed
    assert "dtype int32" in check("99.array", tf.constant([[1, 2], [3, 4]])).message
    assert ".to_tensor()" in check("99.array", tf.ragged.constant([[1.0], [2.0, 3.0]])).hint
    assert "keras.Input" in check("99.array", keras.Input((2,))).message

    @tf.function
    def squared(x):
        return x * x

    assert check("99.function", squared).passed

    @question("99.model", title="A Keras model")
    def _(model):
        out = call_student(model, np.array([[1.0, 2.0]], dtype=np.float32), name="model", timeout=30)
        expect_array(out, [[5.0]], tol=1e-5, name="model(x)")

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.set_weights([np.array([[1.0], [2.0]], dtype=np.float32), np.zeros(1, np.float32)])
    assert check("99.model", model).passed
    model.set_weights([np.array([[1.0], [1.0]], dtype=np.float32), np.zeros(1, np.float32)])
    fb = check("99.model", model)
    assert "largest difference is 2 at index (0, 0)" in fb.message
    fb = check("99.model", keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]))
    assert fb.status == FAILED and fb.message.startswith("model raised ValueError")


def test_expect_whole_number_accepts_integral_values_and_explains_the_rest():
    assert expect_whole_number(np.array([3.0]), name="n") == 3 and expect_whole_number(7) == 7
    with pytest.raises(Wrong, match="n = 2.5 is not a whole number") as fraction:
        expect_whole_number(2.5, name="n", hint="use //")
    assert fraction.value.hint == "use //"
    with pytest.raises(Wrong, match="is a bool"):
        expect_whole_number(True, name="n")
    with pytest.raises(Wrong, match="not answered|None"):
        expect_whole_number(None, name="n")


def test_the_questions_manifest_matches_the_registry():
    """course/checks/questions.json is what the hub's gradebook reads (it cannot import the checks)."""
    from course.checks import manifest

    assert manifest.MANIFEST.read_text(encoding="utf-8") == manifest.render(), \
        "course/checks/questions.json is out of date: run python -m course.checks.manifest"


# ----------------------------------------------------------------------------------------------- kinds and hidden cases


@pytest.fixture
def kinds(questions):
    """A chapter result and an exercise with two hidden cases (chapter 99); ``ran`` lists the hidden cases run."""
    ran: list[int] = []

    @question("99.figure", title="The chapter's figure", kind="result")
    def _(answer):
        expect_number(answer, 0.9, tol=0.05, name="accuracy")

    def hidden_one(answer):
        ran.append(1)
        expect_number(call_student(answer, -2, name="square"), 4.0, name="square(-2)")

    def hidden_two(answer):
        ran.append(2)
        expect_number(call_student(answer, 0.5, name="square"), 0.25, name="square(0.5)")

    @question("99.hidden", title="square(x)", hidden=[hidden_one, hidden_two])
    def _(answer):
        expect_number(call_student(answer, 3, name="square"), 9.0, name="square(3)")

    @question("99.buggy_hidden", title="A broken hidden case", hidden=[lambda answer: 1 / 0])
    def _(answer):
        return None

    return ran


def test_question_kinds_and_hidden_cases_are_declared(kinds):
    reg = registry()
    assert reg["99.figure"].kind == "result" and reg["99.figure"].hidden_cases == 0
    assert reg["99.hidden"].kind == "exercise" and reg["99.hidden"].hidden_cases == 2
    assert reg["99.number"].kind == "exercise" and reg["99.number"].hidden == ()
    with pytest.raises(ValueError, match="kind must be one of"):
        question("99.odd_kind", title="x", kind="bonus")(lambda answer: None)
    with pytest.raises(ValueError, match="only exercises have hidden cases"):
        question("99.hidden_result", title="x", kind="result", hidden=[lambda answer: None])(lambda answer: None)
    with pytest.raises(ValueError, match="callable"):
        question("99.bad_hidden", title="x", hidden=[3])


def test_every_registered_question_has_a_known_kind():
    reg = registry()
    assert {q.kind for q in reg.values()} == {"exercise", "result"}
    for q in reg.values():
        assert q.hidden_cases == len(q.hidden)
        assert not (q.hidden and q.kind == "result"), q.id
    assert sum(1 for q in reg.values() if q.hidden) >= 5  # a handful of exercises have hidden cases


def test_a_chapter_result_is_labelled_as_a_figure_reached(kinds, progress_file):
    reached = check("99.figure", 0.92)
    assert reached.passed and reached.kind == "result"
    assert str(reached).startswith("✓ Figure reached: 99.figure") and "Figure reached" in reached._repr_html_()
    missed = check("99.figure", 0.5)
    assert not missed.passed and str(missed).startswith("✗ Figure not reached yet: 99.figure")
    assert str(check("99.number", 0.525)).startswith("✓ Correct: 99.number")
    entry = recorded(progress_file)["99.figure"]
    assert (entry["kind"], entry["attempts"], entry["passed"]) == ("result", 2, True)
    assert recorded(progress_file)["99.number"]["kind"] == "exercise"


def test_strict_mode_asserts_chapter_results_too(kinds, monkeypatch):
    monkeypatch.setenv("COURSE_CHECKS_STRICT", "1")
    assert check("99.figure", 0.9).passed
    with pytest.raises(AssertionError, match="Figure not reached yet"):
        check("99.figure", 0.1)


def test_hidden_cases_do_not_run_in_a_students_kernel(kinds, progress_file, monkeypatch):
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    feedback = check("99.hidden", lambda x: x * x)
    assert feedback.passed and kinds == []
    assert "2 more cases will be checked when your instructor grades this notebook." in feedback.notes
    assert "Note: 2 more cases will be checked" in str(feedback)
    wrong_for_negatives = check("99.hidden", lambda x: abs(x) * x)  # only a hidden case can tell
    assert wrong_for_negatives.passed and kinds == []
    failed = check("99.hidden", lambda x: x + x)
    assert not failed.passed and not any("more case" in note for note in failed.notes)
    assert not any("case" in note for note in check("99.number", 0.525).notes)  # no hidden cases: no note


def test_hidden_cases_run_when_an_instructor_grades(kinds, progress_file, monkeypatch):
    from course.config import grading_mode

    monkeypatch.setenv("COURSE_GRADING", "1")
    assert grading_mode() is True
    feedback = check("99.hidden", lambda x: x * x)
    assert feedback.passed and kinds == [1, 2]
    assert feedback.notes == ["The 2 hidden cases passed too."]
    kinds.clear()
    caught = check("99.hidden", lambda x: abs(x) * x)
    assert not caught.passed and caught.status == FAILED and kinds == [1]  # stops at the first failure
    assert caught.message.startswith("Hidden case 1 of 2: square(-2) = -4")
    assert recorded(progress_file)["99.hidden"]["passed"] is True  # the first attempt passed
    kinds.clear()
    assert not check("99.hidden", lambda x: 2 * x).passed and kinds == []  # the public grader failed first
    broken = check("99.buggy_hidden", 1)
    assert broken.status == ERROR and broken.message.startswith("Hidden case 1 of 1: The check itself failed")
    monkeypatch.setenv("COURSE_GRADING", "false")
    assert grading_mode() is False


def test_call_student_can_forbid_a_library():
    import tensorflow as tf

    from course.checks.authoring import NUMPY_ONLY

    assert "tensorflow" in NUMPY_ONLY and "keras" in NUMPY_ONLY
    assert call_student(lambda x: np.max(x), np.arange(4), forbid=NUMPY_ONLY) == 3

    def through_tensorflow(x):
        return float(tf.reduce_max(x))

    for timeout in (5.0, None):
        with pytest.raises(Wrong, match=r"uses tensorflow \(line \d+, in through_tensorflow\); .*NumPy only"):
            call_student(through_tensorflow, np.arange(4), forbid=NUMPY_ONLY, timeout=timeout, name="f")
    assert sys.getprofile() is None  # the watch is gone after the call
    assert call_student(through_tensorflow, np.arange(4)) == 3.0  # allowed without forbid
