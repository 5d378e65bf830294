"""Your own images as a dataset: a folder of image files, an .npz or an .npy, prepared like the built-in ones.

    ddgan data prepare folder PATH --name NAME --size 32 [--key x_train] [--root DIR] [--force]

PATH is
  - a folder: every .png, .jpg, .jpeg, .webp and .bmp file under it (recursively), in the order of
    their paths relative to PATH (sorted as strings); each is decoded and converted to RGB;
  - an .npy of uint8 images, N x H x W x 3 (or N x H x W, grey, stacked to RGB);
  - an .npz holding such an array: the one named by --key, else its only array, else `x_train`
    or `images` (its other arrays are ignored).
Each image whose size is not SIZE x SIZE is resized so that its shorter side is SIZE (PIL bilinear,
which antialiases when shrinking) and then center-cropped to SIZE x SIZE, the rule the paper's
256-px data follow; an image already SIZE x SIZE is kept byte for byte. A file of a folder that
cannot be decoded stops the preparation, naming it, unless --skip-unreadable leaves such files out.
The output and the manifest (`counts`) say how many images were resized, how many of those were
cropped (not square) and which files were skipped.

The result is <root>/NAME/{manifest.json, train/images.npy}: the layout of the built-in datasets, so
`ddgan train --set data.dataset=NAME` trains on it and `ddgan eval --dataset NAME` finds its
reference images. The manifest records the source path, the sha256 of the .npy/.npz file (or of
the sorted list of `relative path, sha256` of every image file of a folder), the rule above and the
sha256 of the prepared array. Preparing the same source again with the same settings does nothing.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from .archives import file_digest
from .errors import ArchiveError, ImageDataError, PreparedDatasetError
from .images import center_crop, decode_rgb, resize_shorter_side
from .specs import DATASETS
from .splits import SplitSource
from .storage import (FORMAT, MANIFEST, data_root, load_split, read_manifest, remove_stale_staging, staging_directory,
                      write_manifest, write_split)

FOLDER_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
ARRAY_KEYS = ("x_train", "images")          # looked for in an .npz of several arrays, in this order
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
RESIZE_RULE = "shorter side to SIZE (PIL bilinear, antialiased), then center crop SIZE x SIZE; kept if already SIZE x SIZE"
BATCH = 1024


def check_name(name: str) -> None:
    if name in DATASETS:
        raise ArchiveError(f"--name {name!r} is a built-in dataset; choose another name for your images")
    if not NAME_PATTERN.match(name or ""):
        raise ArchiveError(f"--name {name!r} is not a valid dataset name; use lower-case letters, digits, '_', "
                           "'.' and '-', starting with a letter or digit")


def to_size(image: Image.Image, size: int) -> np.ndarray:
    """RGB uint8 (size, size, 3) by the rule RESIZE_RULE."""
    if image.size != (size, size):
        image = center_crop(resize_shorter_side(image, size), size)
    return np.asarray(image, dtype=np.uint8)


# ------------------------------------------------------------------ sources

def folder_files(path: Path) -> list[Path]:
    files = sorted((p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES),
                   key=lambda p: p.relative_to(path).as_posix())
    if not files:
        raise ArchiveError(f"{path} holds no image files ({', '.join(FOLDER_SUFFIXES)}); point PATH at the "
                           "folder that contains your images")
    return files


def image_size(file: Path, skip_unreadable: bool) -> tuple[int, int] | None:
    """(width, height) of an image file decoded completely, or None for an unreadable one when skipping."""
    try:
        with Image.open(file) as image:
            image.load()
            return image.size
    except (OSError, ValueError, SyntaxError) as error:
        if skip_unreadable:
            return None
        raise ImageDataError(f"cannot read the image {file} ({type(error).__name__}: {error}); remove or replace "
                             "it, or pass --skip-unreadable to leave out every file that cannot be read") from error


def resize_counts(sizes, size: int) -> dict:
    """How many images the rule resizes, and how many of those it crops (not square)."""
    resized = [(w, h) for w, h in sizes if (w, h) != (size, size)]
    return {"resized": len(resized), "cropped": sum(w != h for w, h in resized)}


def folder_source(path: Path, size: int, skip_unreadable: bool = False) -> tuple[SplitSource, dict]:
    files = folder_files(path)
    sizes = {file: image_size(file, skip_unreadable) for file in files}
    skipped = [file.relative_to(path).as_posix() for file, wh in sizes.items() if wh is None]
    files = [file for file in files if sizes[file] is not None]
    if not files:
        raise ImageDataError(f"none of the {len(skipped)} image files under {path} can be read")
    listing = hashlib.sha256()
    for file in files:
        listing.update(f"{file.relative_to(path).as_posix()}\t{file_digest(file, progress=False)}\n".encode())

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, len(files), BATCH):
            chunk = files[start:start + BATCH]
            yield np.stack([to_size(decode_rgb(file.read_bytes(), str(file)), size) for file in chunk])

    record = {"kind": "folder", "location": str(path.resolve()), "files": len(files),
              "sha256": listing.hexdigest(), "sha256_of": "sorted 'relative path<TAB>sha256' lines of the image files",
              "counts": {"images": len(files), **resize_counts([sizes[f] for f in files], size), "skipped": len(skipped)},
              "skipped_files": skipped}
    return SplitSource(len(files), (size, size, 3), None, batches, {"order": "relative paths, sorted"}), record


def load_array(path: Path, key: str | None) -> tuple[np.ndarray, str | None]:
    """The image array of an .npy, or of an .npz (by key, its only array, or a key of ARRAY_KEYS)."""
    try:
        if path.suffix.lower() == ".npy":
            if key is not None:
                raise ArchiveError(f"--key applies to .npz files; {path} is an .npy holding one array")
            return np.load(path, mmap_mode="r"), None
        with np.load(path) as arrays:
            keys = list(arrays.files)
            if key is None:
                key = keys[0] if len(keys) == 1 else next((k for k in ARRAY_KEYS if k in keys), None)
            if key not in keys:
                raise ArchiveError(f"{path} holds the arrays {', '.join(keys)}; name the one with the images "
                                   "with --key KEY")
            return arrays[key], key
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, ArchiveError):
            raise
        raise ArchiveError(f"cannot read {path} as a numpy file ({error}); save the images with numpy.save or "
                           "numpy.savez") from error


def array_source(path: Path, size: int, key: str | None) -> tuple[SplitSource, dict]:
    images, key = load_array(path, key)
    if images.ndim == 3:
        images = images[..., None].repeat(3, axis=-1)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or not len(images):
        raise ImageDataError(f"{path}{':' + key if key else ''} holds a {images.dtype} array of shape {images.shape}; "
                             "expected uint8 images N x H x W x 3 (or N x H x W grey)")

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, len(images), BATCH):
            chunk = np.asarray(images[start:start + BATCH])
            if chunk.shape[1:3] == (size, size):
                yield chunk
            else:
                yield np.stack([to_size(Image.fromarray(image), size) for image in chunk])

    height, width = images.shape[1:3]
    record = {"kind": path.suffix.lower().lstrip("."), "location": str(path.resolve()), "key": key,
              "sha256": file_digest(path, progress=False), "source_shape": list(images.shape),
              "counts": {"images": len(images), **resize_counts([(width, height)] * len(images), size), "skipped": 0}}
    return SplitSource(len(images), (size, size, 3), None, batches, {"order": "array order"}), record


def open_source(path: Path, size: int, key: str | None, skip_unreadable: bool = False) -> tuple[SplitSource, dict]:
    if not path.exists():
        raise ArchiveError(f"{path} does not exist; pass a folder of images, an .npy or an .npz")
    if path.is_dir():
        if key is not None:
            raise ArchiveError("--key applies to .npz files; PATH is a folder")
        return folder_source(path, size, skip_unreadable)
    if path.suffix.lower() in (".npy", ".npz"):
        return array_source(path, size, key)
    raise ArchiveError(f"{path} is neither a folder nor an .npy / .npz file; pass a folder of images "
                       f"({', '.join(FOLDER_SUFFIXES)}) or a numpy file")


# ------------------------------------------------------------------ prepare

def prepare_folder(path, name: str, size: int, root=None, *, key: str | None = None, force: bool = False,
                   skip_unreadable: bool = False, progress: bool = True) -> Path:
    """Prepare the images at `path` as dataset `name` (split "train") under root; returns <root>/<name>.
    skip_unreadable: leave out the files of a folder that cannot be decoded (else the first stops it)."""
    check_name(name)
    if not isinstance(size, int) or size < 1:
        raise ArchiveError(f"--size must be a positive number of pixels, got {size!r}")
    path, root = Path(path).expanduser(), data_root(root)
    source, record = open_source(path, size, key, skip_unreadable)
    parameters = {"size": size, "resize": RESIZE_RULE.replace("SIZE", str(size)), "key": record.get("key")}
    target = root / name
    if not force and already_prepared(name, root, parameters, record):
        return target
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(root, name)
    with staging_directory(target) as staging:
        splits = {"train": write_split(staging / "train", source, f"{name}/train", progress)}
        write_manifest(staging, {
            "format": FORMAT, "name": name, "description": f"your images from {record['location']}, {size}x{size} RGB",
            "source": record, "counts": record["counts"], "splits": splits, "preparation": parameters,
            "spec_overrides": {},
            "full_size": True, "notes": [f"resize rule: {parameters['resize']}"],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return target


def already_prepared(name: str, root: Path, parameters: dict, record: dict) -> bool:
    """True when <root>/<name> holds this source prepared with these parameters; raises if it holds another."""
    if not (root / name / MANIFEST).is_file():
        return False
    try:
        manifest = read_manifest(name, root)
        load_split(name, root, "train", manifest)
    except (PreparedDatasetError, KeyError, TypeError):
        return False
    same = (manifest.get("preparation") == parameters and manifest.get("source", {}).get("sha256") == record["sha256"])
    if not same:
        raise PreparedDatasetError(
            f"{root / name} already holds a dataset prepared from {manifest.get('source', {}).get('location')} with "
            f"{manifest.get('preparation')}; pass --force to replace it, or choose another --name")
    return True
