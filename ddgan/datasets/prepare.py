"""download -> verify -> prepare, once per dataset (see storage.py for the prepared layout)."""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from importlib import metadata
from pathlib import Path

from ddgan.base.provenance import now

from .archives import archive_sha256, open_archive
from .cifar import read_cifar10
from .fetch import download_archive, downloads_dir, manual_fix
from .errors import ArchiveError, DatasetError, ImageDataError, PreparedDatasetError
from .images import read_image_folder
from .lsun import default_folder, read_lsun_lmdb
from .mnist import build_stacked_mnist, read_mnist
from .specs import DatasetSpec, get_spec, overrides_of
from .splits import SplitSource
from .storage import (FORMAT, data_root, load_split, open_prepared, read_manifest, remove_stale_staging,
                      staging_directory, write_manifest, write_split)


def _read_sources(spec: DatasetSpec, archive: Path, work: Path, workers: int,
                  allow_resize: bool) -> tuple[dict[str, SplitSource], object]:
    """Open the archive and return (split sources, open tree); the caller closes the tree."""
    tree = open_archive(archive, work)
    readers = {
        "cifar10": read_cifar10,
        "mnist": read_mnist,
        "celeba_256": partial(read_image_folder, folder="celeba_hq_256", workers=workers,
                              allow_resize=allow_resize),
        "lsun_church": partial(read_lsun_lmdb, folder=default_folder(spec), workers=workers),
    }
    try:
        return readers[spec.name](tree, spec, work), tree
    except BaseException:
        tree.close()
        raise


def preparation_parameters(spec: DatasetSpec, seed: int, allow_resize: bool) -> dict:
    """Everything that decides the prepared bytes; a second `prepare` with other values must not skip."""
    parameters = {"expected_counts": dict(spec.expected_counts), "image_shape": list(spec.image_shape)}
    if spec.name == "stackedmnist":
        parameters["seed"] = seed
    if spec.name == "celeba_256":
        parameters["allow_resize"] = allow_resize
    if spec.name == "lsun_church":
        parameters.update(source_count=spec.source_count, take="first N in LMDB cursor order",
                          resize="shorter side to 256, PIL bilinear (antialiased)", crop="center 256x256")
    return parameters


def locate_archive(spec: DatasetSpec, root: Path, archive=None, download: bool = True) -> Path:
    if archive is not None:
        return Path(archive).expanduser()
    cached = downloads_dir(root) / spec.archive_name
    if cached.exists():
        return cached
    if download:
        return download_archive(spec, root)
    raise ArchiveError(f"no archive for {spec.name}: {cached} does not exist and downloading is off. "
                       + manual_fix(spec))


def download(name: str, root=None) -> Path:
    """Fetch the archive of `name` into <root>/downloads/ unless it is already there."""
    spec = get_spec(name)
    if spec.source == "derived":
        return download(spec.location, root)
    return locate_archive(spec, data_root(root), download=True)


def is_prepared(spec: DatasetSpec, root: Path, parameters: dict) -> bool:
    """True when a complete copy with these parameters exists; raises if one with other parameters does."""
    try:
        manifest = read_manifest(spec.name, root)
        for split in manifest["splits"]:
            load_split(spec.name, root, split, manifest)
    except (PreparedDatasetError, KeyError, TypeError):
        return False
    if manifest.get("preparation") != parameters:
        raise PreparedDatasetError(
            f"{root / spec.name} was prepared with {manifest.get('preparation')}, not the requested "
            f"{parameters}. Pass --force (force=True) to replace it, or use another --root."
        )
    return True


def prepare(name: str, root=None, archive=None, download: bool = True, force: bool = False, *,
            workers: int = 1, seed: int = 0, allow_resize: bool = False, progress: bool = True,
            **spec_overrides) -> Path:
    """Download (unless `archive` is given or already downloaded), verify and prepare `name` once.

    Returns <root>/<name>. Skips all work when a valid copy with the same parameters exists.
    `spec_overrides` (expected_counts=..., source_count=...) are for deliberately small copies.
    """
    spec = get_spec(name, **spec_overrides)
    root = data_root(root)
    parameters = preparation_parameters(spec, seed, allow_resize)
    target = root / spec.name
    if not force and is_prepared(spec, root, parameters):
        return target
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(root, spec.name)

    with staging_directory(target) as staging:
        if spec.source == "derived":
            splits, source = _build_stacked_mnist(spec, root, archive, download, seed, staging, progress)
        else:
            archive_path = locate_archive(spec, root, archive, download)
            source = _source_record(spec, archive_path, progress)
            work = staging / ".work"
            work.mkdir()
            sources, tree = _read_sources(spec, archive_path, work, workers, allow_resize)
            with tree:
                splits = {split: write_split(staging / split, sources[split], f"{name}/{split}", progress)
                          for split in spec.splits}
            shutil.rmtree(work)
        write_manifest(staging, _manifest(spec, source, splits, parameters))
    return target


def _source_record(spec: DatasetSpec, archive_path: Path, progress: bool) -> dict:
    if not archive_path.exists():
        raise ArchiveError(f"archive {archive_path} does not exist. " + manual_fix(spec))
    digest = archive_sha256(archive_path, progress=progress)
    if spec.archive_sha256 is not None and digest["sha256"] != spec.archive_sha256:
        raise ArchiveError(
            f"{archive_path} has sha256 {digest['sha256']}, the published value is {spec.archive_sha256}: "
            "the file is corrupt or a different release. Delete it and download it again."
        )
    status = ("matches the published sha256" if spec.archive_sha256 is not None else
              "no published sha256: the value here was recorded at this first verified preparation")
    return {"kind": spec.source, "location": spec.location, "archive": str(archive_path.resolve()),
            "sha256": digest["sha256"], "sha256_of": digest["of"], "published_sha256": spec.archive_sha256,
            "checksum_status": status}


def _build_stacked_mnist(spec, root, archive, download, seed, staging, progress):
    try:
        mnist = open_prepared(spec.location, root, "train")
    except PreparedDatasetError:
        prepare(spec.location, root, archive=archive, download=download, progress=progress)
        mnist = open_prepared(spec.location, root, "train")
    source = build_stacked_mnist(mnist.images, mnist.labels, seed)
    if source.count != spec.expected_counts["train"]:
        raise PreparedDatasetError(
            f"StackedMNIST from {len(mnist)} MNIST digits has {source.count} images, expected "
            f"{spec.expected_counts['train']} (twice the 60,000 MNIST training digits). Prepare the full "
            f"MNIST: ddgan data prepare mnist --root {root} --force"
        )
    record = {"kind": "derived", "location": spec.location,
              "mnist_train_images_sha256": mnist.manifest["splits"]["train"]["images_sha256"],
              "mnist_source_sha256": mnist.manifest["source"]["sha256"]}
    return {"train": write_split(staging / "train", source, f"{spec.name}/train", progress)}, record


def _package_version() -> str:
    try:
        return metadata.version("ddgan")
    except metadata.PackageNotFoundError:
        return "unknown (ddgan not installed)"


def _manifest(spec: DatasetSpec, source: dict, splits: dict, parameters: dict) -> dict:
    overrides = overrides_of(spec)
    return {
        "format": FORMAT,
        "name": spec.name,
        "description": spec.description,
        "source": source,
        "splits": splits,
        "preparation": parameters,
        "spec_overrides": overrides,
        "full_size": not overrides.get("expected_counts") and not overrides.get("source_count"),
        "notes": list(spec.notes),
        "package_version": _package_version(),
        "created": now(),
    }


def check_archive(name: str, archive=None, root=None, *, workers: int = 1, allow_resize: bool = False,
                  progress: bool = True, **spec_overrides) -> dict[str, int]:
    """Read and decode a whole archive as `prepare` would, writing nothing; returns images per split."""
    spec = get_spec(name, **spec_overrides)
    if spec.source == "derived":
        raise DatasetError(f"{name} has no archive of its own; check {spec.location} instead")
    root = data_root(root)
    archive_path = locate_archive(spec, root, archive, download=False)
    _source_record(spec, archive_path, progress)
    root.mkdir(parents=True, exist_ok=True)
    counts = {}
    with tempfile.TemporaryDirectory(prefix=f".{name}.check-", dir=root) as work:
        sources, tree = _read_sources(spec, archive_path, Path(work), workers, allow_resize)
        with tree:
            for split, source in sources.items():
                counts[split] = sum(len(batch) for batch in source.batches())
                if counts[split] != source.count:
                    raise ImageDataError(f"{archive_path}: the {split} split yielded {counts[split]} images, "
                                         f"{source.count} were announced")
    return counts
