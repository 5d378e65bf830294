"""The prepared form: atomic writes, skipping finished work, verification, reading, and the CLI."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import FIXTURES, ROOT

sys.path.insert(0, str(FIXTURES / "datasets"))
from archive_builders import make_tar_gz, truncate, write_cifar_batches, write_mnist_idx  # noqa: E402

from ddgan.datasets import (ArchiveError, PreparedDatasetError, UnknownDatasetError, open_prepared,  # noqa: E402
                            prepare, verify_prepared)
from ddgan.datasets.cli import add_data_arguments, run_data  # noqa: E402
from ddgan.datasets.storage import remove_stale_staging  # noqa: E402

MNIST_SMALL = {"expected_counts": {"train": 12, "test": 5}}
CIFAR_SMALL = {"expected_counts": {"train": 10, "test": 3}, "member_md5": {}}


@pytest.fixture
def mnist_root(tmp_path):
    expected = write_mnist_idx(tmp_path / "src", kaggle_duplicates=False)
    root = tmp_path / "data"
    prepare("mnist", root, archive=tmp_path / "src", progress=False, **MNIST_SMALL)
    return root, expected


def test_truncated_tar_gz_fails_and_leaves_nothing(tmp_path):
    write_cifar_batches(tmp_path / "src")
    archive = truncate(make_tar_gz(tmp_path / "src", tmp_path / "cifar-10-python.tar.gz"))
    root = tmp_path / "data"
    with pytest.raises(ArchiveError, match="truncated or corrupt.*--archive"):
        prepare("cifar10", root, archive=archive, progress=False, **CIFAR_SMALL)
    assert sorted(p.name for p in root.iterdir()) == []


def test_prepared_dataset_is_skipped_until_forced(tmp_path, mnist_root):
    root, expected = mnist_root
    images = root / "mnist" / "train" / "images.npy"
    stamp = images.stat().st_mtime_ns
    (tmp_path / "src" / "train-images.idx3-ubyte").unlink()  # skipping must not need the archive
    prepare("mnist", root, archive=tmp_path / "src", progress=False, **MNIST_SMALL)
    assert images.stat().st_mtime_ns == stamp
    with pytest.raises(PreparedDatasetError, match="prepared with .*--force"):
        prepare("mnist", root, archive=tmp_path / "src", progress=False)  # full-size request
    # A forced rebuild that fails keeps the previous copy intact.
    with pytest.raises(ArchiveError):
        prepare("mnist", root, archive=tmp_path / "src", force=True, progress=False, **MNIST_SMALL)
    np.testing.assert_array_equal(open_prepared("mnist", root).images, expected["train"][0])
    assert sorted(p.name for p in root.iterdir()) == ["mnist"]


def test_a_damaged_copy_is_rebuilt_and_verify_catches_changes(tmp_path, mnist_root):
    root, expected = mnist_root
    assert verify_prepared("mnist", root, progress=False)["name"] == "mnist"
    labels = root / "mnist" / "test" / "labels.npy"
    data = np.load(labels)
    data[0] = (data[0] + 1) % 10
    np.save(labels, data)
    with pytest.raises(PreparedDatasetError, match="labels.npy has sha256 .* --force"):
        verify_prepared("mnist", root, progress=False)
    (root / "mnist" / "train" / "images.npy").unlink()
    with pytest.raises(PreparedDatasetError, match="missing or damaged"):
        open_prepared("mnist", root)
    prepare("mnist", root, archive=tmp_path / "src", progress=False, **MNIST_SMALL)
    np.testing.assert_array_equal(open_prepared("mnist", root).images, expected["train"][0])


def test_missing_dataset_names_the_prepare_command(tmp_path, monkeypatch):
    monkeypatch.setenv("DDGAN_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(PreparedDatasetError, match=r"ddgan data prepare lsun_church --root .*elsewhere"):
        open_prepared("lsun_church")
    with pytest.raises(UnknownDatasetError, match="known datasets: cifar10"):
        prepare("imagenet")
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'imagenet'"):
        open_prepared("imagenet")


def test_default_root_follows_ddgan_data(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path / "src")
    monkeypatch.setenv("DDGAN_DATA", str(tmp_path / "env_root"))
    assert prepare("mnist", archive=tmp_path / "src", progress=False, **MNIST_SMALL) == tmp_path / "env_root" / "mnist"
    assert len(open_prepared("mnist", split="test")) == 5


def test_stale_staging_of_dead_processes_is_removed(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead, alive = tmp_path / ".mnist.partial-dead", tmp_path / ".mnist.partial-alive"
    for folder, pid in ((dead, finished.stdout.strip()), (alive, str(os.getpid()))):
        folder.mkdir()
        (folder / ".owner-pid").write_text(pid)
    assert remove_stale_staging(tmp_path, "mnist") == [dead]
    assert alive.is_dir() and not dead.exists()


def parse(argv):
    parser = argparse.ArgumentParser(prog="ddgan")
    add_data_arguments(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_verify_list_and_errors(tmp_path, mnist_root, capsys):
    root, _ = mnist_root
    args = parse(["data", "verify", "mnist", "--root", str(root)])
    assert args.command == "data" and run_data(args) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "train: 12 images of (28, 28, 1) uint8, labels" in out and "reduced copy" in out
    assert run_data(parse(["data", "list", "--root", str(root)])) == 0
    listing = capsys.readouterr().out
    assert "mnist" in listing and "prepared (train 12, test 5)" in listing
    assert run_data(parse(["data", "prepare", "mnist", "--root", str(root), "--archive", str(tmp_path / "src"),
                           "--force"])) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: MNIST train split has 12 images") and "Traceback" not in error
    assert run_data(parse(["data", "verify", "cifar10", "--root", str(root)])) == 1
    assert "ddgan data prepare cifar10" in capsys.readouterr().err


def test_module_entry_point_reports_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ddgan.datasets", "prepare", "mnist", "--root",
                             str(tmp_path), "--no-download"], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 1
    assert "no archive for mnist" in result.stderr and "Traceback" not in result.stderr


def test_manifest_is_plain_json_with_provenance(mnist_root):
    root, _ = mnist_root
    manifest = json.loads((root / "mnist" / "manifest.json").read_text())
    assert manifest["format"] == "ddgan-prepared-v1" and manifest["source"]["location"] == "hojjatk/mnist-dataset"
    assert set(manifest) >= {"package_version", "created", "preparation", "splits", "notes"}
    assert manifest["splits"]["test"]["labels_dtype"] == "uint8"
