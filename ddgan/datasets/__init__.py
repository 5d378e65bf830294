"""Datasets of the paper, downloaded once, verified, and prepared into memory-mappable arrays.

    prepare("cifar10")                     # download (Kaggle) -> verify -> data/cifar10/
    data = open_prepared("cifar10", split="train")
    data.images  # np.memmap (50000, 32, 32, 3) uint8;  data.labels  # (50000,) uint8

The command line equivalent is `ddgan data prepare NAME [--archive PATH] [--root DIR]`.
"""

from .errors import (ArchiveError, DatasetError, DownloadError, ImageDataError, MissingCredentialsError,
                     PreparedDatasetError, UnknownDatasetError)
from .prepare import check_archive, download, prepare
from .specs import DATASETS, DatasetSpec, get_spec
from .storage import PreparedImages, data_root, open_prepared, verify_prepared

__all__ = [
    "ArchiveError", "DATASETS", "DatasetError", "DatasetSpec", "DownloadError", "ImageDataError",
    "MissingCredentialsError", "PreparedDatasetError", "PreparedImages", "UnknownDatasetError",
    "check_archive", "data_root", "download", "get_spec", "open_prepared", "prepare", "verify_prepared",
]
