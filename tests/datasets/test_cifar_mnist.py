"""CIFAR-10 pickle batches, MNIST IDX files and StackedMNIST, from archives in the real layouts."""

import hashlib
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FIXTURES

sys.path.insert(0, str(FIXTURES / "datasets"))
from archive_builders import make_tar_gz, make_zip, write_cifar_batches, write_mnist_idx  # noqa: E402

from ddgan.datasets import ArchiveError, open_prepared, prepare  # noqa: E402
from ddgan.datasets.mnist import stacked_mnist_indices  # noqa: E402

CIFAR_SMALL = {"expected_counts": {"train": 10, "test": 3}, "member_md5": {}}
MNIST_SMALL = {"expected_counts": {"train": 12, "test": 5}}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cifar_tar(tmp_path):
    """cifar-10-python.tar.gz as the authors publish it (top folder cifar-10-batches-py)."""
    expected = write_cifar_batches(tmp_path / "src")
    return make_tar_gz(tmp_path / "src", tmp_path / "cifar-10-python.tar.gz"), expected


def assert_split(root, name, split, images, labels):
    prepared = open_prepared(name, root, split)
    assert isinstance(prepared.images, np.memmap)
    assert prepared.images.dtype == np.uint8 and len(prepared) == len(images)
    np.testing.assert_array_equal(prepared.images, images)
    np.testing.assert_array_equal(prepared.labels, labels)
    return prepared


def test_cifar_from_tar_gz_both_splits_and_manifest(tmp_path, cifar_tar):
    archive, expected = cifar_tar
    root = tmp_path / "data"
    target = prepare("cifar10", root, archive=archive, progress=False, **CIFAR_SMALL)
    assert target == root / "cifar10"
    train = assert_split(root, "cifar10", "train", *expected["train"])
    assert_split(root, "cifar10", "test", *expected["test"])
    manifest = train.manifest
    assert manifest["source"]["sha256"] == sha256(archive)
    assert manifest["source"]["published_sha256"] is None
    assert "recorded" in manifest["source"]["checksum_status"]
    assert manifest["splits"]["train"]["shape"] == [10, 32, 32, 3]
    assert manifest["splits"]["train"]["images_sha256"] == sha256(root / "cifar10/train/images.npy")
    assert manifest["splits"]["test"]["labels_sha256"] == sha256(root / "cifar10/test/labels.npy")
    assert manifest["full_size"] is False
    assert manifest["spec_overrides"]["expected_counts"] == {"train": 10, "test": 3}
    # The real spec still expects the real sizes.
    assert manifest["preparation"]["expected_counts"] == {"train": 10, "test": 3}


def test_cifar_kaggle_zip_holding_the_tar_gz_with_published_md5(tmp_path, cifar_tar):
    archive, expected = cifar_tar
    (tmp_path / "kaggle").mkdir()
    shutil.copy(archive, tmp_path / "kaggle" / "cifar-10-python.tar.gz")
    zipped = make_zip(tmp_path / "kaggle", tmp_path / "cifar10-python.zip")
    batch_md5 = hashlib.md5((tmp_path / "src/cifar-10-batches-py/data_batch_3").read_bytes()).hexdigest()
    md5s = {"cifar-10-python.tar.gz": hashlib.md5(archive.read_bytes()).hexdigest(), "data_batch_3": batch_md5}
    root = tmp_path / "data"
    prepare("cifar10", root, archive=zipped, progress=False, expected_counts={"train": 10, "test": 3},
            member_md5=md5s)
    train = assert_split(root, "cifar10", "train", *expected["train"])
    assert train.manifest["splits"]["train"]["details"]["md5_verified"] == {"data_batch_3": batch_md5}


def test_cifar_md5_mismatch_is_refused(tmp_path, cifar_tar):
    archive, _ = cifar_tar
    with pytest.raises(ArchiveError, match="published md5"):
        prepare("cifar10", tmp_path / "data", archive=archive, progress=False,
                expected_counts={"train": 10, "test": 3}, member_md5={"test_batch": "0" * 32})
    assert not (tmp_path / "data" / "cifar10").exists()


def test_cifar_wrong_count_and_missing_batch(tmp_path):
    write_cifar_batches(tmp_path / "src")
    with pytest.raises(ArchiveError, match="50000"):
        prepare("cifar10", tmp_path / "data", archive=tmp_path / "src", progress=False, member_md5={})
    (tmp_path / "src/cifar-10-batches-py/data_batch_4").unlink()
    with pytest.raises(ArchiveError, match="data_batch_4"):
        prepare("cifar10", tmp_path / "data", archive=tmp_path / "src", progress=False, **CIFAR_SMALL)


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    write_cifar_batches(tmp_path / "src")

    class Exploit:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    (tmp_path / "src/cifar-10-batches-py/data_batch_2").write_bytes(pickle.dumps({b"data": Exploit()}))
    with pytest.raises(ArchiveError, match="not a readable CIFAR-10 batch"):
        prepare("cifar10", tmp_path / "data", archive=tmp_path / "src", progress=False, **CIFAR_SMALL)
    assert (tmp_path / "victim").is_dir()


def test_mnist_kaggle_zip_with_dotted_names(tmp_path):
    expected = write_mnist_idx(tmp_path / "kaggle")
    zipped = make_zip(tmp_path / "kaggle", tmp_path / "mnist-dataset.zip")
    root = tmp_path / "data"
    prepare("mnist", root, archive=zipped, progress=False, **MNIST_SMALL)
    train = assert_split(root, "mnist", "train", *expected["train"])
    assert_split(root, "mnist", "test", *expected["test"])
    assert train.images.shape == (12, 28, 28, 1)
    assert train.manifest["splits"]["train"]["details"]["members"] == [
        "train-images.idx3-ubyte", "train-labels.idx1-ubyte"]


def test_mnist_gzipped_originals_in_tar_gz_with_md5(tmp_path):
    expected = write_mnist_idx(tmp_path / "src" / "raw", gz=True)
    md5s = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (tmp_path / "src/raw").iterdir()}
    archive = make_tar_gz(tmp_path / "src", tmp_path / "mnist.tar.gz")
    prepare("mnist", tmp_path / "data", archive=archive, progress=False, member_md5=md5s, **MNIST_SMALL)
    assert_split(tmp_path / "data", "mnist", "test", *expected["test"])
    md5s["t10k-labels-idx1-ubyte.gz"] = "f" * 32
    with pytest.raises(ArchiveError, match="t10k-labels-idx1-ubyte.gz"):
        prepare("mnist", tmp_path / "data2", archive=archive, progress=False, member_md5=md5s, **MNIST_SMALL)


def test_mnist_truncated_or_foreign_idx_files(tmp_path):
    write_mnist_idx(tmp_path / "src", kaggle_duplicates=False)
    images = tmp_path / "src" / "train-images.idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(ArchiveError, match="truncated"):
        prepare("mnist", tmp_path / "data", archive=tmp_path / "src", progress=False, **MNIST_SMALL)
    images.write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 40)  # a labels header where images belong
    with pytest.raises(ArchiveError, match="not an IDX file"):
        prepare("mnist", tmp_path / "data", archive=tmp_path / "src", progress=False, **MNIST_SMALL)
    assert not (tmp_path / "data" / "mnist").exists()


def official_stacked_mnist(digits, labels, seed):
    """The official StackedMNIST construction, run on numpy's global RNG after seeding it."""
    np.random.seed(seed)
    n = len(digits)
    index = [np.hstack([np.random.permutation(n), np.random.permutation(n)]) for _ in range(3)]
    images = np.zeros((2 * n, 32, 32, 3), np.uint8)
    targets = np.zeros(2 * n, np.int64)
    for i in range(2 * n):
        for channel in range(3):
            images[i, 2:30, 2:30, channel] = digits[index[channel][i]]
            targets[i] += int(labels[index[channel][i]]) * 10 ** (2 - channel)
    return images, targets


def test_stacked_mnist_matches_the_official_construction(tmp_path):
    expected = write_mnist_idx(tmp_path / "src", train=12)
    root = tmp_path / "data"
    prepare("mnist", root, archive=tmp_path / "src", progress=False, **MNIST_SMALL)
    prepare("stackedmnist", root, seed=7, progress=False, expected_counts={"train": 24})
    stacked = open_prepared("stackedmnist", root)
    digits, labels = expected["train"][0][..., 0], expected["train"][1]
    images, targets = official_stacked_mnist(digits, labels, seed=7)
    np.testing.assert_array_equal(stacked.images, images)
    np.testing.assert_array_equal(stacked.labels, targets)
    assert stacked.images.shape == (24, 32, 32, 3) and stacked.manifest["preparation"]["seed"] == 7
    # Every digit appears exactly twice in every channel.
    index = stacked_mnist_indices(12, seed=7)
    for channel in range(3):
        assert np.bincount(index[:, channel], minlength=12).tolist() == [2] * 12
    assert not np.array_equal(stacked_mnist_indices(12, seed=8), index)


def test_stacked_mnist_prepares_missing_mnist_with_the_real_spec(tmp_path):
    write_mnist_idx(tmp_path / "src", train=12)
    with pytest.raises(ArchiveError, match="MNIST train split has 12 images .* expected 60000"):
        prepare("stackedmnist", tmp_path / "data", archive=tmp_path / "src", progress=False)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == []
