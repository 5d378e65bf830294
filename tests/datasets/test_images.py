"""256-px datasets: CelebA-HQ JPEG folder and the LSUN LMDB, and the official resize/crop geometry."""

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FIXTURES

sys.path.insert(0, str(FIXTURES / "datasets"))
from archive_builders import (make_zip, reference_lsun_images, smooth_image, truncate,  # noqa: E402
                              write_jpeg_folder, write_lsun_lmdb)

from ddgan.datasets import ArchiveError, ImageDataError, check_archive, open_prepared, prepare  # noqa: E402
from ddgan.datasets.images import center_crop, resize_shorter_side  # noqa: E402


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("width,height", [(300, 260), (260, 341), (256, 256), (257, 500), (640, 256),
                                          (200, 230), (513, 257)])
def test_resize_and_crop_equal_torchvision_on_pil(width, height):
    from torchvision import transforms

    image = Image.fromarray(smooth_image(np.random.default_rng(width * height), height, width))
    reference = transforms.CenterCrop(256)(transforms.Resize(256)(image))
    ours = center_crop(resize_shorter_side(image, 256), 256)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference))


# --- CelebA-HQ 256 -------------------------------------------------------------------------

def celeba_zip(tmp_path, count=12, odd_sizes=None):
    """The Kaggle layout: celebahq-resized-256x256.zip holding celeba_hq_256/00000.jpg ..."""
    decoded = write_jpeg_folder(tmp_path / "kaggle" / "celeba_hq_256", count, odd_sizes=odd_sizes)
    return make_zip(tmp_path / "kaggle", tmp_path / "celebahq-resized-256x256.zip"), decoded


def test_celeba_zip_in_numeric_order_with_two_workers(tmp_path):
    junk = tmp_path / "kaggle" / "__MACOSX" / "celeba_hq_256"
    junk.mkdir(parents=True)
    (junk / "._00000.jpg").write_bytes(b"macOS resource fork, not an image")
    archive, decoded = celeba_zip(tmp_path)
    root = tmp_path / "data"
    prepare("celeba_256", root, archive=archive, workers=2, progress=False, expected_counts={"train": 12})
    prepared = open_prepared("celeba_256", root)
    assert prepared.images.shape == (12, 256, 256, 3) and prepared.labels is None
    np.testing.assert_array_equal(prepared.images, np.stack(decoded))
    details = prepared.manifest["splits"]["train"]["details"]
    assert details["first"] == "celeba_hq_256/00000.jpg" and details["last"] == "celeba_hq_256/00011.jpg"
    assert details["resized_images"] == 0 and prepared.manifest["preparation"]["allow_resize"] is False
    with pytest.raises(Exception, match="no split 'test'"):
        open_prepared("celeba_256", root, split="test")


def test_celeba_wrong_size_fails_cleanly_or_is_resized_and_flagged(tmp_path):
    archive, decoded = celeba_zip(tmp_path, count=5, odd_sizes={3: (300, 320)})
    root = tmp_path / "data"
    with pytest.raises(ImageDataError, match=r"00003\.jpg is 300x320.*--allow-resize"):
        prepare("celeba_256", root, archive=archive, progress=False, expected_counts={"train": 5})
    assert leftovers(root) == []
    prepare("celeba_256", root, archive=archive, allow_resize=True, progress=False, expected_counts={"train": 5})
    prepared = open_prepared("celeba_256", root)
    assert prepared.manifest["splits"]["train"]["details"]["resized_images"] == 1
    expected_odd = center_crop(resize_shorter_side(Image.fromarray(decoded[3]), 256), 256)
    np.testing.assert_array_equal(prepared.images[3], np.asarray(expected_odd))
    np.testing.assert_array_equal(prepared.images[4], decoded[4])


def test_celeba_count_and_unreadable_image(tmp_path):
    archive, _ = celeba_zip(tmp_path, count=4)
    with pytest.raises(ArchiveError, match="holds 4 images under celeba_hq_256/, expected 30000"):
        prepare("celeba_256", tmp_path / "data", archive=archive, progress=False)
    bad = tmp_path / "kaggle" / "celeba_hq_256" / "00002.jpg"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(ImageDataError, match=r"cannot decode image .*00002\.jpg"):
        prepare("celeba_256", tmp_path / "data", archive=tmp_path / "kaggle", progress=False,
                expected_counts={"train": 4})
    assert leftovers(tmp_path / "data") == []


def test_truncated_zip_is_reported(tmp_path):
    archive, _ = celeba_zip(tmp_path, count=4)
    truncate(archive)
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        prepare("celeba_256", tmp_path / "data", archive=archive, progress=False, expected_counts={"train": 4})
    assert leftovers(tmp_path / "data") == []


# --- LSUN church ---------------------------------------------------------------------------

@pytest.fixture
def lsun_folder(tmp_path):
    entries = write_lsun_lmdb(tmp_path / "lsun" / "church_outdoor_train_lmdb", count=9)
    return tmp_path / "lsun", entries


@pytest.mark.parametrize("image_format", ["WEBP", "JPEG"])
def test_lsun_zipped_lmdb_first_n_in_key_order(tmp_path, image_format):
    entries = write_lsun_lmdb(tmp_path / "lsun" / "church_outdoor_train_lmdb", count=9, image_format=image_format)
    assert list(entries) != sorted(entries)  # so the test can tell insertion order from key order
    archive = make_zip(tmp_path / "lsun", tmp_path / "church_outdoor_train_lmdb.zip")
    root = tmp_path / "data"
    prepare("lsun_church", root, archive=archive, progress=False, expected_counts={"train": 6}, source_count=9)
    prepared = open_prepared("lsun_church", root)
    np.testing.assert_array_equal(prepared.images, reference_lsun_images(entries, take=6))
    details = prepared.manifest["splits"]["train"]["details"]
    assert details["first_key"] == sorted(entries)[0].decode()
    assert details["last_key"] == sorted(entries)[5].decode()
    assert details["lmdb_entries"] == 9
    assert leftovers(root) == ["lsun_church"]  # the extracted data.mdb is gone


def test_lsun_counts_are_checked(tmp_path, lsun_folder):
    folder, _ = lsun_folder
    with pytest.raises(ArchiveError, match="holds 9 images, expected 126227"):
        prepare("lsun_church", tmp_path / "data", archive=folder, progress=False, expected_counts={"train": 6})
    with pytest.raises(ArchiveError, match="fewer than the 12"):
        prepare("lsun_church", tmp_path / "data", archive=folder, progress=False,
                expected_counts={"train": 12}, source_count=None)


def test_lsun_truncated_data_mdb(tmp_path, lsun_folder):
    folder, _ = lsun_folder
    data = folder / "church_outdoor_train_lmdb" / "data.mdb"
    # Keep the two meta pages and a few more, so LMDB opens it and only the size check can tell.
    with data.open("r+b") as f:
        f.truncate(max(4, os.path.getsize(data) // 4096 // 2) * 4096)
    with pytest.raises(ArchiveError, match="data.mdb is truncated"):
        prepare("lsun_church", tmp_path / "data", archive=folder, progress=False,
                expected_counts={"train": 6}, source_count=9)
    assert leftovers(tmp_path / "data") == []


def test_check_archive_decodes_without_writing(tmp_path, lsun_folder):
    folder, _ = lsun_folder
    root = tmp_path / "data"
    counts = check_archive("lsun_church", folder, root, progress=False, expected_counts={"train": 4},
                           source_count=9)
    assert counts == {"train": 4}
    assert leftovers(root) == []
    shutil.rmtree(folder / "church_outdoor_train_lmdb")
    with pytest.raises(ArchiveError, match="no data.mdb"):
        check_archive("lsun_church", folder, root, progress=False)
