"""Fréchet Inception Distance (Heusel et al. 2017) through clean-fid, under two named protocols.

    FID = ||mu_r - mu_g||^2 + Tr(Sigma_r + Sigma_g - 2 (Sigma_r Sigma_g)^(1/2))

with mu, Sigma the mean and covariance of Inception pool3 features of real (r) and generated (g) images.

Protocols (every result names its protocol):
- "clean": samples stored as PNG; clean-fid mode "clean" (PIL bicubic resize to 299x299 on floats).
- "paper": the official DDGAN evaluation: samples stored as JPEG by torchvision's save_image (PIL
  quality 75) and read back; clean-fid mode "legacy_pytorch" (pytorch-fid's bilinear resize).
Reference statistics always come from the training images as they are, under the same mode.
"""
import os
from pathlib import Path

import numpy as np
import torch
from cleanfid.fid import frechet_distance as cleanfid_frechet_distance
from cleanfid.fid import get_batch_features, get_files_features
from cleanfid.resize import build_resizer
from tqdm import tqdm

from ddgan.metrics.errors import MetricsError
from ddgan.metrics.images import JPEG_EXTENSIONS, read_images, write_images
from ddgan.metrics.inception import CLEANFID_MODES, FeatureExtractor
from ddgan.metrics.reference import DEFAULT_CACHE_DIR, Reference, cached_or_computed

PROTOCOLS = tuple(CLEANFID_MODES)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as clean-fid computes it."""
    return float(cleanfid_frechet_distance(mu1, sigma1, mu2, sigma2))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features (N, D)."""
    if len(features) < 2:
        raise MetricsError(f"FID statistics need at least 2 images; got {len(features)}")
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


def file_features(files, protocol: str, extractor: FeatureExtractor, batch_size: int = 100,
                  num_workers: int = 0, device="cpu") -> np.ndarray:
    """Inception features of image files, read and resized by clean-fid in the protocol's mode."""
    return get_files_features([str(f) for f in files], extractor, num_workers=num_workers, batch_size=batch_size,
                              device=torch.device(device), mode=CLEANFID_MODES[protocol],
                              description=f"FID features ({protocol})")


def array_features(batches, protocol: str, extractor: FeatureExtractor, device="cpu", total=None) -> np.ndarray:
    """Inception features of uint8 RGB NHWC batches, resized exactly as clean-fid resizes image files."""
    resize = build_resizer(CLEANFID_MODES[protocol])
    features = []
    for batch in tqdm(batches, total=total, desc=f"FID features ({protocol})"):
        resized = np.stack([resize(image) for image in batch]).astype(np.float32)
        features.append(get_batch_features(torch.from_numpy(resized).permute(0, 3, 1, 2), extractor,
                                           torch.device(device)))
    return np.concatenate(features)


def reference_features(reference: Reference, protocol: str, extractor: FeatureExtractor, batch_size: int = 100,
                       num_workers: int = 0, device="cpu") -> np.ndarray:
    if reference.is_points:
        raise MetricsError(f"FID needs images; the reference {reference.description} holds points")
    if reference.files is not None:
        return file_features(reference.files, protocol, extractor, batch_size, num_workers, device)
    total = -(-len(reference) // batch_size)
    return array_features(reference.image_batches(batch_size), protocol, extractor, device, total)


def paper_sample_files(files, folder: Path) -> list[Path]:
    """The samples after the official code's JPEG round trip: lossless files are re-saved as JPEG
    (quality 75) into folder; files that already are JPEG went through it and are used as they are."""
    converted = []
    for index, path in enumerate(tqdm(files, desc="JPEG round trip")):
        if Path(path).suffix.lower() in JPEG_EXTENSIONS:
            converted.append(Path(path))
        else:
            write_images(read_images([path]), folder, index, ".jpg")
            converted.append(Path(folder) / f"{index:06d}.jpg")
    return converted


def load_statistics_file(path) -> tuple[np.ndarray, np.ndarray] | None:
    """(mu, sigma) if path is an .npz of FID statistics, else None."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).endswith(".npz") or not Path(path).is_file():
        return None
    with np.load(path) as archive:
        if {"mu", "sigma"} <= set(archive.files):
            return archive["mu"], archive["sigma"]
    return None


def reference_statistics(dataset: str, protocol: str, extractor: FeatureExtractor, reference=None,
                         cache_dir=DEFAULT_CACHE_DIR, batch_size: int = 100, num_workers: int = 0,
                         device="cpu") -> tuple[np.ndarray, np.ndarray, dict]:
    """FID statistics of the training set, from the cache when its key matches, else computed and cached.

    reference: the prepared training images (see ddgan.metrics.reference), or an .npz holding mu and
    sigma, or None to use the one cached entry for this dataset, protocol and feature weights.
    """
    if reference is not None and (statistics := load_statistics_file(reference)) is not None:
        return *statistics, {"source": str(reference)}

    def compute(data: Reference) -> dict:
        mu, sigma = feature_statistics(reference_features(data, protocol, extractor, batch_size, num_workers, device))
        return {"mu": mu, "sigma": sigma}

    hint = (f"Make the reference FID statistics of {dataset!r} once from the prepared training set: "
            f"ddgan eval ... --reference PATH (a folder of images, .npy or .npz), or in Python "
            f"ddgan.metrics.fid.reference_statistics({dataset!r}, {protocol!r}, extractor, reference=PATH)")
    key = {"dataset": dataset, "kind": "fid_stats", "protocol": protocol, "feature_weights": extractor.weights}
    arrays, info = cached_or_computed(cache_dir, key, reference, compute, hint)
    return arrays["mu"], arrays["sigma"], info
