"""Inception Score (Salimans et al. 2016): IS = exp(E_x KL(p(y|x) || p(y))), p(y) = E_x p(y|x).

Computed as the TF-GAN script of the official DDGAN code does: pixels scaled to [-1, 1], TF 1.x
bilinear resize to 299x299, the TF Inception 2015-12-05 logits (bias included), softmax over the
first 1000 of its 1008 classes. The images are cut into `splits` consecutive parts, the score is
computed on each, and the mean and standard deviation over parts are reported; the paper's number
used one split, the common convention is ten.
"""
import numpy as np
import torch
from scipy.special import xlogy
from tqdm import tqdm

from ddgan.metrics.errors import MetricsError
from ddgan.metrics.images import resize_bilinear_tf1

IMAGENET_CLASSES = 1000
INCEPTION_SIZE = 299


def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Mean and std over `splits` consecutive parts of exp(mean_x sum_y p(y|x) log(p(y|x) / p(y)))."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not 1 <= splits <= len(probabilities):
        raise MetricsError(f"the Inception Score needs 1 <= splits <= number of images; got splits={splits} "
                           f"for {len(probabilities)} images")
    scores = []
    for part in range(splits):
        p = probabilities[part * len(probabilities) // splits:(part + 1) * len(probabilities) // splits]
        p_y = p.mean(axis=0, keepdims=True)
        kl = xlogy(p, p) - xlogy(p, p_y)  # 0 log 0 = 0 where a class has no mass
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


@torch.no_grad()
def class_probabilities(image_batches, network: torch.nn.Module, device="cpu", input_size: int = INCEPTION_SIZE,
                        num_classes: int = IMAGENET_CLASSES, total=None) -> np.ndarray:
    """p(y|x) for uint8 RGB NHWC batches: [-1, 1] pixels, TF 1.x resize, softmax over the first classes."""
    probabilities = []
    for batch in tqdm(image_batches, total=total, desc="Inception Score"):
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        logits = network(resize_bilinear_tf1(x, input_size))[:, :num_classes]
        probabilities.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    return np.concatenate(probabilities)
