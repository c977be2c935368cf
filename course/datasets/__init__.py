"""Datasets for the course: MNIST and Fashion-MNIST (cached, checksummed, offline-friendly) and small
generated sets for the early chapters.

``load_dataset`` (in `loaders`) takes a dataset's name through the steps in order, one module each:

1. `specs`: what the files are: names, file names, published checksums, and the errors;
2. `locations`: where to look: the search order, and which copy of the files a folder holds;
3. `transfer`: fetch a missing dataset, or import one from elsewhere (the only module that writes files);
4. `read`: read a copy's files and verify their checksums;
5. `splits`: train/validation/test splits with ``next_batch`` and ``to_tf_dataset``.

`generated` holds the small generated sets. The public names below are imported on first use, so that
`specs` and `locations` import without numpy: the hub's ``course`` command needs only the dataset names.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it.
_DEFINED_IN = {
    "ChecksumError": "specs", "CourseDataError": "specs", "DatasetFormatError": "specs",
    "DatasetNotFoundError": "specs",
    "DataSet": "splits", "Datasets": "splits", "one_hot": "splits",
    "fetch": "transfer", "import_data": "transfer",
    "DataHomeWarning": "locations",
    "load_dataset": "loaders", "load_fashion_mnist": "loaders", "load_mnist": "loaders", "survey": "loaders",
    "hello": "generated", "noisy_sine": "generated", "pos_corpus": "generated", "regression_points": "generated",
    "takeoff": "generated",
}

__all__ = [
    "ChecksumError", "CourseDataError", "DataHomeWarning", "DatasetFormatError", "DatasetNotFoundError", "DataSet",
    "Datasets", "fetch", "hello", "import_data", "load_dataset", "load_fashion_mnist", "load_mnist", "noisy_sine",
    "one_hot", "pos_corpus", "regression_points", "survey", "takeoff",
]


def __getattr__(name: str) -> Any:
    if name not in _DEFINED_IN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_DEFINED_IN[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .generated import hello, noisy_sine, pos_corpus, regression_points, takeoff
    from .loaders import load_dataset, load_fashion_mnist, load_mnist, survey
    from .locations import DataHomeWarning
    from .specs import ChecksumError, CourseDataError, DatasetFormatError, DatasetNotFoundError
    from .splits import DataSet, Datasets, one_hot
    from .transfer import fetch, import_data
