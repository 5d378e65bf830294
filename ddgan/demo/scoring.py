"""Scores of the demo's two datasets, whose modes are known exactly.

25-Gaussians: ddgan.metrics.mode_coverage.mixture25_scores on the samples in the grid's original
units (a mode is covered when it holds a quarter of the high-quality samples it would hold under the data).
Stacked digits: a digit classifier labels each channel; the mode is the triple (1000 modes). The share
of samples whose three labels it is sure of, and their modes, tell digits from blobs it labels anyway.
"""
import numpy as np

from ddgan.datasets.toy import MIXTURE25_SCALE
from ddgan.metrics.mode_coverage import classify_stacked_digits, mixture25_scores, stacked_digit_scores


def score_mixture25(samples, scale=MIXTURE25_SCALE):
    """samples: (N, 2) in training units (the grid divided by `scale`). Returns modes, high_quality, kl."""
    return mixture25_scores(np.asarray(samples, dtype=np.float64) * scale)


def to_uint8_nhwc(samples):
    """Samples in [-1, 1], NCHW -> uint8 NHWC (the form images are stored and classified in)."""
    x = np.clip((np.asarray(samples) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return x.transpose(0, 2, 3, 1)


def score_stacked_digits(samples, classifier, batch_size=2000):
    """samples: (N, 3, 8, 8) in [-1, 1]. Returns modes (of 1000), KL to uniform, confident_fraction and
    confident_modes."""
    images = to_uint8_nhwc(samples)
    batches = (images[i:i + batch_size] for i in range(0, len(images), batch_size))
    predictions = classify_stacked_digits(batches, classifier, total=-(-len(images) // batch_size))
    return stacked_digit_scores(predictions.labels, predictions.confidences)
