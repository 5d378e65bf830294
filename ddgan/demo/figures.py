"""Figures of the demo: samples over the true modes, sample grids, and the trilemma chart."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from ddgan.datasets.toy import MIXTURE25_CENTRES, MIXTURE25_SCALE  # noqa: E402


def panel_grid(n, width=3.0):
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, width * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def mixture25_scatter(samples_by_method, path):
    """One panel per method: its samples (grey) over the 25 true centres (red)."""
    fig, axes = panel_grid(len(samples_by_method))
    for ax, (label, samples) in zip(axes, samples_by_method.items()):
        points = samples * MIXTURE25_SCALE
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.3, color="0.3", rasterized=True)
        ax.scatter(MIXTURE25_CENTRES[:, 0], MIXTURE25_CENTRES[:, 1], s=12, color="red", marker="x")
        ax.set(xlim=(-5.5, 5.5), ylim=(-5.5, 5.5), aspect="equal", xticks=[], yticks=[])
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def image_grid(images, cols=8):
    """(N, C, H, W) in [-1, 1] -> one (rows*H, cols*W, C) image in [0, 1] with 1-pixel gaps."""
    n, c, h, w = images.shape
    rows = math.ceil(n / cols)
    grid = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1, c))
    for i, image in enumerate(images):
        r, q = divmod(i, cols)
        grid[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = (image.transpose(1, 2, 0) + 1) / 2
    return np.clip(grid, 0, 1)


def sample_grids(samples_by_method, path):
    """One panel per method: a grid of its stacked-digit samples (each channel one digit)."""
    fig, axes = panel_grid(len(samples_by_method))
    for ax, (label, samples) in zip(axes, samples_by_method.items()):
        ax.imshow(image_grid(samples[:64]), interpolation="nearest")
        ax.set(xticks=[], yticks=[])
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def trilemma_chart(rows_by_dataset, path):
    """Quality and coverage against NFE (log scale), one column per dataset."""
    measures = [("high_quality", "high-quality fraction (25-Gaussians)"), ("modes", "modes covered"),
                ("kl", "KL(mode histogram || uniform)")]
    fig, axes = plt.subplots(len(measures), len(rows_by_dataset), figsize=(5.5 * len(rows_by_dataset), 9),
                             squeeze=False)
    for col, (dataset, rows) in enumerate(rows_by_dataset.items()):
        rows = [r for r in rows if r["nfe"] > 0]
        for row_index, (key, title) in enumerate(measures):
            ax = axes[row_index, col]
            present = [r for r in rows if r.get(key) is not None]
            if not present:
                ax.axis("off")
                continue
            for r in present:
                colour = "C3" if r["method"].startswith("DDGAN") else "C0"
                ax.scatter(r["nfe"], r[key], color=colour, s=30)
                ax.annotate(r["method"], (r["nfe"], r[key]), fontsize=7, xytext=(4, 3), textcoords="offset points")
            ax.set_xscale("log")
            ax.set(xlabel="network evaluations per sample (NFE)", ylabel=key)
            ax.set_title(f"{dataset}: {title}", fontsize=9)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
