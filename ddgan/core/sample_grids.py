"""Pictures of a fixed sample batch while training: an image grid, or a scatter over the true centres.

The batch is drawn from one seeded generator each time (the same x_T and z at every step), so the
frames in <run_dir>/samples/ show one set of samples evolving rather than new random draws.
"""
import math
from pathlib import Path

import numpy as np
from PIL import Image

from ddgan.datasets import toy
from ddgan.datasets.specs import dataset_kind
from ddgan.metrics.images import to_uint8

GRID_IMAGES = 64            # 8 x 8 images up to 64 px; 4 x 4 above (a 256 px grid of 64 is ~6 MB a frame)
GRID_IMAGES_LARGE = 16
LEGIBLE_PIXELS = 64         # small images are upscaled (nearest) to at least this many pixels a side
SCATTER_POINTS = 2000       # a 2-D frame needs many points to show where the mass is
GRID_GAP = 2                # pixels between the images of a grid, and around them


def grid_sample_count(data_shape):
    if len(data_shape) != 3:
        return SCATTER_POINTS
    return GRID_IMAGES if max(data_shape[1:]) <= LEGIBLE_PIXELS else GRID_IMAGES_LARGE


def known_modes(data_config):
    """(centres, std) of toy data with known modes, in training units, else None."""
    if dataset_kind(data_config["dataset"]) != "points":
        return None
    scale = toy.mixture25_scale(data_config)
    return toy.MIXTURE25_CENTRES / scale, toy.MIXTURE25_STD / scale


def tile(images, columns, *, rows=None, scale=1, gap=GRID_GAP, fill=0, border=True):
    """Images (N, H, W) or (N, H, W, C) as one array of `rows` x `columns` cells (rows: as many as N fills), each
    image enlarged `scale` times (nearest), `gap` pixels of `fill` between them and, with `border`, around them."""
    images = np.asarray(images)
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = images.shape[1:3]
    rows = math.ceil(len(images) / columns) if rows is None else rows
    outer = gap if border else 0
    canvas = np.full((rows * (h + gap) - gap + 2 * outer, columns * (w + gap) - gap + 2 * outer) + images.shape[3:],
                     fill, dtype=images.dtype)
    for index, image in enumerate(images[:rows * columns]):
        row, column = divmod(index, columns)
        top, left = outer + row * (h + gap), outer + column * (w + gap)
        canvas[top:top + h, left:left + w] = image
    return canvas


def upscale_factor(image_size):
    """The integer factor that enlarges images of (height, width) to at least LEGIBLE_PIXELS a side."""
    return max(1, math.ceil(LEGIBLE_PIXELS / max(image_size)))


def grid_columns(count):
    return math.ceil(math.sqrt(count))


def save_image_grid(x, path):
    """Samples in [-1, 1], NCHW -> one RGB PNG grid, square-ish, mid-grey gaps, small images upscaled by an
    integer factor."""
    images = to_uint8(x)      # rounded as torchvision's save_image rounds
    grid = tile(images, grid_columns(len(images)), scale=upscale_factor(x.shape[-2:]), fill=128)
    Image.fromarray(grid).save(path)


def save_scatter(points, path, modes=None, title=None):
    """2-D points as a scatter; known modes drawn beneath as red rings of 3 std (the high-quality region)."""
    import matplotlib
    matplotlib.use("Agg")            # no display on training machines
    import matplotlib.pyplot as plt

    points = np.asarray(points, dtype=np.float64)
    figure, axes = plt.subplots(figsize=(4, 4), dpi=100)
    if modes is not None:
        centres, std = modes
        for centre in centres:
            axes.add_patch(plt.Circle(centre, 3 * std, fill=False, color="red", linewidth=0.8))
        reach = 1.25 * np.abs(centres).max()
        axes.set_xlim(-reach, reach)
        axes.set_ylim(-reach, reach)
    axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="black", linewidths=0)
    axes.set_aspect("equal")
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def save_sample_picture(x, path, data_config, title=None):
    """An image grid for images (N, C, H, W), a scatter for 2-D points (N, 2)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if x.ndim == 4:
        save_image_grid(x, path)
    elif x.ndim == 2 and x.shape[1] == 2:
        save_scatter(x.float().cpu().numpy(), path, known_modes(data_config), title)
    else:
        raise ValueError(f"no sample picture for samples of shape {tuple(x.shape)}: expected images or 2-D points")
