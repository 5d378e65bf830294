"""`ddgan sample`: exactly N files from official checkpoints and ddgan snapshots, seeded, PNG or the
paper's JPEG, and clear errors for bad input."""
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from ddgan.core.checkpoint import save_snapshot
from ddgan.core.methods import build_method
from ddgan.nets.ncsnpp import NCSNppGenerator
from ddgan.official import to_official_state
from ddgan.presets import paper_ddgan, stacked_digits_ddgan
from ddgan.sample_cli import SampleError, main, write_samples
from ddgan.sampling import load_sampler

TINY_GENERATOR = dict(image_size=8, in_channels=3, base_channels=16, channel_mult=(1, 2), num_res_blocks=1,
                      attn_resolutions=(4,), nz=8, z_emb_dim=16, n_mlp=2)


def tiny_official_config():
    """The cifar10 paper config with a tiny NCSN++ generator on 8x8 images."""
    config = paper_ddgan("cifar10")
    config["networks"]["generator"] = {"arch": "ncsnpp", **TINY_GENERATOR}
    config["data"]["shape"] = [3, 8, 8]
    config["method"]["nz"] = TINY_GENERATOR["nz"]
    return config


@pytest.fixture(scope="module")
def tiny_generator():
    """A tiny NCSN++ whose weights all matter (a fresh one starts its output layers near zero)."""
    torch.manual_seed(0)
    generator = NCSNppGenerator(**TINY_GENERATOR)
    with torch.no_grad():
        for p in generator.parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.ndim == 1 else p[0].numel() ** -0.5))
    return generator.eval()


@pytest.fixture
def official_file(tmp_path, tiny_generator):
    path = tmp_path / "netG_1200.pth"
    torch.save(to_official_state(tiny_generator), path)   # 'module.'-prefixed, as released
    return path


@pytest.fixture
def sampler(official_file):
    return load_sampler(official_file, official_preset=tiny_official_config())


def expected_pixels(sampler, n, batch_size, seed):
    """The samples of one generator seeded once, in 8 bits as save_image rounds: floor(255 x + 0.5), x in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.cat([sampler.sample(min(batch_size, n - s), generator) for s in range(0, n, batch_size)])
    unit = (images + 1) / 2
    return torch.floor(unit * 255 + 0.5).clamp(0, 255).permute(0, 2, 3, 1).numpy().astype(np.uint8)


def read_images(paths):
    return np.stack([np.asarray(Image.open(p)) for p in paths])


def test_official_checkpoint_samples_like_the_network_it_was_saved_from(sampler, tiny_generator):
    method = build_method(tiny_official_config(), sampling_only=True)
    ours = method.sample(6, rng=torch.Generator().manual_seed(3), net=tiny_generator)
    loaded = sampler.sample(6, torch.Generator().manual_seed(3))
    assert loaded.shape == (6, 3, 8, 8)
    torch.testing.assert_close(loaded, ours.clamp(-1, 1), rtol=0, atol=1e-5)   # channels_last: rounding only
    assert loaded.std() > 0.1


def test_exactly_n_files_named_by_index_holding_the_seeded_samples(sampler, tmp_path):
    paths = write_samples(sampler, 7, tmp_path / "out", batch_size=3, seed=5, progress=False)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"{i:06d}.png" for i in range(7)] == [p.name for p in paths]
    np.testing.assert_array_equal(read_images(paths), expected_pixels(sampler, 7, 3, seed=5))


def test_same_seed_gives_the_same_files_another_seed_does_not(sampler, tmp_path):
    first = write_samples(sampler, 4, tmp_path / "a", batch_size=4, seed=1, progress=False)
    again = write_samples(sampler, 4, tmp_path / "b", batch_size=4, seed=1, progress=False)
    other = write_samples(sampler, 4, tmp_path / "c", batch_size=4, seed=2, progress=False)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert all(a.read_bytes() != c.read_bytes() for a, c in zip(first, other))


def test_jpeg_files_are_byte_identical_to_the_official_save_image(sampler, tmp_path):
    paths = write_samples(sampler, 5, tmp_path / "jpeg", batch_size=2, seed=42, jpeg=True, progress=False)
    assert [p.name for p in paths] == [f"{i:06d}.jpg" for i in range(5)]
    generator = torch.Generator().manual_seed(42)
    images = torch.cat([sampler.sample(k, generator) for k in (2, 2, 1)])
    for i, (image, path) in enumerate(zip(images, paths)):
        reference = tmp_path / f"official_{i}.jpg"
        torchvision.utils.save_image((image + 1.0) / 2.0, reference)   # as the official test script
        assert path.read_bytes() == reference.read_bytes()


def test_non_empty_folder_is_refused_and_overwrite_replaces_only_earlier_samples(sampler, tmp_path):
    out = tmp_path / "out"
    write_samples(sampler, 5, out, batch_size=5, progress=False)
    with pytest.raises(SampleError, match="not empty.*--overwrite"):
        write_samples(sampler, 3, out, progress=False)
    write_samples(sampler, 3, out, overwrite=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SampleError, match="not samples.*notes.txt"):
        write_samples(sampler, 3, out, overwrite=True, progress=False)
    assert (out / "notes.txt").exists() and len(list(out.iterdir())) == 4


@pytest.mark.parametrize("n,batch_size", [(0, 10), (3, 0)])
def test_non_positive_counts_are_refused(sampler, tmp_path, n, batch_size):
    with pytest.raises(SampleError, match="at least 1"):
        write_samples(sampler, n, tmp_path / "out", batch_size=batch_size, progress=False)


# ---------------------------------------------------------------------------------------------
# command line


def run_cli(*argv):
    return main([*map(str, argv), "--device", "cpu", "--quiet"])


def test_cli_samples_a_ddgan_snapshot(tmp_path, capsys):
    config = stacked_digits_ddgan()
    torch.manual_seed(0)
    network = build_method(config, sampling_only=True).networks["generator"]
    save_snapshot(tmp_path / "snapshot.pt", config, 123, network.state_dict())
    assert run_cli("--checkpoint", tmp_path / "snapshot.pt", "-n", 5, "--batch-size", 2, "--out", tmp_path / "s") == 0
    images = read_images(sorted((tmp_path / "s").iterdir()))
    assert images.shape == (5, 8, 8, 3) and images.std() > 0
    assert "wrote 5 samples of DDGAN T=4" in capsys.readouterr().out


@pytest.mark.parametrize("arguments,message", [
    (["--checkpoint", "{tmp}/missing.pt"], "missing.pt does not exist"),
    (["--official-checkpoint", "{official}"], "needs --preset"),
    (["--official-checkpoint", "{official}", "--preset", "cifar10"], "does not fit"),
    (["--checkpoint", "{official}", "--preset", "cifar10"], "--preset applies to --official-checkpoint only"),
    (["--checkpoint", "{official}"], "neither a ddgan snapshot nor a training state"),
])
def test_cli_reports_bad_input_in_one_line(tmp_path, capsys, official_file, arguments, message):
    arguments = [a.format(tmp=tmp_path, official=official_file) for a in arguments]
    assert run_cli(*arguments, "-n", 2, "--out", tmp_path / "s") == 2
    error = capsys.readouterr().err
    assert error.startswith("ddgan sample: error: ") and message in error
    assert "Traceback" not in error and not (tmp_path / "s").exists()


def test_cli_refuses_a_non_empty_folder(tmp_path, capsys, official_file):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "0.jpg").write_bytes(b"stale")
    checkpoint = tmp_path / "snapshot.pt"
    config = stacked_digits_ddgan()
    save_snapshot(checkpoint, config, 0, build_method(config, sampling_only=True).networks["generator"].state_dict())
    assert run_cli("--checkpoint", checkpoint, "-n", 2, "--out", tmp_path / "s") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run_cli("--checkpoint", checkpoint, "-n", 2, "--out", tmp_path / "s", "--overwrite") == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["000000.png", "000001.png"]
