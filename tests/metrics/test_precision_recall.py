"""Improved precision and recall: k-NN radii and both measures against brute force, ties, k >= n."""
import urllib.error

import numpy as np
import pytest
import torch
import torchvision

from ddgan.metrics.errors import MetricsError, WeightsUnavailableError
from ddgan.metrics.precision_recall import in_manifold, knn_radii, load_vgg16_fc, precision_recall


def brute_radii(points, k):
    radii = []
    for i, p in enumerate(points):
        others = [np.linalg.norm(p - q) for j, q in enumerate(points) if j != i]
        radii.append(sorted(others)[k - 1])
    return np.array(radii)


def brute_coverage(points, centres, radii):
    return np.mean([any(np.linalg.norm(p - c) <= r for c, r in zip(centres, radii)) for p in points])


def test_knn_radii_match_brute_force_across_blocks():
    points = np.random.default_rng(0).normal(size=(37, 5))
    for k in (1, 3, 36):
        np.testing.assert_allclose(knn_radii(points, k, block=8), brute_radii(points, k), rtol=1e-10)


def test_precision_recall_match_brute_force():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(60, 3))
    fake = rng.normal(loc=0.7, scale=0.6, size=(45, 3))
    precision, recall = precision_recall(real, fake, k=3)
    assert precision == pytest.approx(brute_coverage(fake, real, brute_radii(real, 3)))
    assert recall == pytest.approx(brute_coverage(real, fake, brute_radii(fake, 3)))
    assert 0 < precision < 1 and 0 < recall < 1


def test_ties_duplicates_and_boundary_points():
    """Integer grid: distances are exact, so boundary cases are real ties."""
    real = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [0, 0]], dtype=float)  # (0, 0) twice
    # k=1: the duplicates have radius 0; (1,0),(2,0),(3,0) have radius 1
    np.testing.assert_array_equal(knn_radii(real, 1), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(knn_radii(real, 2), [1, 1, 1, 2, 1])
    radii = knn_radii(real, 1)
    on_boundary = np.array([[4.0, 0.0], [2.0, 1.0]])  # exactly at distance 1 of (3,0) and of (2,0)
    outside = np.array([[4.5, 0.0], [0.0, 0.5]])       # (0, 0.5) is only near the zero-radius duplicates
    np.testing.assert_array_equal(in_manifold(on_boundary, real, radii), [True, True])
    np.testing.assert_array_equal(in_manifold(outside, real, radii), [False, False])
    assert precision_recall(real, real, k=1) == (1.0, 1.0)


def test_k_at_least_n_is_refused():
    points = np.zeros((3, 2))
    with pytest.raises(MetricsError, match="at least k\\+1=4"):
        knn_radii(points, 3)
    with pytest.raises(MetricsError, match="at least"):
        precision_recall(np.random.default_rng(2).normal(size=(10, 2)), points, k=3)
    assert knn_radii(np.arange(4.0)[:, None], 3).tolist() == [3.0, 2.0, 2.0, 3.0]


def test_vgg_weights_missing_offline_say_how_to_supply_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_internet(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", no_internet)
    with pytest.raises(WeightsUnavailableError, match="--vgg-weights PATH"):
        load_vgg16_fc()
