"""Helpers for question authors: ``Wrong``, converting and comparing answers, calling student code.

Authors write a module ``course/checks/questions/chNN.py``::

    from course.checks.authoring import Wrong, expect_number
    from course.checks.catalog import question

    @question("03.cost_by_hand", title="Cost of y = 1.4x + 3.5", hint="Average the squared errors.")
    def cost_by_hand(answer):
        expect_number(answer, 0.525, tol=1e-3, name="cost")

Two kinds of question (``@question(..., kind=...)``):

- an **exercise** (the default) grades the student's own answer. The chapter checks it in exactly one cell,
  the one whose answer is still ``None`` when committed; no demonstration cell calls its check, and no earlier
  cell computes its answer (a test of the notebooks enforces the first two; executing the chapters as
  committed must record no exercise).
- a **chapter result** (``kind="result"``) says the chapter's own computation reached its figure (a test
  accuracy, a fit): the demonstration cell checks it, and progress shows it as "chapter completed".

An exercise may have hidden cases, ``@question(..., hidden=[case, ...])``: callables that take the answer and
raise ``Wrong`` like a grader; ``hidden_case(check, *args)`` makes one from the function that checks a case
(``check(answer, *args)``), the same function the public grader calls. They run only in grading mode
(``COURSE_GRADING``), after the grader passed; the student sees how many there are, not what they are (they live
in this source, which a student can read).

Rules for graders:

- Name the grader after its question (``def cost_by_hand``), so a traceback or a profile says which one it is.
- Return None (or a short string, shown on success) when the answer is right; raise
  ``Wrong(message, hint=...)`` when it is not. Any other exception is reported as "the check itself failed".
- Graders never see ``None``: ``check()`` answers "not answered yet" itself.
- Call student functions and models only through ``call_student`` (timeout, one-line errors). An exercise
  that says "NumPy only" passes ``forbid=NUMPY_ONLY``: a function that calls TensorFlow (or another array
  library) is then refused, whatever names it uses for it.
- Import TensorFlow lazily, inside the grader (``sys.modules.get("tensorflow")`` first): loading the
  question modules must not import it. This module never does; tensors convert via their ``.numpy()``.
- Compare numbers with ``close(value, target, tol=..., rel=...)`` (the tolerance ``expect_number`` uses), and
  explain known wrong answers with ``reject_slips(value, [(slip, message, hint), ...])``.
- Other helpers: ``to_array(x, name)`` (array or Wrong), ``expect_whole_number``, and in
  ``course.checks.describe``: ``describe(x)`` ("a list of length 3"), ``short(x)`` (a safe, short repr).
  Messages may quote student input: the HTML view escapes it.
"""

from __future__ import annotations

import math
import numbers
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from course.checks.describe import describe, short


class Wrong(Exception):
    """Raised by a grader when the answer is wrong; ``message`` says what, ``hint`` what to try."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint



def hidden_case(check: Callable[..., Any], *args: Any) -> Callable[[Any], None]:
    """A hidden case: grading calls ``check(answer, *args)``, which raises ``Wrong`` when the answer fails it."""

    def case(answer: Any) -> None:
        check(answer, *args)

    case.__name__ = case.__qualname__ = f"hidden_{getattr(check, '__name__', 'case').lstrip('_')}"
    return case


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
        raise Wrong(f"{name} is {describe(answer)}, not an array of numbers.",
                    hint="Remove the quotes around the numbers.")
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
            raise Wrong(f"{name} is a tf.SparseTensor; expected a dense array.",
                        hint="Convert it with tf.sparse.to_dense(...).")
        if hasattr(answer, "numpy"):
            try:
                return np.asarray(answer.numpy())
            except Exception:
                raise Wrong(
                    f"{name} is a symbolic tensor with no value yet ({describe(answer)}).",
                    hint="Pass a concrete result: run the computation eagerly (outside @tf.function) and pass what it "
                         "returns.",
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
            counts = " and ".join(p for p in (f"{n_nan} NaN" if n_nan else "",
                                              f"{n_inf} infinite" if n_inf else "") if p)
            problem = f"{name} contains {counts} value(s) (out of {array.size})."
        raise Wrong(
            problem,
            hint="NaN/inf usually come from dividing by zero, log(0), or training that diverged: "
            "try a smaller learning rate and print the intermediate values.",
        )


# --------------------------------------------------------------------------------------------- comparing numbers


def _allowed(target: float, tol: float, rel: float) -> float:
    return max(float(tol), float(rel) * abs(float(target)))


def close(value: float, target: float, *, tol: float = 0.0, rel: float = 0.0) -> bool:
    """True when ``value`` is within ``tol`` of ``target``, or within ``rel`` × |target|, whichever allows more.

    The tolerance of ``expect_number``. ``tol=1e-3, rel=1e-3`` is ±1e-3 up to |target| = 1 and 0.1 % beyond;
    ``rel`` alone is purely relative; neither means equal. NaN is close to nothing.
    """
    return abs(float(value) - float(target)) <= _allowed(target, tol, rel)


Slip = tuple[Any, str, str | None]
"""A known wrong answer for ``reject_slips``: (the wrong value, the message, the hint)."""


def reject_slips(value: Any, slips: Iterable[Slip], *, tol: float = 0.0, rel: float = 0.0) -> None:
    """Raise ``Wrong(message, hint=hint)`` for the first ``(slip, message, hint)`` in ``slips`` that ``value`` matches.

    Numbers match when ``close(value, slip, tol=tol, rel=rel)`` (exactly, by default); other values (strings,
    tuples, lists) when they are equal. Compare arrays with ``np.allclose`` instead. Returns when none matches.
    """
    for slip, message, hint in slips:
        if isinstance(value, np.ndarray) or isinstance(slip, np.ndarray):
            raise TypeError("reject_slips compares numbers and plain values, not arrays")
        if isinstance(value, numbers.Real) and isinstance(slip, numbers.Real):
            matched = close(value, slip, tol=tol, rel=rel)
        else:
            matched = value == slip
        if matched:
            raise Wrong(message, hint=hint)


# --------------------------------------------------------------------------------------------- author helpers


def expect_number(answer: Any, expected: float, *, tol: float = 1e-6, rel: float | None = None,
                  name: str = "answer") -> float:
    """Check that ``answer`` is one finite number within ``tol`` (or ``rel`` × |expected|) of ``expected``.

    Accepts Python/NumPy numbers, 0-d or one-element arrays and tensors. Returns the answer as a float.
    """
    if answer is None:
        raise _not_answered(name)
    if isinstance(answer, (bool, np.bool_)):
        raise Wrong(f"{name} is a bool ({answer}); expected a number.",
                    hint="Pass the number itself, not a comparison.")
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
    allowed = _allowed(expected, tol, 0.0 if rel is None else rel)
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
            same_sizes = [s for s in array.shape if s != 1] == [w for w in want_shape if w != 1]
            if array.ndim != len(want_shape) and same_sizes:
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
            hint=f"Convert it, e.g. np.asarray({name}, dtype={example}) or tf.cast({name}, "
                 f"tf.{example.split('.')[-1]}).",
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
                    f"{int(bad.sum())} of {diff.size} value(s) of {name} are off by more than the tolerance "
                    f"{tolerance}; the largest difference is {_fmt(float(diff[index] if index else diff))}{where}."
                )
        elif not np.array_equal(array, want):
            raise Wrong(f"{name} does not have the expected values.")
    return array


NUMPY_ONLY = ("tensorflow", "keras", "tf_keras", "tensorboard", "torch", "jax", "scipy", "skimage", "sklearn")
"""Libraries an exercise that says "NumPy only" refuses (``call_student(..., forbid=NUMPY_ONLY)``)."""


class _Watch:
    """A profile function that notes the first call into a forbidden library while a student's function runs.

    It sees Python calls (the module of the called code) and C calls (the module of the C function), so an alias
    (``from tensorflow import nn as numpy``) or a helper function does not hide the library.
    """

    def __init__(self, forbid: tuple[str, ...]):
        self.forbid = frozenset(forbid)
        self.used: str | None = None

    def _forbidden(self, module: str) -> bool:
        return module.split(".", 1)[0] in self.forbid

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if self.used is None and event in ("call", "c_call"):
            try:
                self._note(frame, event, arg)
            except Exception:  # noqa: BLE001  (a profile function that raises would stop profiling)
                pass

    def _note(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            module = frame.f_globals.get("__name__") or ""
            caller = frame.f_back
        elif event == "c_call":
            module = getattr(arg, "__module__", None) or type(getattr(arg, "__self__", None)).__module__ or ""
            caller = frame
        if not isinstance(module, str) or not self._forbidden(module):
            return
        while caller is not None and self._forbidden(caller.f_globals.get("__name__") or ""):
            caller = caller.f_back
        where = f" (line {caller.f_lineno}, in {caller.f_code.co_name})" if caller is not None else ""
        self.used = f"{module.split('.', 1)[0]}{where}"


def _watched(fn: Any, watch: _Watch | None) -> Any:
    if watch is None:
        return fn

    def run(*args: Any, **kwargs: Any) -> Any:
        previous = sys.getprofile()
        sys.setprofile(watch)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setprofile(previous)

    return run


def call_student(fn: Any, *args: Any, timeout: float | None = 5.0, name: str = "your function",
                 forbid: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """Call a student's function and return its result; a raise or a call over ``timeout`` s becomes ``Wrong``.

    The call runs in a daemon thread; on timeout we stop waiting (Python cannot stop the thread itself).
    ``forbid`` names top-level packages the function must not use (e.g. ``NUMPY_ONLY``): a call into one of
    them during the call is ``Wrong``, even when the result is right.
    """
    if fn is None:
        raise _not_answered(name)
    if not callable(fn):
        raise Wrong(
            f"{name} should be a function, but it is {describe(fn)}.",
            hint="Pass the function itself, without calling it: check(..., my_fn) rather than check(..., my_fn()).",
        )
    watch = _Watch(tuple(forbid)) if forbid else None
    call = _watched(fn, watch)
    if timeout is None:
        try:
            value = call(*args, **kwargs)
        except Exception as exc:
            raise _raised(exc, name) from None
        _refuse_forbidden(watch, name)
        return value
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001  (SystemExit in student code is still just a failure)
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"course-check:{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Wrong(
            f"{name} took longer than {timeout:g} s, so the check stopped waiting for it.",
            hint="Look for an infinite loop (a while loop whose condition never becomes False) or work far larger "
            "than the exercise needs. It may still be running in the background: restart the kernel if things "
            "get slow.",
        )
    _refuse_forbidden(watch, name)
    if "error" in box:
        raise _raised(box["error"], name) from None
    return box.get("value")


def _refuse_forbidden(watch: _Watch | None, name: str) -> None:
    if watch is not None and watch.used is not None:
        library = watch.used.split(" ", 1)[0]
        raise Wrong(
            f"{name} uses {watch.used}; this exercise asks for NumPy only.",
            hint=f"Write it with NumPy operations (reshape, max, sum, ...) instead of {library}: the point is to see "
            "what the library does for you.",
        )


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
