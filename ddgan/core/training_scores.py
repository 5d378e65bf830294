"""The cheap score of the EMA network logged every train.eval_every steps, chosen by the dataset's kind.

- 25-Gaussians: modes covered, high-quality fraction and KL (the demo's scoring rule); primary
  eval/high_quality, higher is better (KL alone does not see blur: a uniform spread has KL near 0).
- Stacked digits (8x8 demo digits, StackedMNIST): modes of 1000 and KL to uniform with a digit
  classifier, and the share of samples it reads with confidence and their modes
  (eval/confident_fraction, eval/confident_modes: blobs count as modes, not as confident); primary
  eval/kl, lower is better.
- Image datasets: FID on train.eval_samples samples (FID-N, not the paper's FID-50k) against the
  training set's statistics, clean protocol, offline Inception; primary eval/fid<N>, lower is better.

Every score draws its samples from one fixed generator seed, so scores at two steps differ by the
network, not by the draw.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ddgan.core.config import ConfigError
from ddgan.datasets.specs import dataset_kind

DEMO_CLASSIFIER = {}    # the 8x8 digits' classifier trains with small_digits_classifier's options (tests shorten them)


@dataclass
class PeriodicScore:
    """score(samples in [-1, 1]) -> {"eval/...": value}; `primary` names the value snapshot-best.pt keeps."""
    description: str
    primary: str
    lower_is_better: bool
    score: Callable[[torch.Tensor], dict]

    def better(self, value, best):
        return best is None or (value < best if self.lower_is_better else value > best)


def mixture25_score(n, data_config):
    from ddgan.datasets.toy import to_original_units
    from ddgan.metrics.mode_coverage import mixture25_scores   # the demo's rule, in one place

    def score(samples):
        points = to_original_units(samples.cpu().numpy().astype(np.float64), data_config)
        return {f"eval/{k}": v for k, v in mixture25_scores(points).items()}

    return PeriodicScore(f"modes / high-quality / KL of {n} samples (25-Gaussians)", "eval/high_quality", False, score)


def digit_classifier_for(data_config, given, run_dir, device):
    """The given classifier; for the 8x8 demo digits one trained once per run (seconds) and kept in the run."""
    from ddgan.metrics.digit_classifier import load_digit_classifier, small_digits_classifier
    if given is not None:
        return load_digit_classifier(given, device)
    if data_config["dataset"] != "stacked_digits":
        raise ConfigError(f"train.eval_every on {data_config['dataset']!r} counts modes with a digit classifier: "
                          "set train.eval_classifier=PATH (train one with python -m ddgan.metrics.digit_classifier)")
    path = small_digits_classifier(Path(run_dir) / "eval" / "digit_classifier.pt", **DEMO_CLASSIFIER)
    return load_digit_classifier(path, device)


def digits_score(n, classifier):
    from ddgan.metrics.images import to_uint8
    from ddgan.metrics.mode_coverage import classify_stacked_digits, stacked_digit_scores

    def score(samples):
        predictions = classify_stacked_digits([to_uint8(samples)], classifier, total=1)
        return {f"eval/{k}": v for k, v in stacked_digit_scores(predictions.labels, predictions.confidences).items()}

    return PeriodicScore(f"modes / KL / confident fraction and modes of {n} samples ({classifier.description})",
                         "eval/kl", True, score)


def fid_score(n, dataset, training_images, device, cache_dir, batch_size):
    """FID-n against the training set; its statistics are computed once and cached (shared with `ddgan eval`)."""
    from ddgan.metrics import fid
    from ddgan.metrics.images import to_uint8
    from ddgan.metrics.inception import load_fid_extractor
    extractor = load_fid_extractor("clean", "offline", device)
    mu_r, sigma_r, _ = fid.reference_statistics(dataset, "clean", extractor, training_images, cache_dir, batch_size,
                                                device=device)

    def score(samples):
        features = fid.array_features(to_uint8(samples), "clean", extractor, batch_size, device=device)
        return {f"eval/fid{n}": fid.frechet_distance(*fid.feature_statistics(features), mu_r, sigma_r)}

    return PeriodicScore(f"FID-{n} (clean protocol, offline Inception) against the training set",
                         f"eval/fid{n}", True, score)


def build_periodic_score(config, training_array, run_dir, device, cache_dir=None, batch_size=100):
    """The PeriodicScore for this run's dataset; raises ConfigError when none applies or it cannot be set up."""
    from ddgan.metrics.errors import MetricsError, WeightsUnavailableError
    data, n = config["data"], config["train"]["eval_samples"]
    kind = dataset_kind(data["dataset"])
    try:
        if kind == "points":
            return mixture25_score(n, data)
        if kind == "digits":
            classifier = digit_classifier_for(data, config["train"]["eval_classifier"], run_dir, device)
            return digits_score(n, classifier)
        if training_array.dtype == np.uint8 and len(data["shape"]) == 3:
            from ddgan.metrics.reference import DEFAULT_CACHE_DIR
            return fid_score(n, data["dataset"], training_array, device, cache_dir or DEFAULT_CACHE_DIR, batch_size)
    except (MetricsError, WeightsUnavailableError) as error:   # one line at start-up, as other config errors
        raise ConfigError(f"train.eval_every: {error}") from error
    raise ConfigError(f"train.eval_every: no periodic score for dataset {data['dataset']!r} (scores exist for "
                      f"datasets of points, of stacked digits and of prepared images); set train.eval_every=null")
