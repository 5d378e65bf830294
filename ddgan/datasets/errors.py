"""Errors raised for expected dataset problems; each message says what is wrong and how to fix it."""


class DatasetError(RuntimeError):
    """Base class: the CLI prints these as one clear message, without a traceback."""


class UnknownDatasetError(DatasetError, ValueError):
    """A dataset name that is not in the registry."""


class MissingCredentialsError(DatasetError):
    """Kaggle credentials are absent or were rejected."""


class DownloadError(DatasetError):
    """A download could not be started or did not complete (no network, HTTP error, bad package)."""


class ArchiveError(DatasetError, ValueError):
    """An archive or folder is missing, truncated, of the wrong layout, or fails a checksum."""


class ImageDataError(DatasetError, ValueError):
    """An image could not be decoded or has the wrong size."""


class PreparedDatasetError(DatasetError):
    """A prepared dataset is missing, incomplete, or does not match its manifest."""
