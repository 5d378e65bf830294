"""Inception Score: the formula against numpy, the TF 1.x resize, the classifier pipeline, the weights."""
import urllib.error

import numpy as np
import pytest
import torch
from torch import nn

from ddgan.metrics import inception
from ddgan.metrics.errors import MetricsError, WeightsUnavailableError
from ddgan.metrics.images import resize_bilinear_tf1
from ddgan.metrics.inception_score import class_probabilities, inception_score


def numpy_inception_score(probabilities, splits):
    """The formula as the original TF script writes it: exp(mean KL(p(y|x) || p(y))) per split."""
    scores = []
    n = len(probabilities)
    for i in range(splits):
        part = probabilities[i * n // splits:(i + 1) * n // splits]
        kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
        scores.append(np.exp(kl.sum(1).mean()))
    return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("splits", [1, 10])
def test_inception_score_matches_numpy(splits):
    probabilities = np.random.default_rng(0).dirichlet(np.full(20, 0.3), size=103)
    mean, std = inception_score(probabilities, splits)
    expected_mean, expected_std = numpy_inception_score(probabilities, splits)
    assert mean == pytest.approx(expected_mean, rel=1e-12) and std == pytest.approx(expected_std, rel=1e-9, abs=1e-12)
    assert (std == 0) == (splits == 1)


def test_inception_score_limits():
    confident_and_diverse = np.eye(7)[np.arange(70) % 7]
    assert inception_score(confident_and_diverse, 1) == (pytest.approx(7.0), 0.0)
    same_prediction = np.tile(np.random.default_rng(1).dirichlet(np.ones(7)), (50, 1))
    assert inception_score(same_prediction, 1)[0] == pytest.approx(1.0)
    with pytest.raises(MetricsError, match="splits"):
        inception_score(same_prediction, 51)


def test_resize_bilinear_tf1_follows_tf1_coordinates():
    x = torch.tensor([[[[0.0, 1.0]]]])
    # TF 1.x (align_corners=False, no half-pixel centres): source coordinate = i * in / out, clamped
    assert resize_bilinear_tf1(x.transpose(2, 3), 4)[0, 0, :, 0].tolist() == [0.0, 0.5, 1.0, 1.0]
    image = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(2))
    np.testing.assert_allclose(resize_bilinear_tf1(image[..., :5], 5), image[..., :5], rtol=0, atol=1e-7)

    out = resize_bilinear_tf1(image, 11)
    for i, j in [(0, 0), (3, 8), (10, 10), (7, 2)]:
        y, xx = i * 5 / 11, j * 7 / 11
        y0, x0 = int(y), int(xx)
        y1, x1 = min(y0 + 1, 4), min(x0 + 1, 6)
        dy, dx = y - y0, xx - x0
        expected = ((1 - dy) * ((1 - dx) * image[..., y0, x0] + dx * image[..., y0, x1])
                    + dy * ((1 - dx) * image[..., y1, x0] + dx * image[..., y1, x1]))
        np.testing.assert_allclose(out[..., i, j], expected, rtol=1e-6)


def test_is_of_a_standin_classifier_matches_numpy():
    """The pipeline ([-1, 1] pixels, TF resize, first classes of the logits) against numpy on its logits."""
    torch.manual_seed(3)
    classifier = nn.Sequential(nn.Conv2d(3, 8, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                               nn.Linear(8, 12)).eval()
    images = np.random.default_rng(4).integers(0, 256, size=(40, 16, 16, 3), dtype=np.uint8)
    probabilities = class_probabilities([images[:25], images[25:]], classifier, input_size=48, num_classes=10)

    x = resize_bilinear_tf1(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 * 2 - 1, 48)
    logits = classifier(x).detach().double().numpy()[:, :10]
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
    for splits in (1, 10):
        np.testing.assert_allclose(inception_score(probabilities, splits), numpy_inception_score(expected, splits),
                                   rtol=1e-6)


def test_is_weights_missing_offline_name_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.IS_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_internet(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_internet)
    with pytest.raises(WeightsUnavailableError) as error:
        inception.load_is_inception()
    assert "pt_inception-2015-12-05-6726825d.pth" in str(error.value) and "--is-weights" in str(error.value)
    with pytest.raises(WeightsUnavailableError, match="do not exist"):
        inception.load_is_inception(tmp_path / "absent.pth")


def test_is_network_loads_a_state_dict_and_gives_1008_logits(tmp_path):
    torch.manual_seed(5)
    source = inception.build_tf_inception().eval()
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    network, description = inception.load_is_inception(tmp_path / "weights.pth", download=False)
    x = torch.rand(1, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        logits = network(x)
        assert logits.shape == (1, 1008)
        torch.testing.assert_close(logits, source(x))
    assert "weights.pth" in description
