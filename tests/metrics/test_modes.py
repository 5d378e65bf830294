"""Mode coverage of stacked digits and the digit classifier that labels the channels."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from ddgan.metrics.digit_classifier import (load_digit_classifier, predict, save_digit_classifier,
                                            to_classifier_input, train_digit_classifier)
from ddgan.metrics.errors import MetricsError
from ddgan.metrics.mode_coverage import (CONFIDENT_PROBABILITY, classify_stacked_digits, confident_samples,
                                         mode_coverage, modes_of_labels, stacked_digit_scores)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits as uint8, split 1300 / 497."""
    data = load_digits()
    images = np.round(data.images * 255 / 16).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1300], order[1300:]
    return images[train], data.target[train], images[test], data.target[test]


@pytest.fixture(scope="module")
def classifier(digits):
    # trained until it is sure of real digits too, as the classifiers that score samples are
    return train_digit_classifier(*digits, epochs=10, batch_size=64, width=16, seed=0)


def test_mode_coverage_matches_direct_computation():
    modes = np.random.default_rng(1).integers(0, 300, size=2000) * 3  # 300 possible modes out of 1000
    covered, kl = mode_coverage(modes)
    counts = np.array([np.sum(modes == m) for m in range(1000)])
    p = counts[counts > 0] / len(modes)
    assert covered == len(set(modes.tolist()))
    assert kl == pytest.approx(np.sum(p * np.log(p / (1 / 1000))), rel=1e-12)


def test_mode_coverage_limits():
    assert mode_coverage(np.repeat(np.arange(1000), 26)) == (1000, pytest.approx(0.0, abs=1e-12))
    assert mode_coverage(np.full(50, 7)) == (1, pytest.approx(np.log(1000)))
    with pytest.raises(MetricsError, match="0..999"):
        mode_coverage(np.array([1000]))


def test_modes_of_labels_are_100r_10g_b():
    np.testing.assert_array_equal(modes_of_labels(np.array([[1, 2, 3], [9, 0, 0], [0, 0, 7]])), [123, 900, 7])


def test_classifier_trains_saves_and_reloads(tmp_path, digits, classifier):
    _, _, x_test, y_test = digits
    assert classifier.test_accuracy > 0.9
    assert classifier.test_accuracy == pytest.approx(np.mean(predict(classifier, to_classifier_input(x_test)) == y_test))
    save_digit_classifier(classifier, tmp_path / "digits.pt")
    reloaded = load_digit_classifier(tmp_path / "digits.pt")
    assert reloaded.test_accuracy == classifier.test_accuracy and reloaded.image_size == 8
    np.testing.assert_array_equal(predict(reloaded, to_classifier_input(x_test)),
                                  predict(classifier, to_classifier_input(x_test)))
    assert np.array_equal(to_classifier_input(x_test[:3]), to_classifier_input(x_test[:3].astype(np.float64) / 255))


def test_stacked_digits_are_labelled_per_channel(digits, classifier):
    _, _, x_test, y_test = digits
    picks = np.random.default_rng(2).integers(0, len(x_test), size=(120, 3))
    stacked = np.stack([x_test[picks[:, c]] for c in range(3)], axis=-1)  # NHWC: R, G, B digits
    labels, confidences, features = classify_stacked_digits([stacked[:50], stacked[50:]], classifier)
    single = predict(classifier, to_classifier_input(x_test))
    np.testing.assert_array_equal(labels, single[picks])
    with torch.no_grad():
        probabilities = classifier(to_classifier_input(x_test)).softmax(1).numpy()
    np.testing.assert_allclose(confidences, probabilities.max(1)[picks], rtol=1e-5)
    assert features.shape == (120, 3 * 128)
    with torch.no_grad():
        blue = classifier.features(to_classifier_input(x_test[picks[:4, 2]])).numpy()
    np.testing.assert_allclose(features[:4, 256:], blue, rtol=1e-5, atol=1e-6)
    assert np.mean(modes_of_labels(labels) == modes_of_labels(y_test[picks])) > 0.7


def test_confident_scores_follow_their_definitions():
    # 0.9 is enough; one channel at 0.89 makes its sample not confident, whatever the other two
    labels = np.array([[1, 2, 3], [4, 5, 6], [1, 2, 3], [7, 8, 9]])
    confidences = np.array([[0.9, 0.99, 1.0], [0.99, 0.89, 0.99], [0.95, 0.95, 0.95], [0.5, 0.99, 0.99]])
    assert CONFIDENT_PROBABILITY == 0.9
    np.testing.assert_array_equal(confident_samples(confidences), [True, False, True, False])
    scores = stacked_digit_scores(labels, confidences)
    assert (scores["modes"], scores["kl"]) == mode_coverage(modes_of_labels(labels))   # argmax, no threshold
    assert scores["modes"] == 3 and scores["confident_fraction"] == 0.5 and scores["confident_modes"] == 1
    assert stacked_digit_scores(labels, np.full((4, 3), 0.3))["confident_modes"] == 0


def blurred(images):
    """8x8 digits averaged over 2x2 blocks and enlarged back: the strokes become blobs of the same place."""
    blocks = images.reshape(len(images), 4, 2, 4, 2).astype(np.float64).mean(axis=(2, 4))
    return np.round(blocks.repeat(2, axis=1).repeat(2, axis=2)).astype(np.uint8)


def test_confident_fraction_tells_digits_from_blobs_and_noise(digits, classifier):
    """Real stacks are read with confidence; the same stacks blurred, or uniform noise, still get labels
    (and modes) but few confident samples."""
    _, _, x_test, _ = digits
    picks = np.random.default_rng(3).integers(0, len(x_test), size=(2000, 3))
    real = np.stack([x_test[picks[:, c]] for c in range(3)], axis=-1)
    blobs = np.stack([blurred(x_test)[picks[:, c]] for c in range(3)], axis=-1)
    noise = np.random.default_rng(4).integers(0, 256, size=real.shape, dtype=np.uint8)
    scores = {name: stacked_digit_scores(*classify_stacked_digits([stacks], classifier)[:2])
              for name, stacks in (("real", real), ("blobs", blobs), ("noise", noise))}
    assert scores["real"]["confident_fraction"] > 0.8
    assert scores["blobs"]["confident_fraction"] < 0.2 and scores["noise"]["confident_fraction"] < 0.2
    assert scores["blobs"]["modes"] > 100     # argmax still counts the blobs as modes


def test_classifier_size_and_missing_file_errors(tmp_path, classifier):
    with pytest.raises(MetricsError, match="trained on 8x8"):
        classify_stacked_digits([np.zeros((2, 32, 32, 3), np.uint8)], classifier)
    with pytest.raises(MetricsError, match="python -m ddgan.metrics.digit_classifier"):
        load_digit_classifier(tmp_path / "absent.pt")
    with pytest.raises(MetricsError, match="uint8"):
        to_classifier_input(np.full((2, 8, 8), 3.0))


def test_mixture25_coverage_tells_a_model_from_noise_and_blur():
    from ddgan.datasets.toy import MIXTURE25_CENTRES, mixture25
    from ddgan.metrics.mode_coverage import mixture25_scores
    rng = np.random.default_rng(0)
    data = mixture25(10_000, seed=1, scale=1.0)[0]
    assert mixture25_scores(data)["modes"] == 25 and mixture25_scores(data)["high_quality"] > 0.98
    # uniform over the grid: about 7 points within 3 std of every centre, and a near-zero KL, but no mode
    uniform = mixture25_scores(rng.uniform(-5, 5, size=(10_000, 2)))
    assert uniform["modes"] == 0 and uniform["kl"] < 0.01
    # the right centres, blurred to std 0.3: 12% within 3 std (0.15) of a centre, not a quarter of 99%
    blurred = mixture25_scores(MIXTURE25_CENTRES[rng.integers(0, 25, 10_000)] + 0.3 * rng.standard_normal((10_000, 2)))
    assert blurred["modes"] == 0 and 0.09 < blurred["high_quality"] < 0.15
    # one mode keeps 20% of its share of sharp samples, the rest moved off the grid: 24 modes
    keep = np.ones(len(data), bool)
    in_first = np.flatnonzero(np.linalg.norm(data - MIXTURE25_CENTRES[0], axis=1) < 0.5)
    keep[in_first[: int(0.8 * len(in_first))]] = False
    thinned = np.vstack([data[keep], rng.uniform(-5, 5, size=(len(data) - keep.sum(), 2)) * [1, 0] + [20, 0]])
    assert mixture25_scores(thinned)["modes"] == 24
    with pytest.raises(MetricsError, match="points of shape \\(N, 2\\)"):
        mixture25_scores(np.zeros((3, 3)))
