"""Your own images as a dataset: folders, .npy and .npz, the resize/crop rule, the manifest, the CLI."""
import json

import numpy as np
import pytest
from PIL import Image

from ddgan.core.training_data import load_training_array
from ddgan.datasets import open_prepared, verify_prepared
from ddgan.datasets.cli import main as data_main
from ddgan.datasets.errors import ArchiveError, ImageDataError, PreparedDatasetError
from ddgan.datasets.folder import prepare_folder
from ddgan.evaluate import prepared_reference


def expected_32(image: Image.Image) -> np.ndarray:
    """The stated rule, computed here with PIL directly: shorter side to 32 (bilinear), center crop."""
    width, height = image.size
    scale = 32 / min(width, height)
    resized = image.convert("RGB").resize((max(32, int(width * scale)), max(32, int(height * scale))), Image.BILINEAR)
    left, top = round((resized.width - 32) / 2), round((resized.height - 32) / 2)
    return np.asarray(resized.crop((left, top, left + 32, top + 32)))


def write_folder(folder):
    rng = np.random.default_rng(0)
    images = {"b/two.png": rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),      # wider: crop the sides
              "a.jpg": rng.integers(0, 256, (40, 32, 3), dtype=np.uint8),          # taller, already 32 wide
              "c.png": rng.integers(0, 256, (32, 32), dtype=np.uint8)}             # grey, already 32x32
    for name, pixels in images.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / name, quality=95)
    (folder / "notes.txt").write_text("not an image")
    return images


def test_a_folder_is_resized_cropped_and_ordered_by_path(tmp_path):
    write_folder(tmp_path / "mine")
    target = prepare_folder(tmp_path / "mine", "mine", 32, tmp_path / "data", progress=False)
    prepared = open_prepared("mine", tmp_path / "data")
    assert prepared.images.shape == (3, 32, 32, 3) and prepared.labels is None
    files = ["a.jpg", "b/two.png", "c.png"]                      # sorted relative paths; notes.txt ignored
    for index, name in enumerate(files):
        assert np.array_equal(prepared.images[index], expected_32(Image.open(tmp_path / "mine" / name)))
    grey = np.asarray(Image.open(tmp_path / "mine" / "c.png"))
    assert np.array_equal(prepared.images[2], np.stack([grey] * 3, axis=-1))   # 32x32: kept byte for byte
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "folder" and manifest["source"]["files"] == 3
    assert len(manifest["source"]["sha256"]) == 64 and "center crop 32 x 32" in manifest["preparation"]["resize"]
    verify_prepared("mine", tmp_path / "data", progress=False)
    # the trainer reads it like a built-in dataset
    assert load_training_array({"dataset": "mine", "root": str(tmp_path / "data")}).shape == (3, 32, 32, 3)


def test_npz_and_npy_sources(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "several.npz", x_train=images, y_train=np.arange(5), x_test=images[:2])
    prepare_folder(tmp_path / "several.npz", "from-npz", 32, tmp_path / "data", progress=False)
    assert np.array_equal(open_prepared("from-npz", tmp_path / "data").images, images)
    np.savez(tmp_path / "keyed.npz", pictures=images, other=images[:1])
    with pytest.raises(ArchiveError, match="pictures, other; name the one with the images with --key"):
        prepare_folder(tmp_path / "keyed.npz", "keyed", 32, tmp_path / "data", progress=False)
    prepare_folder(tmp_path / "keyed.npz", "keyed", 32, tmp_path / "data", key="other", progress=False)
    assert open_prepared("keyed", tmp_path / "data").images.shape == (1, 32, 32, 3)
    big = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    np.save(tmp_path / "big.npy", big)
    prepare_folder(tmp_path / "big.npy", "big", 32, tmp_path / "data", progress=False)
    assert np.array_equal(open_prepared("big", tmp_path / "data").images[1], expected_32(Image.fromarray(big[1])))
    np.save(tmp_path / "floats.npy", big.astype(np.float32))
    with pytest.raises(ImageDataError, match="expected uint8 images"):
        prepare_folder(tmp_path / "floats.npy", "floats", 32, tmp_path / "data", progress=False)


def test_preparing_again_skips_and_another_source_is_refused(tmp_path):
    images = np.zeros((3, 32, 32, 3), np.uint8)
    np.save(tmp_path / "one.npy", images)
    target = prepare_folder(tmp_path / "one.npy", "mine", 32, tmp_path / "data", progress=False)
    created = json.loads((target / "manifest.json").read_text())["created"]
    prepare_folder(tmp_path / "one.npy", "mine", 32, tmp_path / "data", progress=False)
    assert json.loads((target / "manifest.json").read_text())["created"] == created
    np.save(tmp_path / "two.npy", images + 1)
    with pytest.raises(PreparedDatasetError, match="--force"):
        prepare_folder(tmp_path / "two.npy", "mine", 32, tmp_path / "data", progress=False)
    prepare_folder(tmp_path / "two.npy", "mine", 32, tmp_path / "data", force=True, progress=False)
    assert open_prepared("mine", tmp_path / "data").images.max() == 1


def test_cli_prepares_a_folder_and_bad_input_gets_one_line(tmp_path, capsys, monkeypatch):
    write_folder(tmp_path / "mine")
    root = str(tmp_path / "data")
    assert data_main(["prepare", "folder", str(tmp_path / "mine"), "--name", "mine", "--size", "32", "--root", root]) == 0
    assert "train: 3 images of (32, 32, 3)" in capsys.readouterr().out
    assert data_main(["list", "--root", root]) == 0
    assert "mine" in capsys.readouterr().out
    for argv, message in [
        (["prepare", "folder", str(tmp_path / "mine"), "--size", "32"], "needs PATH, --name and --size"),
        (["prepare", "folder", str(tmp_path / "mine"), "--name", "cifar10", "--size", "32"], "is a built-in dataset"),
        (["prepare", "folder", str(tmp_path / "nowhere"), "--name", "x", "--size", "32"], "does not exist"),
        (["prepare", "folder", str(tmp_path), "--name", "Bad Name", "--size", "32"], "not a valid dataset name"),
        (["prepare", "cifar10", str(tmp_path / "mine")], "belong to `prepare folder`"),
    ]:
        assert data_main([*argv, "--root", root]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    # ddgan eval --dataset NAME finds the prepared images as its FID reference
    monkeypatch.setenv("DDGAN_DATA", root)
    assert prepared_reference("mine").endswith("mine/train/images.npy")
    assert prepared_reference("not-prepared") is None


def test_a_bad_file_is_named_or_skipped_and_the_counts_are_reported(tmp_path, capsys):
    write_folder(tmp_path / "mine")
    (tmp_path / "mine" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    root = str(tmp_path / "data")
    argv = ["prepare", "folder", str(tmp_path / "mine"), "--name", "mine", "--size", "32", "--root", root]
    assert data_main(argv) == 1
    err = capsys.readouterr().err
    assert f"cannot read the image {tmp_path / 'mine' / 'broken.png'}" in err and "--skip-unreadable" in err
    assert "archive" not in err and len(err.strip().splitlines()) == 1
    assert data_main([*argv, "--skip-unreadable"]) == 0
    out = capsys.readouterr().out
    assert "train: 3 images of (32, 32, 3)" in out
    assert "2 of 3 resized to 32x32 (2 of them cropped, not square); 1 unreadable file(s) skipped: broken.png" in out
    manifest = json.loads((tmp_path / "data" / "mine" / "manifest.json").read_text())
    assert manifest["counts"] == {"images": 3, "resized": 2, "cropped": 2, "skipped": 1}
    assert manifest["source"]["skipped_files"] == ["broken.png"]
