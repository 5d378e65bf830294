"""Evaluation metrics: FID (clean-fid, two protocols), Inception Score, improved precision/recall,
mode coverage of stacked digits, NFE and sampling time. ddgan.evaluate runs them on samples."""
from ddgan.metrics.errors import MetricsError, WeightsUnavailableError
from ddgan.metrics.fid import PROTOCOLS, feature_statistics, frechet_distance, reference_statistics
from ddgan.metrics.inception_score import inception_score
from ddgan.metrics.mode_coverage import mode_coverage, modes_of_labels, stacked_digit_scores
from ddgan.metrics.precision_recall import knn_radii, precision_recall
from ddgan.metrics.timing import NetworkCallCounter, count_nfe, time_sampling

__all__ = ["MetricsError", "WeightsUnavailableError", "PROTOCOLS", "feature_statistics", "frechet_distance",
           "reference_statistics", "inception_score", "mode_coverage", "modes_of_labels", "stacked_digit_scores",
           "knn_radii", "precision_recall", "NetworkCallCounter", "count_nfe", "time_sampling"]
