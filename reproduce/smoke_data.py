"""Tiny dataset archives in the real download formats, for the smoke profile.

The smoke profile runs every pipeline from archive to comparison table in minutes on a CPU. Its data
are procedural images written exactly as the real downloads are laid out, so `ddgan data prepare
NAME --archive PATH` reads them through the same code path as the real archives:

    cifar10      cifar10-python.zip: cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta} pickles
    mnist        mnist-dataset.zip: train-images.idx3-ubyte, train-labels.idx1-ubyte, t10k-... (IDX)
    celeba_256   celebahq-resized-256x256.zip: celeba_hq_256/00000.jpg ... (256x256 JPEG)
    lsun_church  church_outdoor_train_lmdb.zip: church_outdoor_train_lmdb/data.mdb (LMDB of WebP images
                 of varied sizes, keyed by 40-hex ids, so the resize, crop and "first N keys" paths run)

`SMOKE_COUNTS` gives the images per split; `spec_overrides(name)` gives the matching arguments of
`ddgan.datasets.prepare`, so the manifest of a smoke copy says it is reduced and never passes for
the real dataset.
"""
from __future__ import annotations

import io
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ddgan.datasets import get_spec

# images per split of each smoke archive (LSUN: the archive holds `source`, the first `train` are kept)
SMOKE_COUNTS = {
    "cifar10": {"train": 40, "test": 10},
    "mnist": {"train": 300, "test": 100},
    "celeba_256": {"train": 12},
    "lsun_church": {"train": 12, "source": 14},
}
CIFAR_TRAIN_FILES = 5


def spec_overrides(name: str) -> dict:
    """Keyword arguments of ddgan.datasets.prepare for the smoke copy of `name`."""
    if name == "stackedmnist":   # two permutations of every MNIST training digit
        return {"expected_counts": {"train": 2 * SMOKE_COUNTS["mnist"]["train"]}}
    counts = dict(SMOKE_COUNTS[name])
    overrides = {"expected_counts": {split: counts[split] for split in get_spec(name).splits}}
    if "source" in counts:
        overrides["source_count"] = counts["source"]
    if name == "cifar10":      # the published md5 sums belong to the real batch files
        overrides["member_md5"] = {}
    return overrides


# --- procedural images -----------------------------------------------------------------------

def shape_image(rng: np.random.Generator, label: int, size: int = 32) -> np.ndarray:
    """A gradient background with one filled shape whose colour and kind depend on the label."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    corner_a, corner_b = rng.integers(0, 256, size=(2, 3))
    image = corner_a * (1 - x[..., None]) + corner_b * y[..., None] * x[..., None]
    colour = np.array([(label * 97) % 256, (label * 53 + 80) % 256, (label * 29 + 160) % 256])
    cy, cx = rng.uniform(0.3, 0.7, size=2)
    radius = rng.uniform(0.15, 0.3)
    if label % 2 == 0:
        inside = (y - cy) ** 2 + (x - cx) ** 2 < radius ** 2
    else:
        inside = (abs(y - cy) < radius) & (abs(x - cx) < radius)
    image[inside] = colour
    return image.clip(0, 255).astype(np.uint8)


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random RGB image (bicubic upsampling of 4x4 noise), so JPEG and resizing act as on photos."""
    coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))


def digit_image(rng: np.random.Generator, digit: int, font: ImageFont.FreeTypeFont) -> np.ndarray:
    """A 28x28 white-on-black digit, drawn with a scalable font at a random offset and angle."""
    canvas = Image.new("L", (28, 28))
    offset = rng.integers(-3, 4, size=2)
    ImageDraw.Draw(canvas).text((14 + offset[0], 14 + offset[1]), str(digit), fill=255, font=font,
                                anchor="mm", stroke_width=1, stroke_fill=255)
    return np.asarray(canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR))


def zip_folder(folder: Path, zip_path: Path) -> Path:
    """Zip the files under `folder` with paths relative to it, written to a temporary name first."""
    partial = zip_path.with_name(zip_path.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    partial.replace(zip_path)
    return zip_path


# --- archives ----------------------------------------------------------------------------------

def write_cifar10(folder: Path, rng: np.random.Generator) -> None:
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    per_file = SMOKE_COUNTS["cifar10"]["train"] // CIFAR_TRAIN_FILES
    files = [(f"data_batch_{i}", per_file) for i in range(1, CIFAR_TRAIN_FILES + 1)]
    files.append(("test_batch", SMOKE_COUNTS["cifar10"]["test"]))
    for file_name, count in files:
        labels = [int(v) for v in rng.integers(0, 10, size=count)]
        images = np.stack([shape_image(rng, label) for label in labels])
        rows = images.transpose(0, 3, 1, 2).reshape(count, 3 * 32 * 32)   # 1024 R, then G, then B
        batch = {b"batch_label": file_name.encode(), b"labels": labels, b"data": rows,
                 b"filenames": [f"smoke_{i:05d}.png".encode() for i in range(count)]}
        (batches / file_name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (batches / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format: magic 0x0800 | ndim (unsigned bytes), big-endian dimensions, then the data."""
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True)
    font = ImageFont.load_default(size=20)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        labels = rng.integers(0, 10, size=SMOKE_COUNTS["mnist"][split]).astype(np.uint8)
        images = np.stack([digit_image(rng, int(label), font) for label in labels])
        (folder / f"{prefix}-images.idx3-ubyte").write_bytes(idx_bytes(images))
        (folder / f"{prefix}-labels.idx1-ubyte").write_bytes(idx_bytes(labels))


def write_celeba_256(folder: Path, rng: np.random.Generator) -> None:
    images = folder / "celeba_hq_256"
    images.mkdir(parents=True)
    for index in range(SMOKE_COUNTS["celeba_256"]["train"]):
        Image.fromarray(smooth_image(rng, 256, 256)).save(images / f"{index:05d}.jpg", quality=90)


def write_lsun_church(folder: Path, rng: np.random.Generator) -> None:
    import lmdb

    database = folder / "church_outdoor_train_lmdb"
    database.mkdir(parents=True)
    sizes = [(300, 260), (260, 341), (256, 256), (411, 300)]
    env = lmdb.open(str(database), map_size=64 << 20)
    with env.begin(write=True) as transaction:
        for index in range(SMOKE_COUNTS["lsun_church"]["source"]):
            width, height = sizes[index % len(sizes)]
            encoded = io.BytesIO()
            Image.fromarray(smooth_image(rng, height, width)).save(encoded, format="WEBP", quality=90)
            transaction.put(rng.bytes(20).hex().encode(), encoded.getvalue())
    env.close()


WRITERS = {"cifar10": write_cifar10, "mnist": write_mnist, "celeba_256": write_celeba_256,
           "lsun_church": write_lsun_church}


def smoke_archive(name: str, folder: Path, seed: int = 0) -> Path:
    """The smoke archive of dataset `name` in `folder` (named as the real download), built once."""
    if name not in WRITERS:
        raise ValueError(f"no smoke archive for {name!r}; smoke archives exist for {', '.join(WRITERS)}")
    target = Path(folder) / get_spec(name).archive_name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".smoke-{name}-", dir=target.parent) as work:
        WRITERS[name](Path(work) / "content", np.random.default_rng(seed))
        return zip_folder(Path(work) / "content", target)
