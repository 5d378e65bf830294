"""The common currency between format readers and the prepared-dataset writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np


@dataclass
class SplitSource:
    """One split of a source: its size, labels, and a way to stream its images.

    `batches()` yields uint8 arrays of shape (b, H, W, C) in dataset order; `details` goes into
    the manifest (member names, checksums checked, key order, ...).
    """

    count: int
    image_shape: tuple[int, int, int]
    labels: np.ndarray | None
    batches: Callable[[], Iterator[np.ndarray]]
    details: dict = field(default_factory=dict)


def in_memory_split(images: np.ndarray, labels: np.ndarray | None, details: dict,
                    batch_size: int = 4096) -> SplitSource:
    """A SplitSource over arrays already decoded in memory (CIFAR-10, MNIST)."""

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size]

    return SplitSource(len(images), tuple(images.shape[1:]), labels, batches, details)
