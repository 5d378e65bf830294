"""Figures of the demo: samples over the true modes, sample grids, and the trilemma chart."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from ddgan.core.sample_grids import tile  # noqa: E402
from ddgan.datasets.specs import dataset_kind  # noqa: E402
from ddgan.datasets.toy import MIXTURE25_CENTRES, MIXTURE25_STD  # noqa: E402
from ddgan.metrics.mode_coverage import HIGH_QUALITY_STDS  # noqa: E402

GRID_LIMIT = 5.5        # the 25-Gaussians' axes: centres at -4..4
DIGIT_UPSCALE = 4       # 8x8 digits drawn as 32x32 blocks of pixels (nearest)
DIGIT_SAMPLES_SHOWN = 24  # per method: 8 rows of 3 samples, 3 digits each
DIGIT_GAP, SAMPLE_GAP, SEPARATOR_GREY = 2, 4, 0.5   # pixels of the upscaled figure; the separators' grey


def panel_grid(n, width=3.0, aspect=1.0):
    """Up to 4 panels per row, each `width` inches wide and `aspect` times as tall."""
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, width * aspect * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def draw_mixture25(ax, points, title):
    """Points (original units) in grey; red circles of radius 3 std around the 25 true centres mark
    where a sample counts as of high quality."""
    ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.3, color="0.2", rasterized=True, zorder=1)
    for centre in MIXTURE25_CENTRES:
        ax.add_patch(Circle(centre, HIGH_QUALITY_STDS * MIXTURE25_STD, fill=False, color="red", lw=0.6, zorder=2))
    ax.set(xlim=(-GRID_LIMIT, GRID_LIMIT), ylim=(-GRID_LIMIT, GRID_LIMIT), aspect="equal", xticks=[], yticks=[])
    ax.set_title(title, fontsize=9)


def mixture25_figure(points, path, title):
    """One scatter of 25-Gaussian points (original units) over the true centres."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    draw_mixture25(ax, np.asarray(points)[:, :2], title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mixture25_scatter(samples_by_method, path):
    """One panel per method: its samples (original units) over the 25 true centres."""
    fig, axes = panel_grid(len(samples_by_method))
    for ax, (label, points) in zip(axes, samples_by_method.items()):
        draw_mixture25(ax, points, label)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def digit_triples(images, cols=3, upscale=DIGIT_UPSCALE):
    """(N, 3, H, W) stacked digits in [-1, 1] -> one grey image in [0, 1]: each sample's three channels
    (its three digits) side by side in grey, each pixel repeated u x u times (nearest). Drawn as RGB
    the three digits overlap and cannot be read. The digits of a sample are parted by DIGIT_GAP black
    pixels, samples by SAMPLE_GAP mid-grey ones, so no digit runs into its neighbour."""
    grey = np.clip((images + 1) / 2, 0, 1).astype(np.float64)
    triples = [tile(digits, len(digits), scale=upscale, gap=DIGIT_GAP, fill=0.0, border=False) for digits in grey]
    return tile(triples, cols, gap=SAMPLE_GAP, fill=SEPARATOR_GREY, border=False)


def sample_grids(samples_by_method, path, n=DIGIT_SAMPLES_SHOWN):
    """One panel per method: its first n stacked-digit samples, each as its three digits in grey."""
    fig, axes = panel_grid(len(samples_by_method), width=3.4, aspect=0.95)
    for ax, (label, samples) in zip(axes, samples_by_method.items()):
        ax.imshow(digit_triples(samples[:n]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set(xticks=[], yticks=[])
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def place_labels(ax, points, labels, colour="black", placed=None):
    """Annotate points; a label that would overlap one already placed moves down or up in steps of a line."""
    to_axes = ax.transData + ax.transAxes.inverted()
    width, height = ax.get_window_extent().width, ax.get_window_extent().height   # display pixels
    line = 9 * ax.figure.dpi / 72 / height                                         # one label line, axes units
    placed = [] if placed is None else placed
    for (x, y), label in sorted(zip(points, labels), key=lambda item: (-item[0][1], item[0][0])):
        fx, fy = to_axes.transform((x, y))
        right = fx > 0.65
        w = len(label) * 4.3 * ax.figure.dpi / 72 / width
        left_edge = fx - 0.015 - w if right else fx + 0.015   # clear of the marker itself
        for shift in [0] + [s for k in range(1, 13) for s in (-k, k)]:
            bottom = fy + 0.005 + shift * line
            box = (left_edge, bottom, left_edge + w, bottom + line)
            inside = 0 <= box[1] and box[3] <= 1    # above the axes a label would cover the title
            if inside and not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        placed.append(box)
        ax.annotate(label, (x, y), xytext=(box[0], box[1]), textcoords="axes fraction", fontsize=6.5, color=colour,
                    arrowprops={"arrowstyle": "-", "color": "0.75", "lw": 0.5} if shift else None)
    return placed


def trilemma_panel(ax, rows, x_key, x_label, modes, norm, log_x=False):
    """Coverage (modes) against the dataset's other measure; colour and size grow with NFE."""
    models = [r for r in rows if r["nfe"] > 0 and r.get(x_key) is not None]
    references = [r for r in rows if r["nfe"] == 0 and r.get(x_key) is not None]   # real data, uniform noise
    for r in models:
        ddgan = r["method"].startswith("DDGAN")
        ax.scatter(r[x_key], r["modes"], c=[r["nfe"]], cmap="viridis", norm=norm, s=30 + 25 * math.log10(r["nfe"]),
                   marker="*" if ddgan else "o", edgecolors="black" if ddgan else "none", linewidths=0.6, zorder=3)
    for r in references:
        ax.scatter(r[x_key], r["modes"], color="0.5", marker="s", s=30, zorder=2)
    ax.set(xlabel=x_label, ylabel=f"modes covered (of {modes})", ylim=(-0.06 * modes, 1.1 * modes))
    if log_x:
        ax.set_xscale("log")
        ax.invert_xaxis()
    ax.grid(alpha=0.3)
    placed = marker_boxes(ax, [(r[x_key], r["modes"]) for r in models + references])   # labels avoid markers too
    place_labels(ax, [(r[x_key], r["modes"]) for r in models], [r["method"] for r in models], placed=placed)
    place_labels(ax, [(r[x_key], r["modes"]) for r in references], [r["method"] for r in references], "0.35", placed)


def marker_boxes(ax, points, half_size=0.012):
    """A small square (axes units) around each plotted point, as boxes place_labels keeps clear."""
    to_axes = ax.transData + ax.transAxes.inverted()
    return [(fx - half_size, fy - half_size, fx + half_size, fy + half_size)
            for fx, fy in (to_axes.transform(point) for point in points)]


def trilemma_chart(rows_by_dataset, path):
    """The trilemma in one picture per dataset: quality (or mode balance) vs coverage, colour = NFE."""
    models = [r for rows in rows_by_dataset.values() for r in rows if r["nfe"] > 0]
    norm = LogNorm(vmin=1, vmax=max([r["nfe"] for r in models] + [2]))
    fig, axes = plt.subplots(1, len(rows_by_dataset), figsize=(6.4 * len(rows_by_dataset), 5.4), squeeze=False)
    for ax, (dataset, rows) in zip(axes[0], rows_by_dataset.items()):
        if dataset_kind(dataset) == "points":
            ax.set_xlim(-0.03, 1.05)
            trilemma_panel(ax, rows, "high_quality", "sample quality: fraction within 3 std of a centre", 25, norm)
            ax.set_title("25-Gaussians: the goal is top right (sharp, every mode)\n"
                         "with a dark marker (few network calls)", fontsize=9)
        else:
            trilemma_panel(ax, rows, "kl", "KL(mode histogram || uniform), log scale, reversed (right = balanced)",
                           1000, norm, log_x=True)
            ax.set_title("stacked digits: coverage and balance (no quality measure at 8x8)\n"
                         "the goal is top right with a dark marker", fontsize=9)
    colourbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0].tolist(), shrink=0.85)
    colourbar.set_label("NFE: network evaluations per sample (stars: DDGAN; grey squares: references)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
