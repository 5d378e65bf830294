"""Mode coverage of stacked-digit samples (StackedMNIST and the 8x8 stacked-digits demo).

A digit classifier labels each of the three channels; a sample's mode is 100 r + 10 g + b, one of
1000. As in VEEGAN and PacGAN, report the number of modes hit at least once and the reverse KL of
the sample mode histogram p to the uniform distribution u over the 1000 modes (natural log):

    KL(p || u) = sum_m p(m) log(p(m) / u(m)) = sum_m p(m) log p(m) + log 1000

on 26,000 samples.
"""
import numpy as np
import torch
from scipy.special import xlogy
from tqdm import tqdm

from ddgan.metrics.digit_classifier import DigitClassifier
from ddgan.metrics.errors import MetricsError

NUM_MODES = 1000
MODE_SAMPLES = 26_000
CHANNEL_PLACES = np.array([100, 10, 1])


def modes_of_labels(channel_labels: np.ndarray) -> np.ndarray:
    """Digit labels (N, 3) of the red, green and blue channels -> mode index 100 r + 10 g + b."""
    return np.asarray(channel_labels) @ CHANNEL_PLACES


def mode_coverage(modes: np.ndarray, num_modes: int = NUM_MODES) -> tuple[int, float]:
    """(number of modes hit, KL(sample mode histogram || uniform over num_modes))."""
    counts = np.bincount(np.asarray(modes), minlength=num_modes)
    if len(counts) > num_modes:
        raise MetricsError(f"mode indices must lie in 0..{num_modes - 1}; got {int(np.max(modes))}")
    p = counts / counts.sum()
    return int(np.count_nonzero(counts)), float(xlogy(p, p).sum() + np.log(num_modes))


@torch.no_grad()
def classify_stacked_digits(image_batches, classifier: DigitClassifier, total=None) -> tuple[np.ndarray, np.ndarray]:
    """Digit labels (N, 3) and classifier features (N, 3 * hidden) of uint8 RGB NHWC stacked digits."""
    classifier.eval()
    device = next(classifier.parameters()).device
    labels, features = [], []
    for batch in tqdm(image_batches, total=total, desc="digit labels"):
        if batch.shape[1:3] != (classifier.image_size, classifier.image_size):
            raise MetricsError(f"the digit classifier was trained on {classifier.image_size}x{classifier.image_size} "
                               f"digits; the samples are {batch.shape[2]}x{batch.shape[1]}")
        channels = torch.from_numpy(np.ascontiguousarray(batch)).to(device).permute(3, 0, 1, 2).float()
        x = (channels.reshape(-1, 1, *channels.shape[2:]) / 127.5 - 1.0)  # (3 N, 1, H, W), channel-major
        h = classifier.features(x)
        labels.append(classifier.head(h).argmax(1).reshape(3, -1).T.cpu().numpy())
        features.append(h.reshape(3, len(batch), -1).permute(1, 0, 2).flatten(1).cpu().numpy())
    return np.concatenate(labels), np.concatenate(features)
