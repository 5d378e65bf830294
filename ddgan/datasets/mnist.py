"""MNIST from IDX files, and StackedMNIST built from prepared MNIST."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from .archives import ArchiveTree, check_member_md5
from .errors import ArchiveError
from .specs import DatasetSpec
from .splits import SplitSource, in_memory_split
from .toy import modes_of_labels

# The split prefix used in the file names, and the IDX magic numbers (unsigned byte, 3 or 1 dims).
_PREFIX = {"train": "train", "test": "t10k"}
_IMAGE_MAGIC, _LABEL_MAGIC = 0x00000803, 0x00000801


def _candidate_names(split: str, kind: str) -> list[str]:
    """File names MNIST ships under: Kaggle's 'train-images.idx3-ubyte', the original '-idx3-ubyte', gzipped."""
    dims = "idx3" if kind == "images" else "idx1"
    stem = f"{_PREFIX[split]}-{kind}"
    plain = [f"{stem}.{dims}-ubyte", f"{stem}-{dims}-ubyte"]
    return plain + [name + ".gz" for name in plain]


def read_mnist(tree: ArchiveTree, spec: DatasetSpec, workdir: Path) -> dict[str, SplitSource]:
    splits = {}
    for split in spec.splits:
        images, image_member = _read_idx(tree, spec, split, "images")
        labels, label_member = _read_idx(tree, spec, split, "labels")
        expected = spec.expected_counts[split]
        if len(images) != expected or len(labels) != expected:
            raise ArchiveError(
                f"MNIST {split} split has {len(images)} images and {len(labels)} labels in {tree.path}, "
                f"expected {expected} of each; the archive is incomplete or not MNIST."
            )
        if labels.max(initial=0) > 9:
            raise ArchiveError(f"{tree.path}:{label_member} has labels above 9; it is not MNIST")
        details = {"members": [image_member, label_member]}
        splits[split] = in_memory_split(images[..., None], labels, details)
    return splits


def _read_idx(tree: ArchiveTree, spec: DatasetSpec, split: str, kind: str) -> tuple[np.ndarray, str]:
    candidates = _candidate_names(split, kind)
    found = tree.find(candidates)
    if not found:
        raise ArchiveError(f"{tree.path} has none of {candidates}. Expected {spec.layout}.")
    name = found[0]
    check_member_md5(tree, name, spec.member_md5)
    raw = tree.read(name)
    where = f"{tree.path}:{name}"
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise ArchiveError(f"{where} is a truncated or corrupt gzip file ({error}); download it again") from error
    return parse_idx(raw, _IMAGE_MAGIC if kind == "images" else _LABEL_MAGIC, where), name


def parse_idx(raw: bytes, magic: int, where: str) -> np.ndarray:
    """An IDX file of unsigned bytes: big-endian int32 magic, one int32 per dimension, then the data."""
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise ArchiveError(
            f"{where} is not an IDX file of {ndim}-d unsigned bytes (magic {found!r}, expected {magic:#010x}); "
            "the file is corrupt or not the one expected."
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise ArchiveError(
            f"{where} has {len(raw) - header} data bytes but its header announces shape {shape} "
            f"({int(np.prod(shape))} bytes): the file is truncated. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def stacked_mnist_indices(num_digits: int, seed: int) -> np.ndarray:
    """(2 * num_digits, 3) indices into MNIST: per channel, two permutations concatenated.

    The draw order (channel 0's two permutations, then channel 1's, then channel 2's) is the
    official code's, so with RandomState(seed) this equals its index after numpy.random.seed(seed).
    """
    rng = np.random.RandomState(seed)
    channels = [np.hstack([rng.permutation(num_digits), rng.permutation(num_digits)]) for _ in range(3)]
    return np.stack(channels, axis=1)


def build_stacked_mnist(digits: np.ndarray, digit_labels: np.ndarray, seed: int,
                        batch_size: int = 4096) -> SplitSource:
    """StackedMNIST from MNIST training digits (N, 28, 28[, 1]): images 32x32x3, labels 100*l_R + 10*l_G + l_B."""
    digits = digits.reshape(len(digits), 28, 28)
    index = stacked_mnist_indices(len(digits), seed)
    labels = modes_of_labels(digit_labels[index].astype(np.int64)).astype(np.uint16)

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, len(index), batch_size):
            rows = index[start:start + batch_size]
            # Zero padding of 2 pixels on each side takes 28x28 to 32x32 (torchvision Pad(2)).
            out = np.zeros((len(rows), 32, 32, 3), dtype=np.uint8)
            for channel in range(3):
                out[:, 2:30, 2:30, channel] = digits[rows[:, channel]]
            yield out

    details = {"seed": seed, "rng": "numpy.random.RandomState(seed).permutation, official draw order",
               "label": "100*l_R + 10*l_G + l_B"}
    return SplitSource(len(index), (32, 32, 3), labels, batches, details)
