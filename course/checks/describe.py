"""Describing a student's value in words: ``short`` (a safe, short repr) and ``describe`` ("a list of length 3")."""

from __future__ import annotations

import numbers
import reprlib
from typing import Any

import numpy as np

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
    """True for a tensor (or similar) of TensorFlow, Keras, PyTorch or JAX, judged by its type's module."""
    module = type(value).__module__ or ""
    return module.startswith(("tensorflow", "keras", "tf_keras", "torch", "jax"))
