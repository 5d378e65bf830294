"""Evaluation metrics: FID (clean-fid, two protocols), Inception Score, improved precision/recall,
mode coverage of stacked digits, NFE and sampling time. ddgan.evaluate runs them on samples.

The names below are imported on first use: importing one metric module (ddgan.metrics.images, say)
must not import every metric's dependencies (torchvision's models, clean-fid)."""
import importlib

API = {
    "MetricsError": "errors", "WeightsUnavailableError": "errors",
    "PROTOCOLS": "fid", "feature_statistics": "fid", "frechet_distance": "fid", "reference_statistics": "fid",
    "inception_score": "inception_score",
    "mode_coverage": "mode_coverage", "modes_of_labels": "mode_coverage", "stacked_digit_scores": "mode_coverage",
    "knn_radii": "precision_recall", "precision_recall": "precision_recall",
    "NetworkCallCounter": "timing", "count_nfe": "timing", "time_sampling": "timing",
}
__all__ = list(API)


def __getattr__(name):
    if name not in API:
        raise AttributeError(f"module 'ddgan.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ddgan.metrics.{API[name]}"), name)
