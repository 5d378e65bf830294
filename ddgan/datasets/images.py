"""Decoding encoded images (JPEG, PNG, WebP) to uint8 arrays, with the official 256-px geometry.

`resize_shorter_side` and `center_crop` reproduce torchvision's Resize(size) and CenterCrop(size)
on PIL images (the official transforms) without importing torch.
"""

from __future__ import annotations

import io
from functools import partial
from multiprocessing import get_context
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from .archives import ArchiveTree
from .errors import ArchiveError, ImageDataError
from .specs import DatasetSpec
from .splits import SplitSource

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
_DECODE_CHUNK = 512  # images handed to the worker pool at a time (bounds memory)


def resize_shorter_side(image: Image.Image, size: int) -> Image.Image:
    """Scale so the shorter side is `size`, bilinear; PIL's bilinear filter antialiases when shrinking."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    new_width, new_height = (new_short, new_long) if width <= height else (new_long, new_short)
    if (new_width, new_height) == (width, height):
        return image
    return image.resize((new_width, new_height), Image.BILINEAR)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    width, height = image.size
    if width < size or height < size:
        raise ImageDataError(f"cannot center-crop a {width}x{height} image to {size}x{size}")
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def decode_rgb(encoded: bytes, where: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(encoded))
        image.load()
        return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ImageDataError(
            f"cannot decode image {where} ({type(error).__name__}: {error}); the archive is corrupt. "
            "Download it again or pass a correct copy with --archive."
        ) from error


def decode_resized(item: tuple[str, bytes], size: int) -> np.ndarray:
    """Decode, shorter side to `size`, center crop to size x size (LSUN's preparation)."""
    where, encoded = item
    return np.asarray(center_crop(resize_shorter_side(decode_rgb(encoded, where), size), size))


def decode_exact(item: tuple[str, bytes], size: int, allow_resize: bool) -> tuple[np.ndarray, bool]:
    """Decode an image that should already be size x size; returns (array, whether it was resized)."""
    where, encoded = item
    image = decode_rgb(encoded, where)
    if image.size == (size, size):
        return np.asarray(image), False
    if not allow_resize:
        raise ImageDataError(
            f"image {where} is {image.size[0]}x{image.size[1]}, expected {size}x{size}. Use the 256x256 "
            "release of the dataset, or pass --allow-resize to resize (shorter side, bilinear) and "
            "center-crop such images; the manifest then records how many were resized."
        )
    return np.asarray(center_crop(resize_shorter_side(image, size), size)), True


def decode_stream(items: Iterable[tuple[str, bytes]], decode: Callable, workers: int) -> Iterator:
    """`decode` applied to each (name, bytes) item in order, in `workers` processes when > 1."""
    if workers <= 1:
        yield from map(decode, items)
        return
    with get_context().Pool(workers) as pool:
        chunk = []
        for item in items:
            chunk.append(item)
            if len(chunk) == _DECODE_CHUNK:
                yield from pool.map(decode, chunk, chunksize=16)
                chunk = []
        yield from pool.map(decode, chunk, chunksize=16)


def batched(items: Iterable, batch_size: int = 256) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sort_key(name: str):
    stem = PurePosixPath(name).stem
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def read_image_folder(tree: ArchiveTree, spec: DatasetSpec, workdir: Path, *, folder: str,
                      workers: int = 1, allow_resize: bool = False) -> dict[str, SplitSource]:
    """All images under a folder named `folder` (CelebA-HQ: celeba_hq_256/), by numeric file name."""
    names = [n for n in tree.names
             if folder in PurePosixPath(n).parts[:-1] and PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES]
    names.sort(key=_sort_key)
    expected = spec.expected_counts["train"]
    if len(names) != expected:
        raise ArchiveError(
            f"{tree.path} holds {len(names)} images under {folder}/, expected {expected}. "
            f"Expected {spec.layout}; the archive is incomplete or a different dataset."
        )
    size = spec.image_shape[0]
    details = {"folder": folder, "order": "numeric file name", "first": names[0], "last": names[-1],
               "allow_resize": allow_resize}

    def batches() -> Iterator[np.ndarray]:
        items = ((f"{tree.path}:{name}", tree.read(name)) for name in names)
        decode = partial(decode_exact, size=size, allow_resize=allow_resize)
        details["resized_images"] = 0
        for batch in batched(decode_stream(items, decode, workers)):
            images, was_resized = zip(*batch)
            details["resized_images"] += sum(was_resized)
            yield np.stack(images)

    return {"train": SplitSource(len(names), spec.image_shape, None, batches, details)}
