"""Reference data (the prepared training set) and the cache of what ddgan computes from it.

A reference source is an image folder, a .npy file, an .npz file ("data.npz" holding one array, or
"data.npz:key"), or an array in memory. Images are uint8 arrays (N, H, W), (N, H, W, C) or
(N, C, H, W) with C in {1, 3}; a 2-D float array (N, D) holds points of a low-dimensional dataset.

FID statistics and precision/recall features computed from a reference are cached as .npz with a
JSON sidecar, keyed by a hash of the data, the kind of result, the protocol and the network weights;
a later evaluation reuses them whenever that key matches.
"""
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ddgan.base.provenance import json_digest, now
from ddgan.metrics.errors import MetricsError
from ddgan.metrics.images import list_sample_images, read_images

DEFAULT_CACHE_DIR = Path(os.environ.get("DDGAN_CACHE", Path.home() / ".cache" / "ddgan")) / "reference"


@dataclass
class Reference:
    """Reference data: image files, or an array of images (any layout above) or of points."""
    description: str
    files: list | None = None
    array: np.ndarray | None = None
    _sha256: str | None = field(default=None, repr=False)

    @property
    def is_points(self) -> bool:
        return self.array is not None and self.array.ndim == 2

    def __len__(self) -> int:
        return len(self.files) if self.files is not None else len(self.array)

    def image_batches(self, batch_size: int):
        """uint8 RGB NHWC batches of the reference images, in order."""
        for start in range(0, len(self), batch_size):
            if self.files is not None:
                yield read_images(self.files[start:start + batch_size])
            else:
                yield as_rgb_nhwc(np.asarray(self.array[start:start + batch_size]))

    def fingerprint(self) -> str:
        """sha256 of the data: file names and bytes of a folder, or dtype, shape and bytes of an array."""
        if self._sha256 is None:
            self._sha256 = self.compute_sha256()
        return self._sha256

    def compute_sha256(self) -> str:
        digest = hashlib.sha256()
        if self.files is not None:
            for path in self.files:
                digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes())
        else:
            digest.update(f"{self.array.dtype.str}{self.array.shape}".encode())
            for start in range(0, len(self.array), 1024):
                digest.update(np.ascontiguousarray(self.array[start:start + 1024]).tobytes())
        return digest.hexdigest()


def as_rgb_nhwc(images: np.ndarray) -> np.ndarray:
    """uint8 images in any supported layout -> uint8 RGB NHWC (grey repeated, as clean-fid reads it)."""
    if images.ndim == 3:
        images = images[..., None]
    elif images.shape[-1] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def check_array(array: np.ndarray, description: str) -> np.ndarray:
    if array.ndim == 2 and np.issubdtype(array.dtype, np.floating):
        return array
    image_layout = array.ndim == 3 or (array.ndim == 4 and (array.shape[-1] in (1, 3) or array.shape[1] in (1, 3)))
    if not image_layout:
        raise MetricsError(f"reference {description} has shape {array.shape}: expected images (N, H, W), "
                           f"(N, H, W, C) or (N, C, H, W) with C in {{1, 3}}, or float points (N, D)")
    if array.dtype != np.uint8:
        raise MetricsError(f"reference images {description} are {array.dtype}: give uint8 pixels in [0, 255] "
                           f"(from [-1, 1] floats: ddgan.metrics.images.to_uint8)")
    return array


def load_reference(source) -> Reference:
    """Open a reference source (see the module docstring) without reading all of it into memory."""
    if isinstance(source, Reference):
        return source
    if isinstance(source, np.ndarray):
        return Reference("array in memory", array=check_array(source, "array"))
    path_text = str(source)
    key = None
    if ".npz:" in path_text:
        path_text, key = path_text.rsplit(":", 1)
    path = Path(path_text)
    if path.is_dir():
        files, _ = list_sample_images(path)
        return Reference(str(path), files=files)
    if not path.is_file():
        raise MetricsError(f"reference {path} does not exist: give the prepared training set as a folder of "
                           f"images, a .npy, or a .npz file")
    if path.suffix == ".npy":
        return Reference(str(path), array=check_array(np.load(path, mmap_mode="r"), str(path)))
    if path.suffix == ".npz":
        archive = np.load(path)
        if key is None and {"mu", "sigma"} <= set(archive.files):
            raise MetricsError(f"{path} holds FID statistics, not data: it serves FID only; give the prepared "
                               f"training images for anything else")
        if key is None and len(archive.files) != 1:
            raise MetricsError(f"{path} holds arrays {archive.files}: name one as {path}:KEY")
        if key is not None and key not in archive.files:
            raise MetricsError(f"{path} has no array {key!r}; it holds {archive.files}")
        name = key or archive.files[0]
        return Reference(f"{path}:{name}", array=check_array(archive[name], f"{path}:{name}"))
    raise MetricsError(f"reference {path} is neither a folder, a .npy nor a .npz file")


def cache_entries(cache_dir) -> list[tuple[Path, dict]]:
    return [(path.with_suffix(".npz"), json.loads(path.read_text()))
            for path in sorted(Path(cache_dir).glob("*.json")) if path.with_suffix(".npz").is_file()]


def find_cached(cache_dir, **key) -> tuple[Path, dict] | None:
    """The cached entry whose sidecar matches every given field, if any; several matches are an error."""
    matches = [(path, meta) for path, meta in cache_entries(cache_dir)
               if all(meta.get(name) == value for name, value in key.items())]
    if len(matches) > 1:
        raise MetricsError(f"several cached references match {key} in {cache_dir} "
                           f"({', '.join(p.name for p, _ in matches)}): pass the reference data to choose")
    return matches[0] if matches else None


def store_cached(cache_dir, arrays: dict, key: dict, **info) -> Path:
    """Write arrays as npz with a JSON sidecar holding key and info, named by a hash of the key."""
    path = Path(cache_dir) / f"{key['dataset']}-{key['kind']}-{json_digest(key, length=16)}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    sidecar = dict(key, **info, created=now())
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return path


def cached_or_computed(cache_dir, key: dict, reference, compute, missing_hint: str) -> tuple[dict, dict]:
    """Arrays cached under key (plus the data's hash when a reference is given), else compute(reference)
    -> dict of arrays, stored for next time. Without a reference the one entry matching key is used."""
    if reference is None:
        cached = find_cached(cache_dir, **key)
        if cached is None:
            raise MetricsError(f"nothing cached for {key} in {cache_dir}. {missing_hint}")
    else:
        reference = load_reference(reference)
        key = dict(key, data_sha256=reference.fingerprint())
        cached = find_cached(cache_dir, **key)
        if cached is None:
            store_cached(cache_dir, compute(reference), key, source=reference.description, n=len(reference))
            cached = find_cached(cache_dir, **key)
    path, info = cached
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}, dict(info, path=str(path))
