"""Sample images on disk: writing samples, checking a sample folder, reading images back in batches.

Samples are quantised exactly as torchvision.utils.save_image does (x in [0, 1] -> floor(255 x + 0.5)),
always as 3-channel RGB (save_image turns a 1-channel image into RGB). They are stored as lossless
PNG, or as JPEG at PIL's default quality 75: what the official DDGAN code wrote before computing FID.
"""
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ddgan.metrics.errors import MetricsError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
JPEG_EXTENSIONS = (".jpg", ".jpeg")


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Samples in [-1, 1], NCHW -> uint8 NHWC on the CPU with the channels they have, rounded like save_image."""
    x01 = (x.detach().float().cpu() + 1.0) / 2.0
    return x01.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Samples in [-1, 1], NCHW with 1 or 3 channels -> uint8 RGB images NHWC, rounded like save_image."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise MetricsError(f"samples must be image batches of shape (N, 1 or 3, H, W); got {tuple(x.shape)}")
    return quantize(x).expand(-1, -1, -1, 3).numpy()


def write_images(images: np.ndarray, folder: Path, start_index: int, extension: str) -> None:
    """Write uint8 NHWC images as {index:06d}{extension}; PIL saves .jpg at its default quality 75."""
    for offset, image in enumerate(images):
        Image.fromarray(image).save(Path(folder) / f"{start_index + offset:06d}{extension}")


def fresh_folder(parent: Path, name: str) -> Path:
    """A new empty folder; refusing an existing one means stale files are never counted as samples."""
    folder = Path(parent) / name
    if folder.exists() and any(folder.iterdir()):
        raise MetricsError(f"{folder} already holds files; samples are only written into a fresh folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def list_sample_images(folder, n_expected: int | None = None) -> tuple[list[Path], tuple[int, int]]:
    """The image files of a sample folder, sorted, and their common (width, height).

    The folder must hold images of one size and nothing else, and exactly n_expected of them when
    n_expected is given: a stray file or a stale sample would silently change the metric.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MetricsError(f"sample folder {folder} does not exist or is not a folder")
    entries = sorted(folder.iterdir())
    if not entries:
        raise MetricsError(f"sample folder {folder} is empty: write the samples there first")
    others = [e.name for e in entries if not (e.is_file() and e.suffix.lower() in IMAGE_EXTENSIONS)]
    if others:
        raise MetricsError(
            f"sample folder {folder} holds {len(others)} entries that are not image files "
            f"({', '.join(others[:5])}{', ...' if len(others) > 5 else ''}); "
            f"it must hold only the samples ({', '.join(IMAGE_EXTENSIONS)})")
    if n_expected is not None and len(entries) != n_expected:
        raise MetricsError(
            f"sample folder {folder} holds {len(entries)} images but {n_expected} were asked for; "
            f"pass a folder with exactly that many samples or set the number of samples to {len(entries)}")
    sizes = {}
    for path in entries:
        try:
            with Image.open(path) as image:
                sizes.setdefault(image.size, path.name)
        except (UnidentifiedImageError, OSError) as error:
            raise MetricsError(f"{path} is not a readable image ({error}); remove or replace it") from error
    if len(sizes) > 1:
        examples = ", ".join(f"{name} is {w}x{h}" for (w, h), name in sizes.items())
        raise MetricsError(f"sample folder {folder} mixes image sizes ({examples}); all samples must have one size")
    return entries, next(iter(sizes))


def read_images(files) -> np.ndarray:
    """uint8 RGB images NHWC (grey images are repeated over three channels, as clean-fid reads them)."""
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])


def iterate_image_batches(files, batch_size: int):
    """Yield uint8 NHWC batches of the given image files, in order."""
    for start in range(0, len(files), batch_size):
        yield read_images(files[start:start + batch_size])


def resize_bilinear_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of NCHW images as TF 1.x tf.image.resize_bilinear (align_corners=False).

    TF 1.x maps output pixel i to input coordinate i * in/out, without the half-pixel offset of
    torch's interpolate, so the TF-GAN Inception Score and TF VGG features saw slightly shifted images.
    """
    def axis_weights(n_in):
        coordinate = torch.arange(size, dtype=torch.float64, device=x.device) * (n_in / size)
        low = coordinate.floor().long().clamp(max=n_in - 1)
        high = (low + 1).clamp(max=n_in - 1)
        return low, high, (coordinate - low).to(x.dtype)

    top, bottom, wy = axis_weights(x.shape[2])
    left, right, wx = axis_weights(x.shape[3])
    rows = x[:, :, top] * (1 - wy)[:, None] + x[:, :, bottom] * wy[:, None]
    return rows[..., left] * (1 - wx) + rows[..., right] * wx
