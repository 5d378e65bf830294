"""Improved precision and recall (Kynkäänniemi et al. 2019) on any feature space.

The manifold of a set Phi is the union of closed balls around its points, each ball's radius being
the distance to that point's k-th nearest neighbour among the *other* points of Phi (k = 3):

    precision = mean over generated g of 1[g lies in manifold(Phi_real)]
    recall    = mean over real r      of 1[r lies in manifold(Phi_generated)]

Conventions: a point exactly on a ball's boundary is inside (<=, as the reference code); duplicate
points are distinct neighbours, so a point with k duplicates has radius 0; a set needs more than k
points (k >= n is refused with an error, since a k-th other neighbour does not exist).
Distances are computed in float64 in blocks, so 50k x 50k fits in memory.

Feature spaces: VGG-16 fc2 (after ReLU, 4096-d) for images in the paper's tables, raw coordinates
for 2-D data, the digit classifier's penultimate layer for digits.
"""
from pathlib import Path

import numpy as np
import torch
import torchvision
from tqdm import tqdm

from ddgan.base.provenance import file_sha256
from ddgan.metrics.errors import MetricsError, WeightsUnavailableError
from ddgan.metrics.images import resize_bilinear_tf1

DEFAULT_K = 3
VGG_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2 * a @ b.T).clamp_(min=0)


def as_float64(features, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(features), dtype=torch.float64, device=device)


def knn_radii(features, k: int = DEFAULT_K, block: int = 1024, device="cpu") -> np.ndarray:
    """Distance from each point to its k-th nearest other point."""
    x = as_float64(features, device)
    if k < 1 or k >= len(x):
        raise MetricsError(f"k-NN radii with k={k} need at least k+1={k + 1} feature vectors; got {len(x)}")
    radii = []
    for start in range(0, len(x), block):
        d2 = squared_distances(x[start:start + block], x)
        rows = torch.arange(len(d2), device=device)
        d2[rows, rows + start] = float("inf")  # a point is not its own neighbour
        radii.append(d2.kthvalue(k, dim=1).values.sqrt())
    return torch.cat(radii).cpu().numpy()


def in_manifold(points, centres, radii, block: int = 1024, device="cpu") -> np.ndarray:
    """For each point: does it lie in some closed ball (centre, radius)?"""
    p, c = as_float64(points, device), as_float64(centres, device)
    r2 = as_float64(radii, device).square()
    inside = [(squared_distances(p[start:start + block], c) <= r2[None, :]).any(dim=1)
              for start in range(0, len(p), block)]
    return torch.cat(inside).cpu().numpy()


def precision_recall(real_features, fake_features, k: int = DEFAULT_K, device="cpu") -> tuple[float, float]:
    """Improved precision and recall of generated features against real features."""
    precision = in_manifold(fake_features, real_features, knn_radii(real_features, k, device=device), device=device)
    recall = in_manifold(real_features, fake_features, knn_radii(fake_features, k, device=device), device=device)
    return float(precision.mean()), float(recall.mean())


def load_vgg16_fc(weights_path=None, device="cpu") -> tuple[torch.nn.Module, str]:
    """torchvision's ImageNet VGG-16 (or a state dict at weights_path), cut after fc2 + ReLU."""
    if weights_path is not None:
        network = torchvision.models.vgg16()
        network.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        sha256 = file_sha256(weights_path)
        description = f"VGG-16 {Path(weights_path).name} (sha256 {sha256[:12]}) fc2+ReLU"
    else:
        weights = torchvision.models.VGG16_Weights.IMAGENET1K_V1
        try:
            network = torchvision.models.vgg16(weights=weights)
        except OSError as error:
            raise WeightsUnavailableError(
                f"precision/recall needs torchvision's VGG-16 weights ({weights.url}), which could not be "
                f"downloaded: {error}. Fetch that file on a machine with internet and pass its path "
                f"(vgg_weights=PATH, --vgg-weights PATH) or put it in {torch.hub.get_dir()}/checkpoints") from error
        description = "torchvision VGG16_Weights.IMAGENET1K_V1 fc2+ReLU"
    network.classifier = network.classifier[:5]  # fc1, ReLU, Dropout, fc2, ReLU
    return network.eval().to(device), description


@torch.no_grad()
def vgg16_features(image_batches, network: torch.nn.Module, device="cpu", total=None) -> np.ndarray:
    """fc2 features of uint8 RGB NHWC batches: TF 1.x resize to 224x224, ImageNet normalisation."""
    mean = torch.tensor(IMAGENET_MEAN, device=device)[:, None, None] * 255
    std = torch.tensor(IMAGENET_STD, device=device)[:, None, None] * 255
    features = []
    for batch in tqdm(image_batches, total=total, desc="VGG-16 features"):
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(device).permute(0, 3, 1, 2).float()
        features.append(network((resize_bilinear_tf1(x, VGG_SIZE) - mean) / std).cpu().numpy())
    return np.concatenate(features)
