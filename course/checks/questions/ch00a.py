"""Chapter 00a (the Python, NumPy and matplotlib primer): slicing, a function returning (min, max, mean), a ranked
report (sorted with a key, enumerate, format specs), a broadcast shape, an axis sum, a vectorised ReLU, a reshape
and a layer's X @ W + b."""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np

from course.checks.authoring import NUMPY_ONLY, Wrong, call_student, expect_array, expect_number, hidden_case, to_array
from course.checks.catalog import question
from course.checks.describe import describe, short

# The data of the exercises, as the notebook's exercise cells define it.
WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SALES = np.array([[3, 0, 2],   # one row per day (4 days), one column per shop (3 shops)
                  [1, 4, 1],
                  [2, 2, 5],
                  [0, 1, 3]])
IMAGES = np.arange(5 * 4 * 4).reshape(5, 4, 4)  # five tiny 4×4 "images"
X = np.array([[1, 0, 2], [0, 1, 1], [2, 1, 0], [1, 1, 1], [0, 0, 1]])  # 5 examples, 3 features
W = np.array([[1, -1], [0, 2], [3, 1]])  # 3 inputs -> 2 outputs
B = np.array([10, 20])
MODELS = {"VGG-16": 0.934, "LeNet-5": 0.912, "ResNet": 0.941, "AlexNet": 0.925}  # test accuracy per model


def _quotes(answer: Any, what: str) -> None:
    if isinstance(answer, (str, bytes)):
        raise Wrong(f"The answer is {describe(answer)}: the code as text, not its value.",
                    hint=f"Remove the quotes so that Python computes {what}.")


# --------------------------------------------------------------------------------------------- 1. slicing


@question(
    "00a.slicing",
    title="The last three days of the week, in reverse order",
    hint="Negative indices count from the end (week[-1] is 'sun'); a step of -1 walks backwards: week[:-4:-1] "
         "or week[-3:][::-1].",
)
def slicing(answer: Any) -> str:
    if isinstance(answer, str) and "[" not in answer:
        raise Wrong(f"The answer is one string, {short(answer)}; expected a list of day names.",
                    hint="A slice of the list week is a list: week[:-4:-1] (no join, no quotes).")
    _quotes(answer, "the slice")
    if type(answer).__name__ in {"list_reverseiterator", "reversed"}:
        raise Wrong("reversed(...) gives an iterator that hands out the days one at a time, not a list.",
                    hint="Slice instead: a step of -1 reverses, week[-3:][::-1] (or list(reversed(week[-3:]))).")
    if isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)):
        raise Wrong(f"The answer is {describe(answer)}; expected a list of day names such as ['mon', 'tue'].",
                    hint="A slice of a list is a list: week[start:stop:step].")
    days = list(answer)
    if days == ["sun", "sat", "fri"]:
        return "Right: week[:-4:-1] starts at the last day and walks back three steps (stop -4 is not included)."
    if not all(isinstance(d, str) for d in days):
        raise Wrong(f"The answer {days!r} holds something other than day names.",
                    hint="Slice the list week itself: week[...].")
    unknown = [d for d in days if d not in WEEK]
    if unknown:
        raise Wrong(f"{unknown[0]!r} is not one of the days in week.", hint="Slice the list week itself: week[...].")
    if days == ["fri", "sat", "sun"]:
        raise Wrong("The right three days, but in the original order.",
                    hint="Reverse them with a step of -1: week[-3:][::-1], or in one slice week[:-4:-1].")
    if days == WEEK[::-1]:
        raise Wrong("That is the whole week reversed.", hint="Stop after three days: week[::-1][:3] or week[:-4:-1].")
    if days == ["sun", "sat", "fri", "thu"]:
        raise Wrong("One day too many.", hint="The stop of a slice is not included: week[:-4:-1] ends before 'thu'.")
    if days in (["sun", "sat"], ["sun"]):
        raise Wrong(f"Only {len(days)} day(s).", hint="Count again: the stop is left out, so go one further: "
                                                       "week[:-4:-1].")
    if days == WEEK[-3::-1]:
        raise Wrong("That starts at 'fri' and walks back to the start of the week.",
                    hint="With a step of -1 the start is where you begin: begin at the end, week[:-4:-1] (or "
                         "week[-1:-4:-1]).")
    if days in (["sat", "fri", "thu"], ["sat", "fri"]):
        raise Wrong("It starts one day too early: 'sun' is missing.",
                    hint="week[-1] is the last day; with a step of -1, leave the start out: week[:-4:-1].")
    raise Wrong(f"{days!r} is not the last three days in reverse order.",
                hint="Print week[-3:] first, then reverse it.")


# --------------------------------------------------------------------------------------------- 2. stats


def _stats_case(answer: Any, values: list[float], what: str | None = None) -> None:
    """Call the student's stats(values) on a copy of ``values`` and compare with (min, max, mean)."""
    name = what or f"stats({values})"
    given = list(values)
    result = call_student(answer, given, name="stats")
    if given != values:
        raise Wrong(f"{name} changed the list it was given (it is now {short(given)}).",
                    hint="Do not sort or change the caller's list: min(values), max(values) and sum(values) only "
                         "read it (sorted(values) makes a new list).")
    if result is None:
        raise Wrong(f"{name} returned None.", hint="End the function with return smallest, largest, mean.")
    if isinstance(result, np.ndarray) and result.ndim == 1:
        result = result.tolist()
    if not isinstance(result, (tuple, list)):
        raise Wrong(f"{name} returned {describe(result)}; expected three values (min, max, mean).",
                    hint="Return all three, separated by commas: return smallest, largest, mean.")
    if len(result) != 3:
        raise Wrong(f"{name} returned {len(result)} value(s); expected three: (min, max, mean).",
                    hint="Return all three, separated by commas: return smallest, largest, mean.")
    got = [expect_number(v, 0.0, tol=math.inf, name=f"value {i + 1} of {name}") for i, v in enumerate(result)]
    low, high, mean = min(values), max(values), sum(values) / len(values)
    if got[:2] == [high, low] and low != high:
        raise Wrong(f"{name} returned the minimum and the maximum swapped.",
                    hint="Return (min, max, mean) in this order.")
    for got_value, right, word in ((got[0], low, "smallest"), (got[1], high, "largest")):
        if got_value == 0 and right != 0 and 0 not in values:
            raise Wrong(f"The {word} value of {name} is 0, which is not in the list.",
                        hint=f"A loop that starts from 0 misses lists without 0: start from the first value, or use "
                             f"{'min' if word == 'smallest' else 'max'}(values).")
    expect_number(got[0], low, tol=1e-9, name=f"the minimum of {name}")
    expect_number(got[1], high, tol=1e-9, name=f"the maximum of {name}")
    if not math.isclose(got[2], mean, rel_tol=1e-9, abs_tol=1e-9):
        if got[2] == sum(values) // len(values):
            raise Wrong(f"The mean of {name} is {got[2]:g}, rounded down: // is whole-number division.",
                        hint=f"Divide with /: {sum(values)} / {len(values)} = {mean:g}.")
        if len(values) > 1 and math.isclose(got[2], sum(values) / (len(values) - 1)):
            raise Wrong(f"The mean of {name} divides by one less than the number of values.",
                        hint="Divide the sum by len(values).")
        middle = sorted(values)[len(values) // 2]
        if len(values) % 2 and got[2] == middle and middle != mean:
            raise Wrong(f"The third value of {name} is the median (the middle value), not the mean.",
                        hint="The mean is sum(values) / len(values).")
        expect_number(got[2], mean, tol=1e-9, name=f"the mean of {name}")


_HIDDEN_STATS = [
    hidden_case(_stats_case, [-5, -2, -9], "stats of numbers that are all negative"),
    hidden_case(_stats_case, [7], "stats of a list with one number"),
    hidden_case(_stats_case, [float(v) for v in np.random.default_rng(5).integers(-1000, 1000, 1000)],
                "stats of 1,000 numbers"),
]


@question(
    "00a.stats",
    title="A function stats(values) returning (min, max, mean) of a list",
    hint="return min(values), max(values), sum(values) / len(values)",
    hidden=_HIDDEN_STATS,
)
def stats(answer: Any) -> str:
    for values in ([3, 1, 4, 1, 5], [2.5, -1.0, 10.0, 4.5]):
        _stats_case(answer, values)
    return "Right: `return a, b, c` returns a tuple, and `low, high, mean = stats(...)` unpacks it."


# --------------------------------------------------------------------------------------------- 3. a ranked report


def _report_lines(results: dict[str, float], start: int = 1, order: list[str] | None = None,
                  line: str = "{rank}. {name:<8} {accuracy:.1%}") -> list[str]:
    """The report's lines: best model first (or in ``order``), ranks from ``start``, each line formatted by ``line``."""
    ranked = order if order is not None else _expected_order(results)
    return [line.format(rank=rank, name=name, accuracy=results[name]) for rank, name in enumerate(ranked, start=start)]


class _Percent(float):
    """An accuracy that formats as ``f"{accuracy * 100}%"`` does: the slip of computing the percentage by hand."""

    def __format__(self, spec: str) -> str:
        return f"{float(self) * 100}%"


def _expected_order(results: dict[str, float]) -> list[str]:
    return sorted(results, key=lambda name: results[name], reverse=True)


# Lines a student writes instead of "{rank}. {name:<8} {accuracy:.1%}", and what to say about each.
_LINE_SLIPS = [
    ("{rank}. {name} {accuracy:.1%}", "The names are not padded to 8 characters, so the accuracies do not line up.",
     "A width after the colon pads the text: {name:<8}."),
    ("{rank}. {name:>8} {accuracy:.1%}", "The names are padded on the left (right-aligned).",
     "< puts the text on the left of its 8 characters: {name:<8}."),
    ("{rank}. {name:<8} {accuracy}", "The accuracy is printed as it is stored, not as a percentage.",
     "The spec .1% multiplies by 100 and keeps one decimal: {accuracy:.1%}."),
    ("{rank}. {name:<8} {accuracy:.1f}", "The accuracy has one decimal but is not a percentage.",
     "Use % instead of f: {accuracy:.1%} multiplies by 100 and adds the % sign."),
    ("{rank}. {name:<8} {accuracy:%}", "The percentage has six decimals.", "Keep one: {accuracy:.1%}."),
    ("{rank}. {name:<8} {accuracy:.0%}", "The percentage has no decimal.", "Keep one: {accuracy:.1%}."),
    ("{rank}. {name:<8} {accuracy:.2%}", "The percentage has two decimals.", "Keep one: {accuracy:.1%}."),
    ("{rank} {name:<8} {accuracy:.1%}", "The rank has no dot after it.", "Write the dot: {rank}. {name:<8} ..."),
]


def _report_case(answer: Any, results: dict[str, float], what: str | None = None) -> None:
    """Call the student's report(results) on a copy of ``results`` and compare its lines with the ranked report."""
    name = what or f"report({results})"
    given = dict(results)
    lines = call_student(answer, given, name="report")
    if given != results or list(given) != list(results):
        raise Wrong(f"{name} changed the dictionary it was given.",
                    hint="sorted(results, key=...) makes a new list and leaves the dictionary as it is.")
    if lines is None:
        raise Wrong(f"{name} returned None.",
                    hint="Collect the lines in a list and end with return lines (printing them is not returning them).")
    if isinstance(lines, str):
        raise Wrong(f"{name} returned one string; expected a list with one line per model.",
                    hint="Make a list: lines = [], then lines.append(f\"...\") for each model, and return lines.")
    if not isinstance(lines, (list, tuple)):
        raise Wrong(f"{name} returned {describe(lines)}; expected a list of lines (strings).",
                    hint="return lines, where lines is a list of f-strings.")
    lines = list(lines)
    expected = _report_lines(results)
    if lines == expected:
        return
    if not all(isinstance(line, str) for line in lines):
        odd = next(line for line in lines if not isinstance(line, str))
        raise Wrong(f"{name} returned a list that holds {describe(odd)}; every line should be a string.",
                    hint="Build each line with an f-string: f\"{rank}. ...\".")
    if len(lines) != len(expected):
        raise Wrong(f"{name} returned {len(lines)} line(s) for {len(results)} model(s); expected one line per model.",
                    hint="Loop over every model of the dictionary you are given, not over a fixed number.")
    if [line.rstrip("\n") for line in lines] == expected:
        raise Wrong(f"The lines of {name} end with a newline character.",
                    hint="Leave out the \\n: a list keeps the lines apart by itself.")
    by_accuracy = sorted(results, key=lambda n: results[n])
    orders = [
        (by_accuracy, "worst model first", "sorted(...) sorts from small to large; add reverse=True."),
        (sorted(results), "sorted by name", "Sort the names by their accuracy: sorted(results, key=lambda name: "
                                             "results[name], reverse=True)."),
        (sorted(results, reverse=True), "sorted by name, backwards", "Sort by accuracy: key=lambda name: "
                                                                     "results[name]."),
        (list(results), "in the dictionary's own order, not ranked", "Sort them first: sorted(results, key=lambda "
                                                                     "name: results[name], reverse=True)."),
    ]
    for order, problem, hint in orders:
        if order != by_accuracy[::-1] and lines == _report_lines(results, order=order):
            raise Wrong(f"The models of {name} are {problem}.", hint=hint)
    if lines == _report_lines(results, start=0):
        raise Wrong(f"The ranks of {name} start at 0.", hint="enumerate(..., start=1) counts from 1.")
    for line, message, hint in _LINE_SLIPS:
        if lines == _report_lines(results, line=line):
            raise Wrong(f"{message} ({name}, line 1: {lines[0]!r}; expected {expected[0]!r})", hint=hint)
    percent = {n: _Percent(a) for n, a in results.items()}  # accuracy * 100 as Python prints it, then a % sign
    if lines == _report_lines(percent, order=_expected_order(results)):
        index = next(i for i, (got, want) in enumerate(zip(lines, expected)) if got != want)
        raise Wrong(f"The accuracy is multiplied by 100 but not rounded: line {index + 1} of {name} is "
                    f"{lines[index]!r}; expected {expected[index]!r}.",
                    hint="Let the format spec do both: {accuracy:.1%} multiplies by 100 and keeps one decimal.")
    index = next(i for i, (got, want) in enumerate(zip(lines, expected)) if got != want)
    raise Wrong(f"Line {index + 1} of {name} is {lines[index]!r}; expected {expected[index]!r}.",
                hint="Each line is the rank, a dot, the name padded to 8 characters and the accuracy as a "
                     "percentage with one decimal: {rank}. {name:<8} {accuracy:.1%}.")


_HIDDEN_REPORT = [
    hidden_case(_report_case, {"only": 0.5}, "the report of a single model"),
    hidden_case(_report_case, {f"net-{i}": float(a) for i, a in enumerate(
        np.random.default_rng(3).permutation(np.arange(800, 911, 10)) / 1000, start=1)}, "the report of 12 models"),
    hidden_case(_report_case, {"tiny": 0.07, "GoogLeNet-v1": 0.9996, "ResNet-152": 0.883},
                "a report with accuracies of 0.07 and 0.9996 and names longer than 8 characters"),
]


@question(
    "00a.report",
    title="report(results): the models ranked best first, one formatted line each",
    hint="ranked = sorted(results, key=lambda name: results[name], reverse=True); then for rank, name in "
         "enumerate(ranked, start=1): lines.append(f\"{rank}. {name:<8} {results[name]:.1%}\").",
    hidden=_HIDDEN_REPORT,
)
def report(answer: Any) -> str:
    _report_case(answer, MODELS)
    _report_case(answer, {"MLP": 0.872, "CNN": 0.918, "RNN": 0.861})
    return ("Right: sorted(..., key=..., reverse=True) ranks the models, enumerate(..., start=1) numbers them, and "
            "{name:<8} and {accuracy:.1%} line the columns up.")


# --------------------------------------------------------------------------------------------- 4. broadcasting


def _as_shape(answer: Any, name: str) -> tuple[int, ...]:
    if isinstance(answer, str):
        if any(word in answer.lower() for word in ("error", "fail", "broadcast", "cannot", "can't")):
            raise Wrong("It does broadcast: no error here.",
                        hint="Line the shapes up from the right: (4, 1, 3) and (5, 1); in each position the sizes are "
                             "equal or one of them is 1.")
        raise Wrong(f"The answer is {describe(answer)}; expected a shape such as (2, 3).",
                    hint="Write the shape as a tuple of whole numbers, without quotes.")
    if isinstance(answer, np.ndarray) and answer.ndim > 1:
        raise Wrong(f"You passed an array of shape {answer.shape}, not a shape.",
                    hint="Pass a tuple of whole numbers such as (2, 3) (an array's .shape is one).")
    if isinstance(answer, numbers.Integral) and not isinstance(answer, bool):
        raise Wrong(f"The answer is one number ({answer}); a shape has one size per axis.",
                    hint="Write it as a tuple, e.g. (2, 3).")
    array = to_array(answer, name)
    if array.ndim == 1 and array.dtype.kind == "f" and array.size:
        raise Wrong(f"The answer ({describe(answer)}) holds fractions; the sizes of a shape are whole numbers.",
                    hint="Write them without a decimal point: (4, 5, 3), not (4.0, 5.0, 3.0).")
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise Wrong(f"The answer is {describe(answer)}; expected a shape: a tuple of whole numbers such as (2, 3).")
    return tuple(int(v) for v in array)


@question(
    "00a.broadcast_shape",
    title="The shape of np.zeros((4, 1, 3)) + np.zeros((5, 1))",
    hint="Line the shapes up from the right, fill missing axes with 1, and take the larger size in each position.",
)
def broadcast_shape(answer: Any) -> str:
    shape = _as_shape(answer, "the shape")
    if shape == (4, 5, 3):
        return "Right: (4, 1, 3) and (·, 5, 1) -> (4, 5, 3). Each size-1 axis is stretched to match the other array."
    if shape == (4, 1, 3):
        raise Wrong("(4, 1, 3) is the first array's shape: the result is bigger.",
                    hint="A size-1 axis stretches: the 1 of (4, 1, 3) meets the 5 of (5, 1), and the 1 of (5, 1) "
                         "meets the 3.")
    if shape in ((5, 4, 3), (4, 3, 5), (5, 1, 3), (4, 5, 1)):
        raise Wrong(f"{shape} has the sizes in the wrong places.",
                    hint="Compare from the right: (5, 1) lines up with the last two axes of (4, 1, 3), not the first.")
    if len(shape) != 3:
        raise Wrong(f"{shape} has {len(shape)} axes; the result has as many as the larger array (3).",
                    hint="Missing axes on the left count as 1: (5, 1) acts like (1, 5, 1).")
    raise Wrong(f"{shape} is not the broadcast shape.",
                hint="Try it: print((np.zeros((4, 1, 3)) + np.zeros((5, 1))).shape), then work out why.")


# --------------------------------------------------------------------------------------------- 5. axis sum


@question(
    "00a.axis_sum",
    title="Total sales per shop (the columns) over the four days",
    hint="The shops are the columns: sum down the rows with sales.sum(axis=0).",
)
def axis_sum(answer: Any) -> str:
    if isinstance(answer, np.ndarray) and answer.shape == (1, 3):
        answer = answer[0]  # keepdims=True: the same totals
    array = to_array(answer, "per_shop")
    per_shop, per_day = SALES.sum(axis=0), SALES.sum(axis=1)
    if array.shape == ():
        if float(array) == SALES.sum():
            raise Wrong(f"{float(array):g} is the total of the whole table, one number.",
                        hint="Ask for one total per shop: sales.sum(axis=0).")
        raise Wrong(f"The answer is one number ({float(array):g}); expected one total per shop (3 numbers).")
    if array.shape == per_day.shape and np.array_equal(array, per_day):
        raise Wrong("Those are the totals per day (one per row): axis=1 adds across each row.",
                    hint="The shops are the columns: axis=0 adds down the rows and leaves one number per column.")
    if array.shape == per_shop.shape and np.allclose(array, SALES.mean(axis=0)):
        raise Wrong("Those are the averages per shop.", hint="Use .sum(axis=0), not .mean(axis=0).")
    expect_array(array, per_shop, name="per_shop")
    return "Right: axis=0 is the axis that disappears: (4 days, 3 shops) -> 3 totals."


# --------------------------------------------------------------------------------------------- 6. relu


_TRUTH = "truth value of an array"


def _relu_case(answer: Any, x: np.ndarray, what: str | None = None) -> None:
    name = what or f"relu(np.array({x.tolist()}))"
    given = x.copy()
    try:
        result = call_student(answer, given, name="relu", forbid=NUMPY_ONLY)
    except Wrong as wrong:
        if _TRUTH in wrong.message:
            raise Wrong(f"{name}: {wrong.message}",
                        hint="Python's max(0, v) and `if v > 0` look at one number at a time; for a whole array use "
                             "np.maximum(x, 0), which compares element by element.") from None
        raise
    if not np.array_equal(given, x):
        raise Wrong(f"{name} changed the array it was given.",
                    hint="x[x < 0] = 0 writes into the caller's array: return a new one, e.g. np.maximum(x, 0), or "
                         "start with x = x.copy().")
    if result is None:
        raise Wrong(f"{name} returned None.", hint="End the function with return ... .")
    expected = np.maximum(x, 0)
    array = to_array(result, name)
    if array.shape == () and x.size > 1 and float(array) == float(x.max()):
        raise Wrong(f"{name} returned one number, the largest value.",
                    hint="np.max (and x.max()) reduces the array to its maximum; np.maximum(x, 0) compares each "
                         "element with 0.")
    expect_array(array, expected, shape=x.shape, tol=1e-6, name=name)


class _ElementLoop:
    """Watches one call of a student's function for a Python-level loop over the elements of its array.

    Two signs, both deterministic (no timing, so a busy machine cannot change the verdict): the Python lines the
    call runs (``sys.settrace`` counts each line event, and a loop or a comprehension runs its line once per
    element), and helpers whose loop runs in C, out of the tracer's sight (np.vectorize, np.frompyfunc, and map
    named in the student's own code). It chains any profile function already set
    (call_student's NumPy-only watch).
    """

    HELPERS = {"frompyfunc": "np.frompyfunc"}  # C functions that call a Python function once per element
    LOOPING_NAMES = {"map": "map", "starmap": "itertools.starmap"}  # types: calling one makes no profile event

    def __init__(self) -> None:
        self.lines = 0
        self.helper: str | None = None

    def _line(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines += 1
        return self._line

    def _call(self, frame: Any, event: str, arg: Any) -> Any:
        return self._line

    def _note(self, frame: Any, event: str, arg: Any) -> None:
        if self.helper is not None:
            return
        if event == "c_call":
            self.helper = self.HELPERS.get(getattr(arg, "__name__", ""))
        elif event == "call":
            module = frame.f_globals.get("__name__") or ""
            qualname = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
            if module.split(".", 1)[0] == "numpy":
                if qualname.startswith("vectorize.") or frame.f_code.co_name == "_vectorize_call":
                    self.helper = "np.vectorize"
            else:  # the student's own code: does it name map (whose loop runs in C, out of the tracer's sight)?
                self.helper = next((self.LOOPING_NAMES[n] for n in frame.f_code.co_names if n in self.LOOPING_NAMES),
                                   None)

    def wrap(self, fn: Any) -> Any:
        def run(x: np.ndarray) -> Any:
            previous_trace, previous_profile = sys.gettrace(), sys.getprofile()

            def profile(frame: Any, event: str, arg: Any) -> None:
                if previous_profile is not None:
                    previous_profile(frame, event, arg)
                try:
                    self._note(frame, event, arg)
                except Exception:  # noqa: BLE001  (a profile function that raises would stop profiling)
                    pass

            sys.setprofile(profile)
            sys.settrace(self._call)
            try:
                return fn(x)
            finally:
                sys.settrace(previous_trace)
                sys.setprofile(previous_profile)

        return run


_LOOP_SIZES = (16, 4096)  # a vectorised relu runs as many Python lines on both; a loop, one or more per element


def _no_element_loop(answer: Any) -> None:
    """Wrong when relu, called on 16 and on 4,096 random numbers, loops over the elements in Python (a for loop,
    a comprehension, np.vectorize, map ...); a call that raises is left to the correctness cases."""
    rng = np.random.default_rng(11)
    watches = []
    for size in _LOOP_SIZES:
        watch = _ElementLoop()
        try:
            call_student(watch.wrap(answer), rng.normal(size=size), name="relu", forbid=NUMPY_ONLY)
        except Wrong:
            return  # it raised, or used TensorFlow: the cases that follow say so, with their hints
        watches.append(watch)
    helper = next((w.helper for w in watches if w.helper), None)
    if helper == "np.vectorize":
        raise Wrong("relu uses np.vectorize, which calls a Python function once per element: a loop in disguise "
                    "(NumPy's documentation says it is 'essentially a for loop').",
                    hint="Let one NumPy operation handle the whole array: np.maximum(x, 0).")
    if helper is not None:
        raise Wrong(f"relu uses {helper}, which handles the elements one at a time in Python: a loop over the "
                    "elements.", hint="Let one NumPy operation handle the whole array: np.maximum(x, 0).")
    small, large = (w.lines for w in watches)
    if large - small >= _LOOP_SIZES[1] // 4:
        raise Wrong(f"relu loops over the elements in Python: on {_LOOP_SIZES[1]:,} numbers it ran {large:,} lines of "
                    f"Python, on {_LOOP_SIZES[0]} numbers {small:,}. The exercise asks for no loop.",
                    hint="A comparison and np.maximum work on every element at once: np.maximum(x, 0), x * (x > 0) "
                         "or np.where(x > 0, x, 0).")


_RNG = np.random.default_rng(7)
_HIDDEN_RELU = [
    hidden_case(_relu_case, _RNG.normal(size=(3, 4)).round(3), "relu of a 2-D array of shape (3, 4)"),
    hidden_case(_relu_case, _RNG.normal(size=(2, 3, 4)).astype(np.float32), "relu of a 3-D array of shape (2, 3, 4)"),
    hidden_case(_relu_case, -np.abs(_RNG.normal(size=50)) - 0.1, "relu of 50 negative numbers"),
]


@question(
    "00a.relu",
    title="A vectorised relu(x): max(x, 0) for every element of an array of any shape (NumPy only, no loop)",
    hint="np.maximum(x, 0) compares every element with 0 and keeps the shape; no loop needed.",
    hidden=_HIDDEN_RELU,
)
def relu(answer: Any) -> str:
    _no_element_loop(answer)
    _relu_case(answer, np.array([-2.0, -0.5, 0.0, 1.5, 3.0]))
    _relu_case(answer, np.array([-1, 2, -3, 4]))
    _relu_case(answer, np.random.default_rng(8).normal(size=10_000).astype(np.float32), "relu of 10,000 numbers")
    return "Right: one vectorised call does the whole array, whatever its shape. Chapter 05 uses ReLU in every layer."


# --------------------------------------------------------------------------------------------- 7. reshape


@question(
    "00a.reshape",
    title="Five 4×4 images as five rows of 16 pixels: shape (5, 16)",
    hint="images.reshape(5, 16), or images.reshape(len(images), -1): -1 lets NumPy work out the 16.",
)
def reshape(answer: Any) -> str:
    array = to_array(answer, "rows")
    if array.shape == (80,):
        raise Wrong("That is one long row of all 80 pixels.",
                    hint="Keep the first axis (one row per image): images.reshape(5, -1).")
    if array.shape == (16, 5):
        raise Wrong("Shape (16, 5): one row per pixel position instead of one per image.",
                    hint="The images come first: images.reshape(5, 16).")
    if array.shape == IMAGES.shape:
        raise Wrong("The array still has shape (5, 4, 4).", hint="Reshape it: images.reshape(5, 16).")
    rows = expect_array(array, shape=(5, 16), name="rows")
    if not np.array_equal(rows, IMAGES.reshape(5, 16)):
        if np.array_equal(rows, IMAGES.reshape(16, 5).T) or np.array_equal(rows, IMAGES.T.reshape(5, 16)):
            raise Wrong("The shape is right but the pixels are mixed up between the images (a transpose).",
                        hint="reshape alone keeps every image's 16 pixels together: images.reshape(5, 16).")
        raise Wrong("The shape is right but the values are not the images' pixels in order.",
                    hint="Reshape the notebook's images as they are: images.reshape(5, 16).")
    return "Right: row i holds image i's 16 pixels, row after row (the same as MNIST's 28×28 -> 784)."


# --------------------------------------------------------------------------------------------- 8. a layer


@question(
    "00a.layer",
    title="A layer's output X @ W + b for 5 examples: shape (5, 2)",
    hint="X @ W is the matrix product, shape (5, 3) @ (3, 2) -> (5, 2); + b adds the bias to every row.",
)
def layer(answer: Any) -> str:
    array = to_array(answer, "output")
    expected = X @ W + B
    if array.shape == (2, 5):
        raise Wrong("The output has shape (2, 5): one column per example.",
                    hint="X @ W puts the examples in the rows: (5, 3) @ (3, 2) -> (5, 2).")
    output = expect_array(array, shape=(5, 2), name="output")
    if np.array_equal(output, X @ W):
        raise Wrong("That is X @ W without the bias.", hint="Add b: X @ W + b (b is broadcast to every row).")
    if np.array_equal(output, X @ W * B):
        raise Wrong("The bias is multiplied in.", hint="The bias is added: X @ W + b.")
    expect_array(output, expected, tol=1e-6, name="output")
    return "Right: each row is one example's two outputs; b, of shape (2,), is broadcast over the 5 rows."
