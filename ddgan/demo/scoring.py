"""Scores of the demo's two datasets, whose modes are known exactly.

25-Gaussians (as in VEEGAN / PacGAN): each sample belongs to its nearest grid centre; it is of high
quality if within 3 standard deviations of it; a mode is covered if it has at least one high-quality
sample; KL is that of the histogram of nearest centres (all samples) to the uniform distribution.
Stacked digits: a digit classifier labels each channel; the mode is the triple (1000 modes).
"""
import numpy as np

from ddgan.datasets.toy import MIXTURE25_CENTRES, MIXTURE25_SCALE, MIXTURE25_STD
from ddgan.metrics.mode_coverage import classify_stacked_digits, mode_coverage


def score_mixture25(samples):
    """samples: (N, 2) in training units. Returns modes, high_quality, kl and the nearest-centre counts."""
    points = np.asarray(samples, dtype=np.float64) * MIXTURE25_SCALE
    distances = np.linalg.norm(points[:, None, :] - MIXTURE25_CENTRES[None], axis=-1)
    nearest = distances.argmin(1)
    high_quality = distances[np.arange(len(points)), nearest] <= 3 * MIXTURE25_STD
    covered = np.count_nonzero(np.bincount(nearest[high_quality], minlength=len(MIXTURE25_CENTRES)))
    _, kl = mode_coverage(nearest, num_modes=len(MIXTURE25_CENTRES))
    return {"modes": int(covered), "high_quality": float(high_quality.mean()), "kl": kl}


def to_uint8_nhwc(samples):
    """Samples in [-1, 1], NCHW -> uint8 NHWC (the form images are stored and classified in)."""
    x = np.clip((np.asarray(samples) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return x.transpose(0, 2, 3, 1)


def score_stacked_digits(samples, classifier, batch_size=2000):
    """samples: (N, 3, 8, 8) in [-1, 1]. Returns modes (of 1000) and KL to uniform."""
    images = to_uint8_nhwc(samples)
    batches = (images[i:i + batch_size] for i in range(0, len(images), batch_size))
    labels, _ = classify_stacked_digits(batches, classifier, total=-(-len(images) // batch_size))
    modes, kl = mode_coverage(labels @ np.array([100, 10, 1]))
    return {"modes": modes, "kl": kl}
