"""Mode coverage: stacked-digit samples (StackedMNIST, the 8x8 stacked digits) and the 25-Gaussians.

Stacked digits: a digit classifier labels each of the three channels; a sample's mode is 100 r + 10 g + b, one of
1000. As in VEEGAN and PacGAN, report the number of modes hit at least once and the reverse KL of
the sample mode histogram p to the uniform distribution u over the 1000 modes (natural log):

    KL(p || u) = sum_m p(m) log(p(m) / u(m)) = sum_m p(m) log p(m) + log 1000

on 26,000 samples. The argmax labels every channel, however illegible: a blob counts as a digit and its
triple as a mode. So every stacked-digit score also reports how sure the classifier was: the fraction
of samples whose three channels all get a softmax probability of at least CONFIDENT_PROBABILITY
(confident_fraction), and the modes hit by those samples alone (confident_modes). Modes and KL stay
PacGAN's (argmax, no threshold).

25-Gaussians (the grid of VEEGAN / PacGAN, scored in its original units: centres -4..4, std 0.05):
each sample belongs to its nearest centre and is of high quality when within 3 std of it. A mode is
covered when it holds at least a quarter of the high-quality samples it would hold under the data
(N/25 * P(|x - centre| <= 3 std) = N/25 * (1 - exp(-4.5)) = 0.0396 N; a quarter: 99 of 10,000).
Counting a mode as covered by a single nearby sample cannot tell a model from noise: 10,000 uniform
points over the grid put about 7 within 3 std of every centre (2% of the data's count), and a model
that puts every mode's mass at the right centre but blurred to 6 times its width holds 12% there.
A quarter is far above both yet asks no model for the data's sharpness to count a mode as present. KL is that of
the histogram of nearest centres (every sample counts) to the uniform distribution, on 10,000 samples.
"""
from typing import NamedTuple

import numpy as np
import torch
from scipy.special import xlogy
from tqdm import tqdm

from ddgan.datasets.toy import MIXTURE25_CENTRES, MIXTURE25_STD, modes_of_labels
from ddgan.metrics.digit_classifier import DigitClassifier
from ddgan.metrics.errors import MetricsError

NUM_MODES = 1000
MODE_SAMPLES = 26_000
# a channel is read as a digit, not a blob, when its label gets at least this softmax probability
CONFIDENT_PROBABILITY = 0.9

MIXTURE25_SAMPLES = 10_000
HIGH_QUALITY_STDS = 3.0
COVERED_FRACTION = 0.25   # of a mode's high-quality samples under the data


def mode_coverage(modes: np.ndarray, num_modes: int = NUM_MODES) -> tuple[int, float]:
    """(number of modes hit, KL(sample mode histogram || uniform over num_modes))."""
    counts = np.bincount(np.asarray(modes), minlength=num_modes)
    if len(counts) > num_modes:
        raise MetricsError(f"mode indices must lie in 0..{num_modes - 1}; got {int(np.max(modes))}")
    p = counts / counts.sum()
    return int(np.count_nonzero(counts)), float(xlogy(p, p).sum() + np.log(num_modes))


def confident_samples(confidences: np.ndarray) -> np.ndarray:
    """Whether each sample's three channels (N, 3) all get probability >= CONFIDENT_PROBABILITY."""
    return np.all(np.asarray(confidences) >= CONFIDENT_PROBABILITY, axis=1)


def stacked_digit_scores(labels: np.ndarray, confidences: np.ndarray) -> dict:
    """modes and kl of every sample's argmax triple; confident_fraction and confident_modes of the samples
    whose three labels (N, 3) all have confidences (N, 3) of at least CONFIDENT_PROBABILITY."""
    modes = modes_of_labels(labels)
    covered, kl = mode_coverage(modes)
    confident = confident_samples(confidences)
    return {"modes": covered, "kl": kl, "confident_fraction": float(confident.mean()),
            "confident_modes": int(len(np.unique(modes[confident])))}


class StackedDigitPredictions(NamedTuple):
    labels: np.ndarray        # (N, 3): each channel's argmax digit, red, green, blue
    confidences: np.ndarray   # (N, 3): the softmax probability of that digit
    features: np.ndarray      # (N, 3 * hidden): the classifier's features of the three channels


@torch.no_grad()
def classify_stacked_digits(image_batches, classifier: DigitClassifier, total=None) -> StackedDigitPredictions:
    """Digit labels, their probabilities and classifier features of uint8 RGB NHWC stacked digits."""
    classifier.eval()
    device = next(classifier.parameters()).device
    labels, confidences, features = [], [], []
    for batch in tqdm(image_batches, total=total, desc="digit labels"):
        if batch.shape[1:3] != (classifier.image_size, classifier.image_size):
            raise MetricsError(f"the digit classifier was trained on {classifier.image_size}x{classifier.image_size} "
                               f"digits; the samples are {batch.shape[2]}x{batch.shape[1]}")
        channels = torch.from_numpy(np.ascontiguousarray(batch)).to(device).permute(3, 0, 1, 2).float()
        x = (channels.reshape(-1, 1, *channels.shape[2:]) / 127.5 - 1.0)  # (3 N, 1, H, W), channel-major
        h = classifier.features(x)
        logits = classifier.head(h)
        label = logits.argmax(1)   # the label of the logits, as before: modes and KL do not depend on the softmax
        confidence = logits.softmax(1).gather(1, label[:, None])[:, 0]
        labels.append(label.reshape(3, -1).T.cpu().numpy())
        confidences.append(confidence.reshape(3, -1).T.cpu().numpy())
        features.append(h.reshape(3, len(batch), -1).permute(1, 0, 2).flatten(1).cpu().numpy())
    return StackedDigitPredictions(np.concatenate(labels), np.concatenate(confidences), np.concatenate(features))


def mixture25_scores(points: np.ndarray) -> dict:
    """modes covered, high-quality fraction and mode-histogram KL of 2-D points in the grid's original units."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise MetricsError(f"25-Gaussian samples are points of shape (N, 2); got shape {points.shape}")
    distances = np.linalg.norm(points[:, None, :] - MIXTURE25_CENTRES[None], axis=-1)
    nearest = distances.argmin(1)
    high_quality = distances[np.arange(len(points)), nearest] <= HIGH_QUALITY_STDS * MIXTURE25_STD
    counts = np.bincount(nearest[high_quality], minlength=len(MIXTURE25_CENTRES))
    data_fraction = 1.0 - np.exp(-HIGH_QUALITY_STDS ** 2 / 2)   # a 2-D Gaussian's mass within 3 std
    threshold = COVERED_FRACTION * data_fraction * len(points) / len(MIXTURE25_CENTRES)
    _, kl = mode_coverage(nearest, num_modes=len(MIXTURE25_CENTRES))
    return {"modes": int(np.count_nonzero(counts >= threshold)), "high_quality": float(high_quality.mean()),
            "kl": kl}
