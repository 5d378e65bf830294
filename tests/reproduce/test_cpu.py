"""The cpu profile's plumbing: configs, targets, the local MNIST archive, and table3 end to end at toy scale.

The real cpu runs take tens of minutes; here the profile's budgets and sample counts are shrunk
(monkeypatched constants) so the same stages run in seconds on tiny archives in the real formats.
"""
import csv
import json

import numpy as np
import pytest

from baselines.presets import cifar10_config
from ddgan.core.checkpoint import save_snapshot
from ddgan.datasets import open_prepared, prepare
from ddgan.datasets.folder import prepare_folder
from ddgan.presets import get_preset
from reproduce import pipeline, profiles, targets
from reproduce.launch import TRAIN_OUTPUT
from reproduce import run as reproduce_run
from reproduce.compare import write_comparison
from reproduce.cpu_report import TABLE3_FIELDS, cpu_section, training_state
from reproduce.evaluation import logged_training_seconds, profile_reference, profile_sample_count, training_record
from reproduce.local_archives import LocalArchiveError, mnist_archive
from reproduce.pipeline import RunOptions, run_target
from reproduce.profiles import CPU_WIDTH, ProfileError, cpu_mixed_precision, make_profile
from reproduce.smoke_data import SMOKE_COUNTS, spec_overrides
from reproduce.targets import TargetError, get_target


def test_cpu_profile_folders_and_small_networks():
    profile = make_profile("cpu")
    assert (str(profile.work), str(profile.results), profile.data_root) == ("runs/cpu", "results/cpu", None)
    config = profile.scale_config(get_preset("stackedmnist"))
    generator, discriminator = config["networks"]["generator"], config["networks"]["discriminator"]
    assert (generator["arch"], generator["image_size"], generator["nz"], generator["output"]) == \
        ("conv_unet", 32, 100, "tanh")
    assert discriminator["arch"] == "conv_discriminator"
    for spec in (generator, discriminator):
        assert spec["channel_mult"] == CPU_WIDTH["channel_mult"]
    # StackedMNIST's networks are wider than the common width (a base-16 G drew blobs, a base-16 D sat at chance)
    assert generator["base_channels"] == discriminator["base_channels"] == 32 > CPU_WIDTH["base_channels"]
    assert discriminator.get("minibatch_std", False) is False
    assert config["optim"]["lr"] == {"generator": 2e-4, "discriminator": 2e-4} and config["optim"]["ema_decay"] == 0.999
    # 10,000 steps in bf16 where the CPU has it, scored every 500 steps with the classifier the pipeline trains
    # first (the best snapshot is evaluated)
    assert (config["train"]["steps"], config["train"]["eval_every"], config["train"]["eval_samples"]) == (10_000, 500, 5000)
    assert config["train"]["mixed_precision"] == cpu_mixed_precision(announce=lambda line: None)
    assert config["train"]["eval_classifier"] == str(profile.digit_classifier) == "runs/cpu/stackedmnist/digit_classifier.pt"
    cifar = profile.scale_config(get_preset("cifar10"))
    assert cifar["networks"]["generator"]["base_channels"] == CPU_WIDTH["base_channels"]
    assert cifar["train"].get("eval_every") is None and cifar["train"].get("eval_classifier") is None
    # the method is the paper's but for StackedMNIST's mode-seeking term; the budget and EMA are the profile's
    assert config["method"] == {**get_preset("stackedmnist")["method"], "diversity_weight": 0.1}
    assert cifar["method"] == get_preset("cifar10")["method"]
    assert config["train"]["steps"] == profiles.CPU_DDGAN_STEPS["stackedmnist"] and config["train"]["epochs"] is None
    assert cifar["optim"]["ema_decay"] == profiles.CPU_OPTIM["ema_decay"] and config["name"].endswith("-cpu")


def test_cpu_ddpm_has_the_generator_width_and_the_ddgan_wall_clock():
    profile = make_profile("cpu")
    ddpm = profile.scale_config({**cifar10_config("ddpm"), "data": {**cifar10_config("ddpm")["data"],
                                                                    "dataset": "mine"}})
    ddgan = profile.scale_config({**get_preset("cifar10"), "data": {**get_preset("cifar10")["data"],
                                                                    "dataset": "mine"}})
    denoiser, generator = ddpm["networks"]["denoiser"], ddgan["networks"]["generator"]
    assert denoiser["arch"] == generator["arch"] == "conv_unet"
    assert (denoiser["base_channels"], denoiser["channel_mult"]) == (generator["base_channels"], generator["channel_mult"])
    assert "nz" not in denoiser and denoiser["output"] == "linear"
    assert ddpm["train"]["steps"] == round(ddgan["train"]["steps"] * profiles.DDGAN_TO_DDPM_STEP_COST)
    # no 1000-step monitoring grids inside the DDPM's budget (the DDGAN's 4-step ones cost little)
    assert ddpm["train"]["sample_every"] is None and "sample_every" not in ddgan["train"]   # the default: 1000
    assert ddpm["optim"]["lr"] == profiles.CPU_DDPM_OPTIM["lr"]
    with pytest.raises(ProfileError, match="no small network for conv_decoder, conv_encoder"):
        profile.scale_config(cifar10_config("vae"))


def test_targets_by_profile():
    table3 = get_target("table3", "cpu")
    steps = [training.config()["method"]["num_timesteps"] for training in table3.trainings]
    assert steps == [4, 1] and [t.run for t in table3.trainings] == ["ddgan-T4", "ddgan-T1"]
    assert len(get_target("table3", "paper").trainings) == 1
    trilemma = get_target("trilemma", "cpu")
    assert [e.sample_options for e in trilemma.trainings[1].evaluations] == [{"steps": 4}, {"steps": 100}]
    assert trilemma.own_images == 32
    with pytest.raises(TargetError, match="--profile cpu"):
        get_target("trilemma", "paper")
    with pytest.raises(TargetError, match="needs the paper profile"):
        get_target("cifar10", "cpu")


def test_cpu_sample_counts_and_fid_reference(tmp_path, monkeypatch):
    profile = make_profile("cpu", tmp_path / "runs", tmp_path / "results", tmp_path / "data")
    assert profile_sample_count(profile, ["modes"]) == profiles.CPU_MODE_SAMPLES
    assert profile_sample_count(profile, ["fid", "time"]) == profiles.CPU_FID_SAMPLES
    assert profile_sample_count(profile, ["time"]) is None
    images = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    source = tmp_path / "mine.npy"
    np.save(source, images)
    prepare_folder(source, "mine", 32, tmp_path / "data", progress=False)
    monkeypatch.setattr(profiles, "CPU_FID_REFERENCE", 5)
    reference, count = profile_reference(profile, "mine")
    assert count == 5 and np.array_equal(reference, images[:5])
    monkeypatch.setattr(profiles, "CPU_FID_REFERENCE", None)
    reference, count = profile_reference(profile, "mine")
    assert str(reference).endswith("mine/train/images.npy") and count is None


def small_mnist_npz(path, train=SMOKE_COUNTS["mnist"]["train"], test=SMOKE_COUNTS["mnist"]["test"]):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, train).astype(np.uint8),
              "x_test": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, test).astype(np.uint8)}
    np.savez(path, **arrays)
    return arrays


def test_local_mnist_archive_is_read_by_the_real_reader(tmp_path):
    arrays = small_mnist_npz(tmp_path / "mnist.npz", train=30, test=10)
    archive = mnist_archive(tmp_path / "mnist.npz", tmp_path / "mnist-dataset.zip")
    prepare("mnist", tmp_path / "data", archive=archive, download=False, progress=False,
            expected_counts={"train": 30, "test": 10})
    for split in ("train", "test"):
        prepared = open_prepared("mnist", tmp_path / "data", split)
        x, y = ("x_train", "y_train") if split == "train" else ("x_test", "y_test")
        assert np.array_equal(prepared.images[..., 0], arrays[x]) and np.array_equal(prepared.labels, arrays[y])
    np.savez(tmp_path / "bad.npz", x_train=arrays["x_train"])
    with pytest.raises(LocalArchiveError, match="lacks y_train, x_test, y_test"):
        mnist_archive(tmp_path / "bad.npz", tmp_path / "bad.zip")


@pytest.fixture
def toy_cpu_scale(monkeypatch):
    """The cpu profile at toy scale: a few steps of batch 4, a few samples, smoke-sized MNIST."""
    monkeypatch.setattr(profiles, "CPU_TRAIN", {**profiles.CPU_TRAIN, "batch_size": 4, "checkpoint_every": 2,
                                                "log_every": 1})
    monkeypatch.setattr(profiles, "CPU_DDGAN_STEPS", {"stackedmnist": 2, "cifar10": 2})
    monkeypatch.setattr(profiles, "CPU_MODE_SAMPLES", 40)
    stacked = profiles.CPU_DDGAN_SETTINGS["stackedmnist"]
    monkeypatch.setitem(profiles.CPU_DDGAN_SETTINGS, "stackedmnist",
                        {**stacked, "generator": {"base_channels": 8}, "discriminator": {"base_channels": 8},
                         "train": {"eval_every": 1, "eval_samples": 8}})
    monkeypatch.setattr(pipeline, "CPU_CLASSIFIER", {"epochs": 1, "batch_size": 32})
    real_prepare = prepare
    monkeypatch.setattr(pipeline, "prepare", lambda name, root, **kwargs: real_prepare(
        name, root, **{**kwargs, "progress": False, **spec_overrides(name)}))


def test_cpu_table3_end_to_end_then_resumes(tmp_path, toy_cpu_scale):
    small_mnist_npz(tmp_path / "mnist.npz")
    archive = mnist_archive(tmp_path / "mnist.npz", tmp_path / "mnist-dataset.zip")
    profile = make_profile("cpu", tmp_path / "runs", tmp_path / "results", tmp_path / "data")
    log = []
    run_target(get_target("table3", "cpu"), profile, RunOptions(archive=str(archive), device="cpu", log=log.append))
    with open(tmp_path / "results" / "table3.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert list(table[0]) == list(TABLE3_FIELDS)
    assert [(row["method"], row["T"]) for row in table] == [("data", ""), ("ddgan", "4"), ("ddgan", "1")]
    for row in table:
        assert 1 <= int(row["modes"]) <= 40 and float(row["kl"]) >= 0 and row["n_samples"] == "40"
        assert 0 <= float(row["confident_fraction"]) <= 1 and 0 <= int(row["confident_modes"]) <= int(row["modes"])
    assert all(int(row["train_steps"]) == 2 and float(row["train_seconds"]) > 0 for row in table[1:])
    figures = sorted(p.name for p in (tmp_path / "results" / "figures").glob("*.png"))
    assert figures == ["stackedmnist-ddgan-T1.png", "stackedmnist-ddgan-T4.png", "stackedmnist-periodic-scores.png",
                       "stackedmnist-training-images.png"]
    summary = (tmp_path / "results" / "summary.md").read_text()
    assert f"generator conv_unet 8x{CPU_WIDTH['channel_mult']}" in summary and "stackedmnist-ddgan-T1-cpu" in summary
    rows = [json.loads(line) for line in (tmp_path / "results" / "stackedmnist" / "metrics.jsonl").read_text().splitlines()]
    assert {row["profile"] for row in rows} == {"cpu"} and all(row["commit"] or row["commit"] is None for row in rows)
    # scored at steps 1 and 2; each run is evaluated with the snapshot of its lowest periodic KL
    for row, csv_row in zip(rows[1:], table[1:]):
        run_dir = profile.run_dir("stackedmnist", f"ddgan-T{csv_row['T']}")
        scores = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if "eval/kl" in line]
        best = min(scores, key=lambda score: score["eval/kl"])
        assert row["checkpoint"] == str(run_dir / "snapshot-best.pt")
        assert row["training"]["snapshot_step"] == best["step"] == int(csv_row["snapshot_step"])
        assert row["training"]["selected_by"]["value"] == best["eval/kl"]
        assert [score["step"] for score in row["training"]["periodic_scores"]] == [1, 2]
        assert all(0 <= score["eval/confident_fraction"] <= 1 for score in row["training"]["periodic_scores"])
    # a second run finds every stage finished and adds no rows
    log.clear()
    run_target(get_target("table3", "cpu"), profile, RunOptions(archive=str(archive), device="cpu", log=log.append))
    assert not any(line.startswith("[run]") for line in log)
    assert len((tmp_path / "results" / "stackedmnist" / "metrics.jsonl").read_text().splitlines()) == len(rows)


def test_cpu_trainings_side_by_side_in_subprocesses(tmp_path, toy_cpu_scale):
    """--jobs 2: both trainings of table3 run at once, each in its own process with its output in its run
    directory; the evaluations then find them finished."""
    small_mnist_npz(tmp_path / "mnist.npz")
    archive = mnist_archive(tmp_path / "mnist.npz", tmp_path / "mnist-dataset.zip")
    profile = make_profile("cpu", tmp_path / "runs", tmp_path / "results", tmp_path / "data")
    log = []
    run_target(get_target("table3", "cpu"), profile,
               RunOptions(archive=str(archive), device="cpu", log=log.append, jobs=2))
    assert any("2 trainings, 2 at a time" in line for line in log)
    for run in ("ddgan-T4", "ddgan-T1"):
        output = (profile.run_dir("stackedmnist", run) / TRAIN_OUTPUT).read_text()
        assert f"starting {profile.run_dir('stackedmnist', run)} fresh at step 0 of 2" in output
    with open(tmp_path / "results" / "table3.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert [(row["method"], row["T"], row["train_steps"]) for row in table] == \
        [("data", "", ""), ("ddgan", "4", "2"), ("ddgan", "1", "2")]


def test_paper_comparison_shows_cpu_rows_in_their_own_section(tmp_path):
    results = tmp_path / "results"
    (results / "cpu" / "stackedmnist").mkdir(parents=True)
    row = {"method": "ddgan", "variant": "T4", "dataset": "stackedmnist", "protocol": None, "profile": "cpu",
           "metrics": {"modes": 950, "kl": 0.3}, "n_samples": 26000, "commit": "abc", "date": "2026-01-01",
           "config": {"method": {"num_timesteps": 4}}, "training": {"steps": 2000, "seconds": 1200.0}}
    (results / "cpu" / "stackedmnist" / "metrics.jsonl").write_text(json.dumps(row) + "\n")
    folder = write_comparison(make_profile("paper", tmp_path / "runs", results), log=lambda *_: None)
    text = (folder / "comparison.md").read_text()
    # a row scored before the classifier's confidence was recorded: its confident columns stay empty
    assert "Reduced scale on a CPU" in text and "| ddgan | 4 | 4 | 950 | 0.3 | – | – | 26000 | 1200.0 | 2000 |" in text
    with open(folder / "table3.csv", newline="") as file:        # the paper cells stay empty
        assert all(cell["reproduced"] == "" for cell in csv.DictReader(file))
    assert "Not run yet" in "\n".join(cpu_section(tmp_path / "nothing"))


def test_the_classifier_line_names_the_classifier_of_the_rows_shown(tmp_path):
    """A rerun scored with a retrained classifier replaces the rows: the line must not name the old one."""
    folder = tmp_path / "stackedmnist"
    folder.mkdir()
    rows = [{"method": method, "variant": variant, "dataset": "stackedmnist", "profile": "cpu", "date": date,
             "metrics": {"modes": modes, "kl": 1.0}, "n_samples": 26000, "feature_weights": {"digits": digits}}
            for date, digits, modes in (("2026-01-01", "classifier old (test accuracy 0.98)", 800),
                                        ("2026-02-01", "classifier new (test accuracy 0.99)", 900))
            for method, variant in (("data", None), ("ddgan", "T4"))]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    text = "\n".join(cpu_section(tmp_path))
    assert "Modes are labelled by the classifier new (test accuracy 0.99)." in text and "classifier old" not in text


def test_trilemma_from_your_images_to_its_table(tmp_path, toy_cpu_scale, monkeypatch):
    """DDGAN T = 4 and the DDPM at few and many steps, from an .npz of images (time only: FID is costly)."""
    monkeypatch.setattr(targets, "TRILEMMA_METRICS", ("time",))
    monkeypatch.setattr(targets, "DDPM_MANY_STEPS", 6)
    monkeypatch.setattr(profiles, "DDGAN_TO_DDPM_STEP_COST", 1.5)
    images = np.random.default_rng(2).integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "mine.npz", x_train=images, y_train=np.zeros(24))
    profile = make_profile("cpu", tmp_path / "runs", tmp_path / "results", tmp_path / "data")
    run_target(get_target("trilemma", "cpu"), profile,
               RunOptions(archive=str(tmp_path / "mine.npz"), device="cpu", log=lambda *_: None))
    assert np.array_equal(open_prepared(targets.TRILEMMA_DATASET, tmp_path / "data").images, images)
    with open(tmp_path / "results" / "cifar10.csv", newline="") as file:
        table = {row["method"]: row for row in csv.DictReader(file)}
    assert set(table) == {"ddgan T4", "ddpm S4", "ddpm S6"}
    assert [table[m]["nfe"] for m in ("ddgan T4", "ddpm S4", "ddpm S6")] == ["4", "4", "6"]
    assert (table["ddgan T4"]["train_steps"], table["ddpm S4"]["train_steps"]) == ("2", "3")
    assert all(float(row["sample_seconds"]) > 0 for row in table.values())
    figures = {p.name for p in (tmp_path / "results" / "figures").glob("*.png")}
    assert figures == {f"{targets.TRILEMMA_DATASET}-{name}.png" for name in
                       ("ddgan-T4", "ddpm-S4", "ddpm-S6", "training-images")}


def test_training_seconds_add_up_over_resumed_processes(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": step, "seconds": seconds}) + "\n"
                           for step, seconds in [(100, 50.0), (200, 101.5), (300, 40.0), (400, 90.0)]))
    assert logged_training_seconds(log) == 191.5
    assert logged_training_seconds(tmp_path / "none.jsonl") is None


def test_a_snapshot_of_an_unfinished_training_says_so(tmp_path):
    config = make_profile("cpu").scale_config(get_preset("stackedmnist"))
    save_snapshot(tmp_path / "snapshot-00000200.pt", config, 200, {})
    (tmp_path / "log.jsonl").write_text("".join(json.dumps({"step": step, "seconds": 10.0 * step}) + "\n"
                                                for step in (100, 200, 300)))
    record = training_record(tmp_path, tmp_path / "snapshot-00000200.pt")
    assert record == {"steps": 200, "of_steps": config["train"]["steps"], "finished": False, "seconds": 2000.0}
    assert training_state({"training": record}) == f"interrupted at 200 of {config['train']['steps']} steps"
    assert training_record(tmp_path, tmp_path / "missing.pt") is None


def test_trilemma_needs_your_images(capsys, tmp_path):
    status = reproduce_run.main(["trilemma", "--profile", "cpu", "--work", str(tmp_path / "runs"),
                                 "--results", str(tmp_path / "results"), "--data-root", str(tmp_path / "data")])
    assert status == 2 and "ARCHIVE=PATH" in capsys.readouterr().err
