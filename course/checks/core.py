"""Graded checks: the question registry, helpers for question authors, and ``check()`` for students.

Authors write a module ``course/checks/questions/chNN.py``::

    from course.checks.core import question, Wrong, expect_number, expect_array, call_student

    @question("03.cost_by_hand", title="Cost of y = 1.4x + 3.5", hint="Average the squared errors.")
    def _(answer):
        expect_number(answer, 0.525, tol=1e-3, name="cost")

Rules for graders:

- Return None (or a short string, shown on success) when the answer is right; raise
  ``Wrong(message, hint=...)`` when it is not. Any other exception is reported as "the check itself failed".
- Graders never see ``None``: ``check()`` answers "not answered yet" itself.
- Call student functions and models only through ``call_student`` (timeout, one-line errors).
- Import TensorFlow lazily, inside the grader (``sys.modules.get("tensorflow")`` first): loading the
  question modules must not import it. This module never does; tensors convert via their ``.numpy()``.
- Other helpers: ``to_array(x, name)`` (array or Wrong), ``describe(x)`` ("a list of length 3"), ``short(x)``
  (a safe, short repr). Messages may quote student input: the HTML view escapes it.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
import reprlib
import threading
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from course.checks.feedback import ERROR, FAILED, PASSED, UNANSWERED, UNKNOWN, Feedback

_ID = re.compile(r"^(\d{2})\.[A-Za-z0-9_]+$")


class Wrong(Exception):
    """Raised by a grader when the answer is wrong; ``message`` says what, ``hint`` what to try."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Question:
    """One graded question: ``id`` like "03.cost_by_hand", ``chapter`` "03"."""

    id: str
    title: str
    grader: Callable[[Any], Any]
    chapter: str
    hint: str | None = None
    module: str = ""


_REGISTRY: dict[str, Question] = {}


def question(question_id: str, *, title: str, hint: str | None = None) -> Callable:
    """Register the decorated function as the grader of ``question_id`` ("NN.snake_name").

    ``hint`` is shown on a wrong answer when the grader's ``Wrong`` carries no hint of its own.
    """
    match = _ID.match(question_id or "")
    if not match:
        raise ValueError(f"question id {question_id!r} must look like '03.cost_by_hand' (two-digit chapter, dot, name)")

    def register(grader: Callable[[Any], Any]) -> Callable[[Any], Any]:
        module = getattr(grader, "__module__", "") or ""
        old = _REGISTRY.get(question_id)
        if old is not None and old.module != module:  # the same module reloaded may replace its own question
            raise ValueError(f"question id {question_id!r} is already defined in {old.module}")
        _REGISTRY[question_id] = Question(question_id, title, grader, match.group(1), hint, module)
        return grader

    return register


def registry() -> dict[str, Question]:
    """All questions, by id (loads every module in ``course.checks.questions`` on first use)."""
    _load_questions()
    return dict(_REGISTRY)


def load_errors() -> dict[str, str]:
    """Question modules that failed to import: module name -> one-line error."""
    _load_questions()
    from course.checks import questions

    return dict(questions.LOAD_ERRORS)


def _load_questions() -> None:
    import course.checks.questions  # noqa: F401  (importing it imports every question module once)


# --------------------------------------------------------------------------------------------- describing values

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = 6


def short(value: Any) -> str:
    """A short, safe repr of a student's value (never raises)."""
    try:
        if isinstance(value, np.ndarray):
            text = np.array2string(value, threshold=8, edgeitems=2, precision=4)
        else:
            text = _repr.repr(value)
    except Exception:  # a student class with a broken __repr__
        text = f"<{type(value).__name__} object>"
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def describe(value: Any) -> str:
    """What kind of thing ``value`` is, in words: "a str ('2.1')", "a function", "a list of length 3"."""
    if value is None:
        return "None"
    kind = type(value).__name__
    if isinstance(value, (str, bytes)):
        return f"a {kind} ({short(value)})"
    if isinstance(value, (bool, np.bool_)):
        return f"a bool ({value})"
    if isinstance(value, (list, tuple, dict, set)):
        return f"a {kind} of length {len(value)}"
    if _is_tensor_like(value) or isinstance(value, np.ndarray):
        shape = getattr(value, "shape", None)
        try:
            shape = tuple(shape)
        except TypeError:
            pass
        return f"a {kind} with shape {shape}"
    if isinstance(value, type(describe)) or kind in {"builtin_function_or_method", "method"}:
        return f"a function ({getattr(value, '__name__', kind)})"
    if isinstance(value, type(np)):
        return f"the module {value.__name__}"
    if isinstance(value, numbers.Number):
        return f"a {kind} ({short(value)})"
    module = type(value).__module__
    return f"a value of type {kind}" if module == "builtins" else f"a value of type {module}.{kind}"


def _is_tensor_like(value: Any) -> bool:
    module = type(value).__module__ or ""
    return module.startswith(("tensorflow", "keras", "tf_keras", "torch", "jax"))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# --------------------------------------------------------------------------------------------- converting answers


def _not_answered(name: str) -> Wrong:
    return Wrong(f"{name} is None: not answered yet.", hint=f"Replace None with your {name}.")


def to_array(answer: Any, name: str = "answer") -> np.ndarray:
    """Turn a student's array, tensor, variable, list or number into a NumPy array, or raise ``Wrong``."""
    if answer is None:
        raise _not_answered(name)
    if isinstance(answer, np.ndarray):
        return answer
    if isinstance(answer, (str, bytes)):
        raise Wrong(f"{name} is {describe(answer)}, not an array of numbers.", hint="Remove the quotes around the numbers.")
    if isinstance(answer, (dict, set)):
        raise Wrong(f"{name} is {describe(answer)}; expected an array of numbers.")
    if isinstance(answer, type(np)):
        raise Wrong(f"{name} is {describe(answer)}; expected an array of numbers.")
    module = type(answer).__module__ or ""
    kind = type(answer).__name__
    if module.startswith("tensorflow"):
        if kind == "RaggedTensor":
            raise Wrong(f"{name} is a tf.RaggedTensor; expected a regular array.", hint="Convert it with .to_tensor().")
        if kind == "SparseTensor":
            raise Wrong(f"{name} is a tf.SparseTensor; expected a dense array.", hint="Convert it with tf.sparse.to_dense(...).")
        if hasattr(answer, "numpy"):
            try:
                return np.asarray(answer.numpy())
            except Exception:
                raise Wrong(
                    f"{name} is a symbolic tensor with no value yet ({describe(answer)}).",
                    hint="Pass a concrete result: run the computation eagerly (outside @tf.function) and pass what it returns.",
                ) from None
    if kind == "KerasTensor":
        raise Wrong(
            f"{name} is a symbolic Keras tensor (it comes from keras.Input), not values.",
            hint="Call the model on real data, e.g. model(x) or model.predict(x), and pass the result.",
        )
    if callable(answer) and not hasattr(answer, "__array__") and not isinstance(answer, (list, tuple)):
        raise Wrong(
            f"{name} is {describe(answer)}; expected an array of numbers.",
            hint="Pass the result of calling it, e.g. my_fn(x) rather than my_fn.",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.asarray(answer)
    except ValueError as exc:
        if "inhomogeneous" in str(exc) or "sequence" in str(exc):
            raise Wrong(
                f"{name} could not be turned into an array: its rows have different lengths.",
                hint="Every row must have the same number of values.",
            ) from None
        raise Wrong(f"{name} could not be turned into an array ({describe(answer)}).") from None
    except Exception:
        raise Wrong(f"{name} could not be turned into an array ({describe(answer)}).") from None
    if array.dtype.kind in "OUSV":
        raise Wrong(
            f"{name} is {describe(answer)}, which is not numeric (as an array its dtype is {array.dtype}).",
            hint="It should hold plain numbers only (no strings, None or nested objects).",
        )
    return array


_KIND_NAMES = {"f": "floating point", "i": "signed integer", "u": "unsigned integer", "b": "boolean", "c": "complex"}


def _kinds(kinds: str) -> str:
    return " or ".join(_KIND_NAMES.get(k, k) for k in kinds)


def _check_finite(array: np.ndarray, name: str) -> None:
    if array.dtype.kind not in "fc":
        return
    n_nan = int(np.isnan(array).sum())
    n_inf = int(np.isinf(array).sum())
    if n_nan or n_inf:
        if array.size == 1:
            problem = f"{name} is NaN (not a number)." if n_nan else f"{name} is infinite."
        else:
            counts = " and ".join(p for p in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else "") if p)
            problem = f"{name} contains {counts} value(s) (out of {array.size})."
        raise Wrong(
            problem,
            hint="NaN/inf usually come from dividing by zero, log(0), or training that diverged: "
            "try a smaller learning rate and print the intermediate values.",
        )


# --------------------------------------------------------------------------------------------- author helpers


def expect_number(answer: Any, expected: float, *, tol: float = 1e-6, rel: float | None = None, name: str = "answer") -> float:
    """Check that ``answer`` is one finite number within ``tol`` (or ``rel`` × |expected|) of ``expected``.

    Accepts Python/NumPy numbers, 0-d or one-element arrays and tensors. Returns the answer as a float.
    """
    if answer is None:
        raise _not_answered(name)
    if isinstance(answer, (bool, np.bool_)):
        raise Wrong(f"{name} is a bool ({answer}); expected a number.", hint="Pass the number itself, not a comparison.")
    if isinstance(answer, (str, bytes)):
        raise Wrong(
            f"{name} is {describe(answer)}; expected a number.",
            hint="Remove the quotes, or convert it with float(...).",
        )
    if isinstance(answer, numbers.Real):
        try:
            value = float(answer)
        except OverflowError:
            raise Wrong(f"{name} is far too large to be a float ({short(answer)}).") from None
    elif isinstance(answer, numbers.Complex):
        raise Wrong(f"{name} is a complex number ({short(answer)}); expected a real number.")
    else:
        array = to_array(answer, name)
        if array.size != 1:
            raise Wrong(
                f"{name} has shape {tuple(array.shape)} ({array.size} values); expected a single number.",
                hint="Reduce it to one number (e.g. np.mean or tf.reduce_mean), or pick the element you need.",
            )
        if array.dtype.kind not in "iuf":
            raise Wrong(f"{name} has dtype {array.dtype}; expected a real number.")
        value = float(array.reshape(()))
    if math.isnan(value) or math.isinf(value):
        _check_finite(np.asarray(value), name)
    diff = abs(value - float(expected))
    allowed = float(tol) if rel is None else max(float(tol), float(rel) * abs(float(expected)))
    if not diff <= allowed:
        direction = "too high" if value > expected else "too low"
        raise Wrong(f"{name} = {_fmt(value)} is off by {_fmt(diff)} ({direction}); the tolerance is ±{allowed:.3g}.")
    return value


def expect_whole_number(answer: Any, *, name: str = "answer", hint: str | None = None) -> int:
    """A whole number (an int, an integral float or a one-element array); a bool or a fraction is feedback."""
    if isinstance(answer, (bool, np.bool_)):
        raise Wrong(f"{name} is a bool ({answer}); expected a whole number.")
    value = expect_number(answer, 0, tol=float("inf"), name=name)
    if value != int(value):
        raise Wrong(f"{name} = {value:g} is not a whole number.", hint=hint)
    return int(value)


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def expect_array(
    answer: Any,
    expected: Any = None,
    *,
    shape: tuple | int | None = None,
    dtype_kind: str | None = None,
    tol: float = 1e-6,
    rel: float = 0.0,
    name: str = "answer",
) -> np.ndarray:
    """Check an array-like answer; returns it as a NumPy array.

    ``shape`` may use None for "any size" (defaults to ``expected``'s shape); ``dtype_kind`` is a string of
    allowed NumPy kinds ("f" float, "i" int, "u" unsigned, "b" bool, e.g. "iu"); values are compared with
    ``expected`` when given: |answer − expected| ≤ tol + rel·|expected| everywhere.
    """
    array = to_array(answer, name)
    want = None if expected is None else np.asarray(expected)
    if isinstance(shape, int):
        shape = (shape,)
    want_shape = tuple(shape) if shape is not None else (want.shape if want is not None else None)
    if want_shape is not None:
        ok = array.ndim == len(want_shape) and all(w is None or w == s for s, w in zip(array.shape, want_shape))
        if not ok:
            sizes = [w for w in want_shape if w is not None]
            if array.ndim != len(want_shape) and [s for s in array.shape if s != 1] == [w for w in want_shape if w != 1]:
                hint = "Check for an extra or missing axis of size 1 (np.squeeze / np.expand_dims / reshape)."
            elif len(sizes) == len(want_shape) and array.size == int(np.prod(sizes, dtype=np.int64)):
                hint = "It has the right number of values in the wrong layout: try .reshape(...) or a transpose (.T)."
            else:
                hint = f"Print {name}.shape and compare it with the shape the exercise asks for."
            raise Wrong(f"{name} has shape {_shape_text(array.shape)}; expected {_shape_text(want_shape)}.", hint=hint)
    if dtype_kind and array.dtype.kind not in dtype_kind:
        example = "np.float32" if "f" in dtype_kind else "np.int64" if "i" in dtype_kind else "bool"
        raise Wrong(
            f"{name} has dtype {array.dtype} ({_kinds(array.dtype.kind)}); expected {_kinds(dtype_kind)}.",
            hint=f"Convert it, e.g. np.asarray({name}, dtype={example}) or tf.cast({name}, tf.{example.split('.')[-1]}).",
        )
    _check_finite(array, name)
    if want is not None:
        if array.dtype.kind in "biuf" and want.dtype.kind in "biuf":
            got = array.astype(np.float64)
            ref = want.astype(np.float64)
            diff = np.abs(got - ref)
            allowed = tol + rel * np.abs(ref)
            bad = ~(diff <= allowed)
            if bad.any():
                index = np.unravel_index(int(np.argmax(np.where(bad, diff, -1.0))), diff.shape) if diff.ndim else ()
                where = f" at index {tuple(int(i) for i in index)}" if index else ""
                tolerance = f"±{tol:.3g}" + (f" + {rel:g}·|expected|" if rel else "")
                raise Wrong(
                    f"{int(bad.sum())} of {diff.size} value(s) of {name} are off by more than the tolerance {tolerance}; "
                    f"the largest difference is {_fmt(float(diff[index] if index else diff))}{where}."
                )
        elif not np.array_equal(array, want):
            raise Wrong(f"{name} does not have the expected values.")
    return array


def call_student(fn: Any, *args: Any, timeout: float | None = 5.0, name: str = "your function", **kwargs: Any) -> Any:
    """Call a student's function and return its result; a raise or a call over ``timeout`` s becomes ``Wrong``.

    The call runs in a daemon thread; on timeout we stop waiting (Python cannot stop the thread itself).
    """
    if fn is None:
        raise _not_answered(name)
    if not callable(fn):
        raise Wrong(
            f"{name} should be a function, but it is {describe(fn)}.",
            hint="Pass the function itself, without calling it: check(..., my_fn) rather than check(..., my_fn()).",
        )
    if timeout is None:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _raised(exc, name) from None
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001  (SystemExit in student code is still just a failure)
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"course-check:{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Wrong(
            f"{name} took longer than {timeout:g} s, so the check stopped waiting for it.",
            hint="Look for an infinite loop (a while loop whose condition never becomes False) or work far larger "
            "than the exercise needs. It may still be running in the background: restart the kernel if things get slow.",
        )
    if "error" in box:
        raise _raised(box["error"], name) from None
    return box.get("value")


def _raised(exc: BaseException, name: str) -> Wrong:
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" (line {last.lineno}, in {last.name})"
    return Wrong(
        f"{name} raised {type(exc).__name__}: {text}{where}".rstrip(": "),
        hint="Call it yourself in a cell with a small input to see the full error, fix it, then run the check again.",
    )


# --------------------------------------------------------------------------------------------- students


def check(question_id: str, answer: Any = None) -> Feedback:
    """Grade ``answer`` for ``question_id``, record the attempt, and return the feedback to show.

    Never raises for a wrong answer, unless ``COURSE_CHECKS_STRICT=1`` (CI): then a wrong answer that is
    not None raises AssertionError with the feedback text.
    """
    from course.config import strict_checks

    feedback = _grade(question_id, answer)
    if feedback.status in (PASSED, FAILED, ERROR):
        from course.checks import progress

        feedback.notes.extend(progress.record_attempt(question_id, feedback.passed))
    if strict_checks() and answer is not None and not feedback.passed:
        raise AssertionError(str(feedback))
    return feedback


def _grade(question_id: Any, answer: Any) -> Feedback:
    if not isinstance(question_id, str):
        return Feedback(
            short(question_id),
            "",
            UNKNOWN,
            f"The question id must be a string like '03.cost_by_hand', not {describe(question_id)}.",
            hint="Copy the check(...) line from the notebook as it is.",
        )
    questions = registry()
    q = questions.get(question_id)
    if q is None:
        return _unknown(question_id, questions)
    if answer is None:
        return Feedback(q.id, q.title, UNANSWERED, "Your answer is still None.", hint="Replace None with your answer, then run the cell again.")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = q.grader(answer)
    except Wrong as wrong:
        return Feedback(q.id, q.title, FAILED, wrong.message, hint=wrong.hint or q.hint)
    except Exception as exc:  # a bug in the grader: report it, never show a traceback
        text = " ".join(str(exc).split())[:200]
        return Feedback(
            q.id,
            q.title,
            ERROR,
            f"The check itself failed ({type(exc).__name__}: {text}). This is a problem in the course, "
            "not necessarily in your answer.",
            hint=f"Tell your instructor, mentioning the question id {q.id!r}.",
        )
    message = result if isinstance(result, str) and result.strip() else "Correct, well done!"
    return Feedback(q.id, q.title, PASSED, message)


def _unknown(question_id: str, questions: dict[str, Question]) -> Feedback:
    close = difflib.get_close_matches(question_id, list(questions), n=3, cutoff=0.5)
    if close:
        message = f"There is no question {question_id!r}. Did you mean: " + ", ".join(close) + "?"
    else:
        chapter = question_id.split(".", 1)[0]
        same = sorted(q for q in questions if q.startswith(chapter + "."))
        message = f"There is no question {question_id!r}."
        if same:
            message += " Questions in chapter " + chapter + ": " + ", ".join(same[:8]) + ("..." if len(same) > 8 else "")
    feedback = Feedback(question_id, "", UNKNOWN, message, hint="Copy the check(...) line from the notebook as it is.")
    from course.checks import questions as modules

    for module, error in sorted(modules.LOAD_ERRORS.items()):
        feedback.notes.append(f"question module {module} failed to load ({error}).")
    return feedback
