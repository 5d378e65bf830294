"""Errors raised for expected failures of an evaluation: each message names the problem and the fix."""


class MetricsError(ValueError):
    """Bad input to an evaluation: a sample folder, a reference, an argument."""


class WeightsUnavailableError(RuntimeError):
    """Network weights that a metric needs are neither on disk nor downloadable."""
