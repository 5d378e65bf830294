"""What each dataset is, where it comes from, and what a complete copy must contain.

The expected counts are those of the real datasets. Tests (and anyone preparing a deliberately
small copy) pass overrides through `get_spec(name, expected_counts=..., source_count=...)`; the
manifest then records the overrides so a reduced copy can never pass for the real one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from .errors import UnknownDatasetError


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    source: str  # "kaggle", "url" or "derived"
    location: str  # Kaggle slug, URL, or the name of the dataset this one is built from
    archive_name: str  # the file a download produces and `--archive` expects
    layout: str  # what the archive must contain, quoted in error messages
    expected_counts: Mapping[str, int]  # images per split in the prepared dataset
    image_shape: tuple[int, int, int]  # H, W, C of the prepared images
    has_labels: bool
    kind: str  # "images", or "digits" for stacked digits (see dataset_kind)
    archive_sha256: str | None = None  # of the whole archive; None = no published value
    member_md5: Mapping[str, str] = field(default_factory=dict)  # published md5 of files inside, by base name
    source_count: int | None = None  # images in the source before a subset is taken
    notes: tuple[str, ...] = ()

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.expected_counts)


_OVERRIDABLE = ("expected_counts", "source_count", "archive_sha256", "member_md5")

CIFAR10 = DatasetSpec(
    name="cifar10",
    description="CIFAR-10, 32x32 RGB, 10 classes (python pickle batches)",
    source="kaggle",
    location="pankrzysiu/cifar10-python",
    archive_name="cifar10-python.zip",
    layout=(
        "a zip, tar.gz or folder holding cifar-10-batches-py/ (data_batch_1..5, test_batch), "
        "or holding cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/"
    ),
    expected_counts=MappingProxyType({"train": 50000, "test": 10000}),
    image_shape=(32, 32, 3),
    has_labels=True,
    kind="images",
    # Published by the CIFAR-10 authors (and checked by torchvision) for the original files.
    member_md5=MappingProxyType({
        "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
    }),
)

MNIST = DatasetSpec(
    name="mnist",
    description="MNIST, 28x28 grey digits (IDX files)",
    source="kaggle",
    location="hojjatk/mnist-dataset",
    archive_name="mnist-dataset.zip",
    layout=(
        "a zip, tar.gz or folder holding train-images.idx3-ubyte, train-labels.idx1-ubyte, "
        "t10k-images.idx3-ubyte and t10k-labels.idx1-ubyte (the '-idx3-ubyte' spelling and "
        ".gz files are accepted too)"
    ),
    expected_counts=MappingProxyType({"train": 60000, "test": 10000}),
    image_shape=(28, 28, 1),
    has_labels=True,
    kind="images",
    # Published md5 of the original gzipped files (as checked by torchvision); the Kaggle copy
    # is uncompressed, so there its integrity rests on the IDX headers and file lengths.
    member_md5=MappingProxyType({
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
)

STACKED_MNIST = DatasetSpec(
    name="stackedmnist",
    description="StackedMNIST, 1000 modes: three MNIST digits as R, G, B channels, padded to 32x32",
    source="derived",
    location="mnist",
    archive_name="",
    layout="built from the prepared 'mnist' dataset (ddgan data prepare mnist)",
    expected_counts=MappingProxyType({"train": 120000}),
    image_shape=(32, 32, 3),
    has_labels=True,
    kind="digits",
    notes=(
        "Each channel is an independently permuted copy of the MNIST training set, each "
        "permutation taken twice (2 x 60,000 samples); label = 100*l_R + 10*l_G + l_B.",
        "The official code drew its permutations from the unseeded global numpy RNG, so only "
        "the construction, not the exact samples, can match it. Here the draws come from "
        "numpy.random.RandomState(seed) in the official order, i.e. the samples the official "
        "code would give after numpy.random.seed(seed).",
    ),
)

CELEBA_256 = DatasetSpec(
    name="celeba_256",
    description="CelebA-HQ at 256x256 (JPEG folder)",
    source="kaggle",
    location="badasstechie/celebahq-resized-256x256",
    archive_name="celebahq-resized-256x256.zip",
    layout="a zip or folder holding the 30,000 JPEGs of CelebA-HQ 256 under celeba_hq_256/",
    expected_counts=MappingProxyType({"train": 30000}),
    image_shape=(256, 256, 3),
    has_labels=False,
    kind="images",
    notes=(
        "Holds all 30,000 images, ordered by file name. The official code trained on NVAE's "
        "LMDB of the Glow 'celeba-tfr' train split (27,000 images); that split is not "
        "recoverable from this archive.",
    ),
)

LSUN_CHURCH = DatasetSpec(
    name="lsun_church",
    description="LSUN church_outdoor_train, first 120,000 images, 256x256",
    source="url",
    location="http://dl.yf.io/lsun/scenes/church_outdoor_train_lmdb.zip",
    archive_name="church_outdoor_train_lmdb.zip",
    layout=(
        "church_outdoor_train_lmdb.zip from the LSUN site (python3 download.py -c church_outdoor "
        "in github.com/fyu/lsun), or its extracted folder church_outdoor_train_lmdb/ with data.mdb"
    ),
    expected_counts=MappingProxyType({"train": 120000}),
    image_shape=(256, 256, 3),
    has_labels=False,
    kind="images",
    source_count=126227,
    notes=(
        "Images are taken in LMDB cursor order (keys sorted bytewise), the order of the official "
        "loader, and the first 120,000 are kept, as in the paper.",
        "Each image is resized so its shorter side is 256 (PIL bilinear, which antialiases, as "
        "torchvision's Resize on PIL images) and center-cropped to 256x256, as the official "
        "transforms do before their random flip.",
    ),
)

DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {spec.name: spec for spec in (CIFAR10, MNIST, STACKED_MNIST, CELEBA_256, LSUN_CHURCH)}
)


KINDS = ("points", "digits", "images")


def dataset_kind(name: str) -> str | None:
    """What a dataset is, which decides its scores, sample pictures and presets (never its name):
    points (2-D points on the 25-Gaussian grid, scored by its modes), digits (stacked digits: 1000 modes a
    digit classifier reads) or images (FID). From the in-memory dataset's registry entry or the prepared
    dataset's spec; any other prepared dataset holds your own images; an in-memory dataset registered
    without a kind has none."""
    from ddgan.base import registry
    if name in registry.DATASETS:
        return getattr(registry.DATASETS.get(name), "kind", None)
    return DATASETS[name].kind if name in DATASETS else "images"


def get_spec(name: str, **overrides) -> DatasetSpec:
    """The registered spec for `name`, with any of `_OVERRIDABLE` replaced (for reduced or test copies)."""
    if name not in DATASETS:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)} (see `ddgan data list`)"
        )
    unknown = set(overrides) - set(_OVERRIDABLE)
    if unknown:
        raise ValueError(f"cannot override {sorted(unknown)} of a dataset spec; allowed: {list(_OVERRIDABLE)}")
    spec = DATASETS[name]
    if "expected_counts" in overrides:
        counts = dict(overrides["expected_counts"])
        if set(counts) != set(spec.expected_counts):
            raise ValueError(f"expected_counts for {name} must give the splits {list(spec.expected_counts)}")
        overrides["expected_counts"] = MappingProxyType(counts)
    if "member_md5" in overrides:
        overrides["member_md5"] = MappingProxyType(dict(overrides["member_md5"]))
    return dataclasses.replace(spec, **overrides)


def overrides_of(spec: DatasetSpec) -> dict:
    """The fields in which `spec` differs from the registered one (recorded in the manifest)."""
    registered = DATASETS[spec.name]
    changed = {}
    for key in _OVERRIDABLE:
        value, reference = getattr(spec, key), getattr(registered, key)
        if value != reference:
            changed[key] = dict(value) if isinstance(value, Mapping) else value
    return changed
