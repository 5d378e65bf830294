"""Small synthetic datasets for CPU experiments: the 25-Gaussian grid and stacked 8x8 digits.

Both have known modes, so mode coverage and mode-histogram KL can be measured exactly.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

# 25-Gaussians: the standard 5x5 grid, centres -4..4 step 2, std 0.05. Models train on the grid divided
# by a scale (data.scale in a run config, MIXTURE25_SCALE by default); scores are in the original units.
MIXTURE25_CENTRES = np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], dtype=np.float64)
MIXTURE25_STD = 0.05
MIXTURE25_SCALE = 4.0
# stacked digits (here and StackedMNIST): the mode of three digits is 100 r + 10 g + b, 1000 modes
CHANNEL_PLACES = np.array([100, 10, 1])


def mixture25(n, seed=0, scale=MIXTURE25_SCALE):
    """n points of the grid in training units (original units / scale) and their mode indices."""
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, len(MIXTURE25_CENTRES), size=n)
    points = MIXTURE25_CENTRES[modes] + MIXTURE25_STD * rng.standard_normal((n, 2))
    return (points / scale).astype(np.float32), modes


def mixture25_scale(data_config):
    """The scale a run config trains the grid at (original units / scale = training units)."""
    scale = data_config.get("scale")
    return float(MIXTURE25_SCALE if scale is None else scale)


def to_original_units(points, data_config):
    """Generated points in training units -> the dataset's original units (the grid for mixture25)."""
    from .specs import dataset_kind
    return points * mixture25_scale(data_config) if dataset_kind(data_config["dataset"]) == "points" else points


def digits_split(seed=0, test_fraction=0.25):
    """scikit-learn's 8x8 digits in [0, 1], split into train and held-out test sets."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    test, train = order[:n_test], order[n_test:]
    return images[train], digits.target[train], images[test], digits.target[test]


def modes_of_labels(channel_labels: np.ndarray) -> np.ndarray:
    """Digit labels (N, 3) of the red, green and blue channels -> mode index 100 r + 10 g + b."""
    return np.asarray(channel_labels) @ CHANNEL_PLACES


def stack_digits(images, labels, n, seed=0):
    """n RGB images whose channels are three independently drawn digits; label = 100 r + 10 g + b.

    Returns images in [-1, 1] of shape (n, 3, 8, 8) and labels in 0..999 (1000 modes).
    """
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(images), size=(n, 3))
    stacked = images[picks] * 2.0 - 1.0
    return stacked.astype(np.float32), modes_of_labels(labels[picks])


def stacked_digits(n, seed=0, split_seed=0):
    """The stacked-digits training set: n stacks drawn from the training split of the digits."""
    x_train, y_train, _, _ = digits_split(split_seed)
    return stack_digits(x_train, y_train, n, seed)


def mixture25_training_array(data_config):
    """The training points a run's data section names (size, seed), as registered in ddgan/core/catalog.py."""
    return mixture25(data_config.get("size") or 100_000, data_config.get("seed", 0), mixture25_scale(data_config))[0]


def stacked_digits_training_array(data_config):
    return stacked_digits(data_config.get("size") or 60_000, data_config.get("seed", 0))[0]


@dataclass(frozen=True)
class InMemoryDataset:
    """A registered in-memory dataset (ddgan/core/catalog.py): its kind (ddgan.datasets.specs.dataset_kind) and
    the array a run's data section (size, seed) makes."""
    kind: str
    make: Callable[[dict], np.ndarray]

    def __call__(self, data_config):
        return self.make(data_config)


MIXTURE25 = InMemoryDataset("points", mixture25_training_array)
STACKED_DIGITS = InMemoryDataset("digits", stacked_digits_training_array)
