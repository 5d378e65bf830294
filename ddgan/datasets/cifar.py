"""CIFAR-10 from its python pickle batches (cifar-10-batches-py), as on Kaggle and the authors' site."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from .archives import ArchiveTree, check_member_md5, open_archive
from .errors import ArchiveError
from .specs import DatasetSpec
from .splits import SplitSource, in_memory_split

BATCH_FOLDER = "cifar-10-batches-py"
SPLIT_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_IMAGE_BYTES = 3 * 32 * 32


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles the batch dicts without running arbitrary code from a downloaded file.

    Only what a pickled numpy array needs may be looked up; anything else is refused.
    """

    _ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
        ("numpy._core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
        ("numpy.core.numeric", "_frombuffer"): np.zeros(1).__reduce_ex__(5)[0],
        ("numpy._core.numeric", "_frombuffer"): np.zeros(1).__reduce_ex__(5)[0],
        ("_codecs", "encode"): __import__("codecs").encode,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch") from None


def read_cifar10(tree: ArchiveTree, spec: DatasetSpec, workdir: Path) -> dict[str, SplitSource]:
    if not tree.find(["data_batch_1"], under=BATCH_FOLDER):
        nested = tree.find(["cifar-10-python.tar.gz"])
        if not nested:
            raise ArchiveError(
                f"{tree.path} has no {BATCH_FOLDER}/data_batch_1 and no cifar-10-python.tar.gz. "
                f"Expected {spec.layout}."
            )
        check_member_md5(tree, nested[0], spec.member_md5)
        with open_archive(tree.local_path(nested[0], workdir), workdir / "nested") as inner:
            return read_cifar10(inner, spec, workdir)
    return {split: _read_split(tree, spec, split) for split in spec.splits}


def _read_split(tree: ArchiveTree, spec: DatasetSpec, split: str) -> SplitSource:
    images, labels, members, md5s = [], [], [], {}
    for file_name in SPLIT_FILES[split]:
        found = tree.find([file_name], under=BATCH_FOLDER)
        if not found:
            raise ArchiveError(f"{tree.path} is missing {BATCH_FOLDER}/{file_name}. Expected {spec.layout}.")
        name = found[0]
        checked = check_member_md5(tree, name, spec.member_md5)
        if checked:
            md5s[file_name] = checked
        batch_images, batch_labels = _decode_batch(tree.read(name), f"{tree.path}:{name}")
        images.append(batch_images)
        labels.append(batch_labels)
        members.append(name)
    images, labels = np.concatenate(images), np.concatenate(labels)
    expected = spec.expected_counts[split]
    if len(images) != expected:
        raise ArchiveError(
            f"CIFAR-10 {split} split has {len(images)} images in {tree.path}, expected {expected}; "
            "the archive is incomplete or not CIFAR-10."
        )
    details = {"members": members, "md5_verified": md5s}
    return in_memory_split(images, labels, details)


def _decode_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
        raise ArchiveError(
            f"{where} is not a readable CIFAR-10 batch ({type(error).__name__}: {error}); "
            "the archive is truncated or corrupt. Download it again or pass a correct copy with --archive."
        ) from error
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _IMAGE_BYTES or len(labels) != len(data):
        raise ArchiveError(
            f"{where} holds data of shape {data.shape} ({data.dtype}) with {len(labels)} labels; a CIFAR-10 "
            f"batch holds N x {_IMAGE_BYTES} uint8 rows and N labels."
        )
    if labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ArchiveError(f"{where} has labels outside 0..9; it is not a CIFAR-10 batch")
    # Rows are channel-major (1024 R, then G, then B values, each row-major 32x32).
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.uint8)
