"""Watching a run: sample grids, the periodic score, snapshot-best.pt, trackers, resume without duplicates."""
import json
import shutil
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from ddgan.cli import main
from ddgan.core.checkpoint import load_snapshot
from ddgan.core.config import ConfigError
from ddgan.core.monitoring import BEST_SNAPSHOT_FILE
from ddgan.core.trainer import STATE_FILE, train
from ddgan.metrics.digit_classifier import save_digit_classifier, train_digit_classifier
from ddgan.presets import mixture25_ddgan, stacked_digits_ddgan


def points_config(steps=20, **train_options):
    config = mixture25_ddgan(num_timesteps=2, steps=steps)
    config["networks"]["generator"].update(hidden=32, depth=2)
    config["networks"]["discriminator"].update(hidden=32, depth=2)
    config["data"]["size"] = 2_000
    config["train"].update({"batch_size": 128, "log_every": 4, "checkpoint_every": 10, **train_options})
    return config


def digits_config(steps=6, **train_options):
    config = stacked_digits_ddgan(num_timesteps=2, steps=steps, width=8, batch_size=16)
    config["data"]["size"] = 256
    config["train"].update({"log_every": 3, "checkpoint_every": 6, **train_options})
    return config


def rows(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def grid_steps(run_dir):
    return sorted(int(p.stem.split("-")[1]) for p in (run_dir / "samples").glob("step-*.png"))


def test_image_grids_at_the_configured_steps_and_the_end_upscaled_to_legible_size(tmp_path):
    train(digits_config(steps=7, sample_every=3), tmp_path, progress=False)
    assert grid_steps(tmp_path) == [3, 6, 7]
    # 64 samples of 8x8, upscaled 8x (nearest) to 64 px, in an 8 x 8 grid with 2 px gaps
    image = Image.open(tmp_path / "samples" / "step-00000007.png")
    assert image.size == (8 * 64 + 9 * 2,) * 2
    pixels = np.asarray(image.convert("RGB"))
    block = pixels[2:66, 2:66]                  # the first sample: 8 x 8 blocks of equal pixels
    assert (block == np.repeat(np.repeat(block[::8, ::8], 8, 0), 8, 1)).all()
    assert len(np.unique(block.reshape(-1, 3), axis=0)) > 1


def test_the_grid_is_the_same_fixed_batch_every_time(tmp_path):
    # no training between two frames (lr 0): the same x_T and z give the same picture
    config = digits_config(steps=4, sample_every=2)
    config["optim"]["lr"] = {"generator": 0.0, "discriminator": 0.0}
    train(config, tmp_path, progress=False)
    first, second = (np.asarray(Image.open(tmp_path / "samples" / f"step-0000000{k}.png")) for k in (2, 4))
    assert np.array_equal(first, second)


def test_a_2d_run_writes_a_scatter_over_the_true_centres(tmp_path):
    train(points_config(steps=10, sample_every=10), tmp_path, progress=False)
    assert grid_steps(tmp_path) == [10]
    pixels = np.asarray(Image.open(tmp_path / "samples" / "step-00000010.png").convert("RGB")).astype(int)
    assert pixels.shape == (400, 400, 3)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    dark = pixels.sum(-1) < 300
    assert red.sum() > 25 * 5 and dark.sum() > 100       # 25 crosses and the sample points


def test_no_grid_when_off(tmp_path):
    train(points_config(steps=4, sample_every=None), tmp_path, progress=False)
    assert not (tmp_path / "samples").exists()


def test_a_grid_costing_more_than_5_percent_of_training_says_so_once(tmp_path, capsys):
    from ddgan.core.trainer import Trainer
    monitor = Trainer(points_config(steps=4, sample_every=1000), tmp_path).monitor
    monitor.started, monitor.start_step, monitor.watch_seconds = time.time() - 100.0, 0, 0.0
    monitor.warn_if_grids_are_costly(1000, grid_seconds=0.5)       # 0.5 s against ~100 s of training
    assert capsys.readouterr().out == ""
    monitor.grid_cost_checked = False
    monitor.warn_if_grids_are_costly(1000, grid_seconds=50.0)      # 50 s against ~50 s
    assert "raise train.sample_every" in capsys.readouterr().out
    monitor.warn_if_grids_are_costly(2000, grid_seconds=50.0)
    assert capsys.readouterr().out == ""


def test_one_metric_row_per_eval_every_and_the_best_snapshot_keeps_the_best(tmp_path):
    train(points_config(steps=20, eval_every=5, eval_samples=400, sample_every=None), tmp_path, progress=False)
    evals = [r for r in rows(tmp_path) if "eval/kl" in r]
    assert [r["step"] for r in evals] == [5, 10, 15, 20]
    assert all(0 <= r["eval/high_quality"] <= 1 and 0 <= r["eval/modes"] <= 25 and r["eval/kl"] >= 0 for r in evals)
    best = max(evals, key=lambda r: r["eval/high_quality"])     # first of equals: only a strictly better one replaces
    snapshot = load_snapshot(tmp_path / BEST_SNAPSHOT_FILE)
    assert snapshot["step"] == best["step"]
    assert snapshot["score"] == {"name": "eval/high_quality", "value": best["eval/high_quality"],
                                 "lower_is_better": False}


def test_digit_scores_with_a_given_classifier(tmp_path):
    from sklearn.datasets import load_digits
    digits = load_digits()
    classifier = train_digit_classifier((digits.images[:800] / 16).astype(np.float32), digits.target[:800],
                                        (digits.images[800:900] / 16).astype(np.float32), digits.target[800:900],
                                        epochs=1, width=8)
    save_digit_classifier(classifier, tmp_path / "digits.pt")
    run = tmp_path / "run"
    train(digits_config(steps=6, eval_every=3, eval_samples=32, sample_every=None,
                        eval_classifier=str(tmp_path / "digits.pt")), run, progress=False)
    evals = [r for r in rows(run) if "eval/kl" in r]
    assert [r["step"] for r in evals] == [3, 6]
    # 32 samples hit at most 32 of the 1000 modes, so KL to uniform is at least log(1000 / 32)
    assert all(1 <= r["eval/modes"] <= 32 and r["eval/kl"] >= np.log(1000 / 32) - 1e-9 for r in evals)
    assert all(0 <= r["eval/confident_fraction"] <= 1 and 0 <= r["eval/confident_modes"] <= r["eval/modes"]
               for r in evals)
    best = min(evals, key=lambda r: r["eval/kl"])
    assert load_snapshot(run / BEST_SNAPSHOT_FILE)["score"]["value"] == best["eval/kl"]


def test_the_8x8_digits_train_their_classifier_once_per_run(tmp_path, monkeypatch):
    from ddgan.core import training_scores
    monkeypatch.setattr(training_scores, "DEMO_CLASSIFIER", {"epochs": 1, "batch_size": 256})
    train(digits_config(steps=3, eval_every=3, eval_samples=16, sample_every=None), tmp_path, stop_at=2,
          progress=False)
    saved = (tmp_path / "eval" / "digit_classifier.pt").stat().st_mtime_ns
    train(digits_config(steps=3, eval_every=3, eval_samples=16, sample_every=None), tmp_path, progress=False)
    assert (tmp_path / "eval" / "digit_classifier.pt").stat().st_mtime_ns == saved
    assert [r["step"] for r in rows(tmp_path) if "eval/kl" in r] == [3]


def test_image_datasets_score_fid_against_cached_training_statistics(tmp_path, monkeypatch):
    from ddgan.metrics import fid, inception
    from ddgan.metrics.images import to_uint8
    from ddgan.core.training_scores import build_periodic_score
    calls = []

    def colour_features(x):          # a cheap stand-in for the Inception: mean colour and its square
        calls.append(len(x))
        means = x.mean(dim=(2, 3))
        return torch.cat([means, means ** 2], 1)

    extractor = inception.FeatureExtractor(colour_features, "colour means")
    monkeypatch.setattr(inception, "load_fid_extractor", lambda protocol, weights, device: extractor)
    rng = np.random.default_rng(0)
    training = rng.integers(0, 256, size=(40, 8, 8, 3), dtype=np.uint8)
    config = {"data": {"dataset": "tiny", "shape": [3, 8, 8]}, "train": {"eval_samples": 12, "eval_classifier": None}}
    periodic = build_periodic_score(config, training, tmp_path, "cpu", cache_dir=tmp_path / "cache", batch_size=16)
    assert (periodic.primary, periodic.lower_is_better) == ("eval/fid12", True)
    samples = torch.rand(12, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    value = periodic.score(samples)["eval/fid12"]
    # the same images through clean-fid's resizing and the same features, computed here directly
    fake, real = (fid.array_features(images, "clean", extractor) for images in (to_uint8(samples), training))
    expected = fid.frechet_distance(*fid.feature_statistics(fake), *fid.feature_statistics(real))
    assert value == pytest.approx(expected) and value > 0
    calls.clear()      # a second run finds the training statistics in the cache
    build_periodic_score(config, training, tmp_path, "cpu", cache_dir=tmp_path / "cache", batch_size=16)
    assert calls == []


def test_stackedmnist_scores_need_a_classifier(tmp_path):
    from ddgan.core.training_scores import digit_classifier_for
    with pytest.raises(ConfigError, match="train.eval_classifier=PATH"):
        digit_classifier_for({"dataset": "stackedmnist"}, None, tmp_path, "cpu")


def test_throughput_in_every_log_row(tmp_path):
    train(points_config(steps=8, sample_every=None), tmp_path, progress=False)
    logged = rows(tmp_path)
    assert [r["step"] for r in logged] == [4, 8]
    assert all(r["images_per_second"] > 0 for r in logged)
    assert logged[0]["eta_seconds"] > 0 and logged[1]["eta_seconds"] == 0


def without(record, *keys):
    return {k: v for k, v in record.items() if k not in keys}


def test_resume_after_a_crash_continues_the_same_files_without_duplicates(tmp_path):
    config = points_config(steps=20, sample_every=5, eval_every=5, eval_samples=400, log_every=5)
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    train(config, straight, progress=False)
    # a run killed at step 14 after its logs, grids and scores, but whose last checkpoint is step 10
    train(config, crashed, stop_at=10, progress=False)
    shutil.copy(crashed / STATE_FILE, tmp_path / "state-10.pt")
    train(config, crashed, stop_at=14, progress=False)
    shutil.copy(tmp_path / "state-10.pt", crashed / STATE_FILE)
    best_before = load_snapshot(crashed / BEST_SNAPSHOT_FILE)["score"]
    train(config, crashed, progress=False)

    timing = ("seconds", "images_per_second", "eta_seconds", "eval_seconds")
    steps = [(r["step"], "eval/kl" in r) for r in rows(crashed)]
    assert len(steps) == len(set(steps))
    assert [without(r, *timing) for r in rows(crashed)] == [without(r, *timing) for r in rows(straight)]
    assert grid_steps(crashed) == [5, 10, 14, 15, 20]     # 14: the crashed run's last frame, kept
    best = load_snapshot(crashed / BEST_SNAPSHOT_FILE)
    assert best["score"] == load_snapshot(straight / BEST_SNAPSHOT_FILE)["score"]
    assert best["score"]["value"] >= best_before["value"]


def test_tensorboard_events_hold_the_scalars_and_the_grids_once_after_a_crash(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    config = points_config(steps=12, log_every=4, sample_every=4, eval_every=4, eval_samples=200,
                           checkpoint_every=4, log_with="tensorboard")
    train(config, tmp_path, stop_at=4, progress=False)
    shutil.copy(tmp_path / STATE_FILE, tmp_path.parent / "state-4.pt")
    train(config, tmp_path, stop_at=8, progress=False)      # killed after step 8's events, before its checkpoint
    shutil.copy(tmp_path.parent / "state-4.pt", tmp_path / STATE_FILE)
    train(config, tmp_path, progress=False)
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    logged = rows(tmp_path)
    assert {"loss_d_real", "loss_d_fake", "loss_g", "r1", "images_per_second", "lr/generator",
            "lr/discriminator", "eval/kl", "eval/high_quality", "eval/modes"} <= set(events.Tags()["scalars"])
    assert [(e.step, pytest.approx(e.value)) for e in events.Scalars("loss_g")] == \
        [(r["step"], r["loss_g"]) for r in logged if "loss_g" in r]
    assert [e.step for e in events.Scalars("eval/kl")] == [4, 8, 12]
    images = events.Images("samples")
    assert [i.step for i in images] == [4, 8, 12] and (images[0].width, images[0].height) == (400, 400)


def test_log_with_none_needs_none_of_the_extras(tmp_path, monkeypatch):
    for name in ("tensorboard", "torch.utils.tensorboard", "wandb"):
        monkeypatch.setitem(sys.modules, name, None)          # any import of them now fails
    train(points_config(steps=4, sample_every=4), tmp_path, progress=False)
    assert grid_steps(tmp_path) == [4] and not (tmp_path / "tensorboard").exists()


@pytest.mark.parametrize("name", ["tensorboard", "wandb"])
def test_a_missing_tracker_package_is_one_line_before_training(tmp_path, capsys, monkeypatch, name):
    monkeypatch.setitem(sys.modules, name, None)
    code = main(["train", "--preset", "mixture25", "--set", f"train.log_with={name}", "--run-dir", str(tmp_path),
                 "--quiet"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (f"ddgan train: error: train.log_with={name} needs the {name} "
                                               f"package: pip install 'ddgan[{name}]'")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_wandb_without_login_says_how(tmp_path, capsys, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setattr(wandb, "login", lambda prompt=True, **_: False)
    code = main(["train", "--preset", "mixture25", "--set", "train.log_with=wandb", "--run-dir", str(tmp_path),
                 "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "wandb login" in err and "WANDB_MODE=offline" in err


@pytest.mark.slow
def test_wandb_offline_keeps_scalars_and_grids_on_disk(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    train(points_config(steps=8, sample_every=4, log_with="wandb"), tmp_path, progress=False)
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert run.name.endswith((tmp_path / "wandb-run-id.txt").read_text().strip())
    images = (run / "files" / "media" / "images").glob("samples_*.png")
    assert sorted(p.name.split("_")[1] for p in images) == ["4", "8"]


@pytest.mark.parametrize("override,message", [
    ("train.log_with=mlflow", "train.log_with must be one of 'none', 'tensorboard', 'wandb', got 'mlflow'"),
    ("train.sample_every=0", "train.sample_every must be an integer >= 1 or null, got 0"),
    ("train.eval_every=-5", "train.eval_every must be an integer >= 1 or null, got -5"),
    ("train.eval_samples=1", "train.eval_samples must be an integer >= 2"),
])
def test_bad_monitoring_options_are_one_line(tmp_path, capsys, override, message):
    assert main(["train", "--preset", "mixture25", "--set", override, "--run-dir", str(tmp_path), "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_monitoring_keys_may_change_on_resume(tmp_path):
    train(points_config(steps=4, sample_every=None), tmp_path, stop_at=2, progress=False)
    trainer = train(points_config(steps=4, sample_every=2, eval_every=4, eval_samples=100), tmp_path, progress=False)
    assert trainer.step == 4 and grid_steps(tmp_path) == [4]
    assert torch.load(tmp_path / STATE_FILE, weights_only=True)["step"] == 4
