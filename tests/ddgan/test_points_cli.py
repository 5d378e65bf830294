"""The 2-D path through the command line: `ddgan sample` writes points (not images) of a 25-Gaussian
checkpoint, unclamped and in the grid's original units, and `ddgan eval --metrics modes` scores the
checkpoint and the points it wrote with the demo's rule."""
import json
import math

import numpy as np
import pytest
import torch

from ddgan.cli import main
from ddgan.core.checkpoint import save_snapshot
from ddgan.core.methods import build_method
from ddgan.presets import mixture25_ddgan, stacked_digits_ddgan

SCALE = 2.0
CORNER = (4.0, -4.0)   # a centre of the grid, outside [-1, 1] at any training scale >= 1


@pytest.fixture(scope="module")
def corner_checkpoint(tmp_path_factory):
    """A tiny DDGAN whose generator always predicts the corner centre (4, -4): every sample lands on it."""
    config = mixture25_ddgan()
    config["data"]["scale"] = SCALE
    config["networks"]["generator"].update(hidden=16, depth=2)
    generator = build_method(config, sampling_only=True).networks["generator"]
    with torch.no_grad():
        generator.out.weight.zero_()
        generator.out.bias.copy_(torch.tensor(CORNER) / SCALE)
    path = tmp_path_factory.mktemp("m25") / "snapshot.pt"
    save_snapshot(path, config, 7, generator.state_dict())
    return path


def test_sample_writes_unclamped_points_in_original_units_and_a_figure(corner_checkpoint, tmp_path, capsys):
    out = tmp_path / "points"
    assert main(["sample", "--checkpoint", str(corner_checkpoint), "-n", "30", "--batch-size", "8",
                 "--out", str(out), "--device", "cpu", "--quiet", "--figure"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["points.npy", "points.png"]
    points = np.load(out / "points.npy")
    assert points.shape == (30, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points, np.tile(CORNER, (30, 1)), atol=1e-5)   # 2.0 in training units: no clamp
    assert "wrote 30 points of DDGAN T=4" in capsys.readouterr().out


def test_sample_writes_points_as_one_array_file_without_a_figure_unless_asked(corner_checkpoint, tmp_path):
    out = tmp_path / "points"
    assert main(["sample", "--checkpoint", str(corner_checkpoint), "-n", "30", "--out", str(out), "--device", "cpu",
                 "--quiet"]) == 0
    assert [p.name for p in out.iterdir()] == ["points.npy"]


def test_sample_refuses_jpeg_for_points(corner_checkpoint, tmp_path, capsys):
    assert main(["sample", "--checkpoint", str(corner_checkpoint), "-n", "3", "--out", str(tmp_path / "p"),
                 "--jpeg", "--device", "cpu", "--quiet"]) == 2
    assert "--jpeg applies to images" in capsys.readouterr().err


def eval_args(tmp_path, *source, n=40):
    return ["eval", *source, "--dataset", "mixture25", "--metrics", "modes", "--n-samples", str(n),
            "--allow-fewer-samples", "--results", str(tmp_path / "m.jsonl"), "--work-dir", str(tmp_path),
            "--device", "cpu"]


def test_eval_scores_the_checkpoint_and_its_point_files_alike(corner_checkpoint, tmp_path, capsys):
    collapsed = {"modes": 1, "high_quality": 1.0, "kl": pytest.approx(math.log(25))}
    assert main(eval_args(tmp_path, "--checkpoint", str(corner_checkpoint))) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"protocol": None, "n_samples": 40, **collapsed}

    out = tmp_path / "points"
    assert main(["sample", "--checkpoint", str(corner_checkpoint), "-n", "40", "--out", str(out),
                 "--device", "cpu", "--quiet"]) == 0
    for source in (out, out / "points.npy"):
        capsys.readouterr()
        assert main(eval_args(tmp_path, "--samples", str(source))) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["modes"] == 1
    assert main(eval_args(tmp_path, "--samples", str(out), n=41)) == 2
    assert "holds 40 points but 41 were asked for" in capsys.readouterr().err


def test_eval_names_a_dataset_mismatch(corner_checkpoint, tmp_path, capsys):
    args = eval_args(tmp_path, "--checkpoint", str(corner_checkpoint))
    args[args.index("mixture25")] = "stacked_digits"
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "trained on mixture25, not stacked_digits; pass --dataset mixture25" in error and "Traceback" not in error

    digits = tmp_path / "digits.pt"
    config = stacked_digits_ddgan()
    save_snapshot(digits, config, 0, build_method(config, sampling_only=True).networks["generator"].state_dict())
    assert main(eval_args(tmp_path, "--checkpoint", str(digits))) == 2
    assert "trained on stacked_digits, not mixture25" in capsys.readouterr().err
