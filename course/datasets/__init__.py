"""Datasets for the course: MNIST and Fashion-MNIST (cached, checksummed, offline-friendly) and small
generated sets for the early chapters."""

from .generated import hello, noisy_sine, pos_corpus, regression_points, takeoff
from .loaders import load_dataset, load_fashion_mnist, load_mnist, survey
from .specs import ChecksumError, CourseDataError, DatasetFormatError, DatasetNotFoundError
from .splits import DataSet, Datasets, one_hot
from .transfer import fetch, import_data

__all__ = [
    "ChecksumError", "CourseDataError", "DatasetFormatError", "DatasetNotFoundError", "DataSet", "Datasets",
    "fetch", "hello", "import_data", "load_dataset", "load_fashion_mnist", "load_mnist", "noisy_sine", "one_hot",
    "pos_corpus", "regression_points", "survey", "takeoff",
]
