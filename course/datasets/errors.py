"""Errors the dataset loaders raise: each message says what went wrong and what to do."""


class CourseDataError(Exception):
    """Base class for dataset problems a student or instructor can fix."""


class DatasetNotFoundError(CourseDataError):
    """The dataset is in none of the searched places and could not be downloaded."""


class ChecksumError(CourseDataError):
    """A dataset file is truncated, corrupted or not the file it claims to be."""


class DatasetFormatError(CourseDataError):
    """A file given to the importer is not in a format the course reads."""
