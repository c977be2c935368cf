"""Helper library for the TensorFlow course: datasets, plotting, graded checks and GPU helpers."""

__version__ = "0.1.0"
