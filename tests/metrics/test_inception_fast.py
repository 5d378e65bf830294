"""The fast FID path on real photographs: the eager Inception against the TorchScript file and
clean-fid's pipeline, and the eigenvalue Fréchet distance against clean-fid's sqrtm.

Real images: 32x32 crops of the two photographs scikit-learn ships (load_sample_images), offline.
"""
import numpy as np
import pytest
import torch
from cleanfid.fid import frechet_distance as cleanfid_frechet_distance
from cleanfid.fid import get_files_features
from sklearn.datasets import load_sample_images

from ddgan.metrics import fid
from ddgan.metrics.images import write_images
from ddgan.metrics.inception import CLEANFID_MODES, INPUT_SCALINGS, load_fid_extractor, load_fid_torchscript
from ddgan.metrics.reference import load_reference
from ddgan.metrics.tf_inception import EagerTFInception

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")


def photo_crops(n_per_photo: int, size: int = 32) -> np.ndarray:
    """uint8 (2 n, size, size, 3): crops on a regular grid of china.jpg, then of flower.jpg."""
    crops = []
    for photo in load_sample_images().images:
        rows, cols = photo.shape[0] // size, photo.shape[1] // size
        cells = np.linspace(0, rows * cols - 1, n_per_photo).astype(int)
        crops += [photo[r * size:(r + 1) * size, c * size:(c + 1) * size] for r, c in zip(*np.divmod(cells, cols))]
    return np.stack(crops)


def relative_error(ours, theirs) -> float:
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


@pytest.fixture(scope="module")
def scripted():
    return load_fid_torchscript()


@pytest.fixture(scope="module")
def eager(scripted):
    return EagerTFInception(scripted).eval()


@pytest.mark.parametrize("protocol", ["clean", "paper"])
def test_fast_features_equal_todays_clean_fid_pipeline_on_photos(tmp_path, scripted, protocol):
    """ddgan's pipeline (eager network, threaded resizing) against what it replaced: clean-fid's
    get_files_features around the TorchScript network, on the same PNG files."""
    crops = photo_crops(3)
    write_images(crops, tmp_path, 0, ".png")
    files = sorted(tmp_path.iterdir())
    scale = INPUT_SCALINGS[protocol]
    with torch.no_grad():
        today = get_files_features([str(f) for f in files], lambda x: scripted(scale(x)), num_workers=0, batch_size=4,
                                   device=torch.device("cpu"), mode=CLEANFID_MODES[protocol], verbose=False)
    fast = load_fid_extractor(protocol, "offline")
    from_files = fid.file_features(files, protocol, fast, batch_size=4, num_workers=2)
    from_array = fid.reference_features(load_reference(crops), protocol, fast, batch_size=5)
    assert from_files.shape == (6, 2048) and today.max() > 0.5
    assert relative_error(from_files, today) < 1e-5
    np.testing.assert_array_equal(from_array, from_files)   # same resized inputs, whatever the batching


def test_eager_network_equals_torchscript_on_a_batch_and_alone(scripted, eager):
    """Per image and in a batch: the folding of batch norms and channels_last change rounding only."""
    x = torch.from_numpy(photo_crops(1).astype(np.float32)).permute(0, 3, 1, 2)
    x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) / 127.5 - 1
    with torch.no_grad():
        reference = scripted(x).numpy()
    batched = eager(x).numpy()
    alone = eager(x[1:2]).numpy()
    assert relative_error(batched, reference) < 1e-5
    assert relative_error(alone[0], reference[1]) < 1e-5


@pytest.fixture(scope="module")
def photo_activations(eager):
    """Real Inception activations of 16 crops of each photo, first 256 channels: pool3 features
    (16 per photo, so their covariances are singular) and the 8x8 positions of the last block that
    pool3 averages (16 x 64 per photo, full-rank covariances)."""
    x = torch.from_numpy(photo_crops(16)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        spatial = eager.layers[:-1](INPUT_SCALINGS["paper"](x).contiguous(memory_format=torch.channels_last))
    spatial = spatial[:, :256].double().numpy()
    pooled = spatial.mean(axis=(2, 3))
    per_position = spatial.transpose(0, 2, 3, 1).reshape(2, -1, 256)
    return pooled[:16], pooled[16:], per_position[0], per_position[1]


@pytest.mark.parametrize("kind", ["pool3, singular covariances", "positions, full rank",
                                  "singular against full rank", "rank 199 against full rank"])
def test_frechet_distance_equals_clean_fid_on_real_inception_statistics(photo_activations, kind):
    """Every path of the eigenvalue computation: both covariances singular (pivoted factor), both full
    rank (Cholesky factor, triangular products), one of low rank (its pivoted factor), one of rank above
    half the dimension (the other's Cholesky factor)."""
    china_pooled, flower_pooled, china_positions, flower_positions = photo_activations
    china, flower, ranks = {"pool3, singular covariances": (china_pooled, flower_pooled, (15, 15)),
                            "positions, full rank": (china_positions, flower_positions, (256, 256)),
                            "singular against full rank": (china_pooled, flower_positions, (15, 256)),
                            "rank 199 against full rank": (china_positions[::5][:200], flower_positions,
                                                           (199, 256))}[kind]
    stats_china, stats_flower = fid.feature_statistics(china), fid.feature_statistics(flower)
    assert (np.linalg.matrix_rank(stats_china[1]), np.linalg.matrix_rank(stats_flower[1])) == ranks
    for a, b in ((stats_china, stats_flower), (stats_flower, stats_china), (stats_china, stats_china)):
        theirs = float(cleanfid_frechet_distance(*a, *b))
        ours = fid.frechet_distance(*a, *b)
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-6 * abs(float(np.trace(a[1]))))
    assert fid.frechet_distance(*stats_china, *stats_flower) > 10 * abs(fid.frechet_distance(*stats_china,
                                                                                            *stats_china))


def test_frechet_distance_rejects_broken_statistics():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(fid.MetricsError, match="NaN or inf"):
        fid.frechet_distance(mu, sigma * np.nan, mu, sigma)
    with pytest.raises(fid.MetricsError, match="do not match"):
        fid.frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(fid.MetricsError, match="not covariance matrices"):
        fid.frechet_distance(mu, sigma, mu, -sigma)
