"""The prepared on-disk form, and the only thing training reads.

    <root>/<name>/manifest.json
    <root>/<name>/<split>/images.npy   uint8, N x H x W x C (open with mmap)
    <root>/<name>/<split>/labels.npy   when the dataset has labels

`<root>` is the `root` argument, else $DDGAN_DATA, else ./data. A dataset is written into a
hidden staging folder next to its target and renamed into place only when complete, with the
manifest written last, so a failed or interrupted preparation never leaves a usable-looking copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm.auto import tqdm

from ddgan.base.io import process_alive

from .archives import file_digest
from .errors import ImageDataError, PreparedDatasetError, UnknownDatasetError
from .specs import DATASETS
from .splits import SplitSource

MANIFEST = "manifest.json"
FORMAT = "ddgan-prepared-v1"
_OWNER_FILE = ".owner-pid"


def data_root(root: str | os.PathLike | None = None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get("DDGAN_DATA") or Path.cwd() / "data").expanduser()


@dataclass
class PreparedImages:
    """One split of a prepared dataset: `images` is a read-only memmap (N, H, W, C) uint8."""

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray | None
    manifest: dict
    path: Path

    def __len__(self) -> int:
        return len(self.images)


def _prepare_hint(name: str, root: Path) -> str:
    return f"Run: ddgan data prepare {name} --root {root}   (add --archive PATH to use a file you downloaded)"


def read_manifest(name: str, root: Path) -> dict:
    path = root / name / MANIFEST
    if not path.is_file():
        if name not in DATASETS:
            raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
        raise PreparedDatasetError(f"dataset {name!r} is not prepared under {root} (no {path}). "
                                   + _prepare_hint(name, root))
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise PreparedDatasetError(f"{path} is unreadable ({error}). Re-create the dataset: "
                                   f"ddgan data prepare {name} --root {root} --force") from error
    if manifest.get("format") != FORMAT or manifest.get("name") != name:
        raise PreparedDatasetError(
            f"{path} is not a {FORMAT} manifest for {name!r} (format {manifest.get('format')!r}, name "
            f"{manifest.get('name')!r}). Re-create it: ddgan data prepare {name} --root {root} --force"
        )
    return manifest


def load_split(name: str, root: Path, split: str, manifest: dict) -> PreparedImages:
    """Open one split, checking its files against the manifest's shapes (cheap: headers only)."""
    splits = manifest["splits"]
    if split not in splits:
        raise PreparedDatasetError(f"dataset {name!r} has no split {split!r}; it has {sorted(splits)}")
    entry, folder = splits[split], root / name / split
    fix = f"Re-create it: ddgan data prepare {name} --root {root} --force"
    try:
        images = np.load(folder / "images.npy", mmap_mode="r")
        labels = np.load(folder / "labels.npy") if entry.get("labels_sha256") else None
    except (OSError, ValueError) as error:
        raise PreparedDatasetError(f"prepared files of {name}/{split} are missing or damaged ({error}). {fix}") from error
    if list(images.shape) != entry["shape"] or images.dtype != np.uint8:
        raise PreparedDatasetError(f"{folder / 'images.npy'} has shape {images.shape} ({images.dtype}), "
                                   f"the manifest says {entry['shape']} uint8. {fix}")
    if labels is not None and len(labels) != len(images):
        raise PreparedDatasetError(f"{folder / 'labels.npy'} has {len(labels)} labels for {len(images)} images. {fix}")
    return PreparedImages(name, split, images, labels, manifest, folder)


def open_prepared(name: str, root: str | os.PathLike | None = None, split: str = "train") -> PreparedImages:
    """The prepared images (memmap) and labels of one split; raises with the prepare command if absent."""
    root = data_root(root)
    return load_split(name, root, split, read_manifest(name, root))


def remove_stale_staging(root: Path, name: str) -> list[Path]:
    """Delete staging folders of `name` left by preparations whose process no longer runs."""
    removed = []
    for folder in root.glob(f".{name}.partial-*"):
        try:
            pid = int((folder / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            pid = None
        if pid is None or not process_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextmanager
def staging_directory(target: Path) -> Iterator[Path]:
    """A fresh folder next to `target`; renamed onto it on success, deleted on any failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    os.chmod(staging, 0o777 & ~_current_umask())  # mkdtemp makes it private; the dataset should not be
    (staging / _OWNER_FILE).write_text(str(os.getpid()))
    try:
        yield staging
        (staging / _OWNER_FILE).unlink()
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, old / target.name)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def write_split(folder: Path, source: SplitSource, desc: str, progress: bool = True) -> dict:
    """Stream a split into folder/images.npy (+ labels.npy); returns its manifest entry."""
    folder.mkdir(parents=True)
    shape = (source.count, *source.image_shape)
    images = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8, shape=shape)
    written = 0
    with tqdm(total=source.count, desc=desc, unit="img", disable=not progress) as bar:
        for batch in source.batches():
            if batch.dtype != np.uint8 or batch.shape[1:] != source.image_shape:
                raise ImageDataError(f"{desc}: got a batch of {batch.shape[1:]} {batch.dtype} images, "
                                     f"expected {source.image_shape} uint8")
            if written + len(batch) > source.count:
                raise ImageDataError(f"{desc}: the source yields more than the {source.count} images announced")
            images[written:written + len(batch)] = batch
            written += len(batch)
            bar.update(len(batch))
    if written != source.count:
        raise ImageDataError(f"{desc}: the source yielded {written} images, {source.count} were announced")
    images.flush()
    del images
    entry = {"count": source.count, "shape": list(shape), "dtype": "uint8",
             "images_sha256": file_digest(folder / "images.npy", progress=progress), "labels_sha256": None}
    if source.labels is not None:
        if len(source.labels) != source.count:
            raise ImageDataError(f"{desc}: {len(source.labels)} labels for {source.count} images")
        np.save(folder / "labels.npy", source.labels)
        entry["labels_sha256"] = file_digest(folder / "labels.npy", progress=False)
        entry["labels_dtype"] = str(source.labels.dtype)
    entry["details"] = source.details
    return entry


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")


def verify_prepared(name: str, root: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Re-hash every prepared file and compare with the manifest; returns the manifest when all match."""
    root = data_root(root)
    manifest = read_manifest(name, root)
    for split, entry in manifest["splits"].items():
        load_split(name, root, split, manifest)
        folder = root / name / split
        checks = [("images.npy", entry["images_sha256"])]
        if entry.get("labels_sha256"):
            checks.append(("labels.npy", entry["labels_sha256"]))
        for file_name, expected in checks:
            observed = file_digest(folder / file_name, progress=progress)
            if observed != expected:
                raise PreparedDatasetError(
                    f"{folder / file_name} has sha256 {observed}, the manifest records {expected}: the file "
                    f"changed after preparation. Re-create it: ddgan data prepare {name} --root {root} --force"
                )
    return manifest
