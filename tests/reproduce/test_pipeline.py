"""Pieces of the reproduce pipeline: stage markers, smoke archives, profiles, launch commands, error paths."""
import json
import os

import pytest
import torch

from baselines.presets import cifar10_config
from ddgan.core.config import ConfigError
from ddgan.datasets import PreparedDatasetError, check_archive, get_spec
from ddgan.nets import build_network
from ddgan.presets import get_preset
from reproduce import run as reproduce_run
from reproduce.evaluation import ensure_recorded, prepared_training_images
from reproduce.launch import check_batch_split, train_command, train_run
from reproduce.pipeline import RunOptions, prepare_datasets, train_stage
from reproduce.profiles import SMOKE_SAMPLING_STEPS, ProfileError, make_profile
from reproduce.smoke_data import SMOKE_COUNTS, smoke_archive, spec_overrides
from reproduce.stages import Stages
from reproduce.targets import Training

from tests.conftest import ROOT


# ------------------------------------------------------------------ stages

def test_a_finished_stage_is_skipped_and_a_failed_one_runs_again(tmp_path):
    calls, logged = [], []
    stages = Stages(tmp_path, logged.append)

    def work(value):
        calls.append(value)
        if value == "fail":
            raise RuntimeError("interrupted")
        return {"value": value}

    with pytest.raises(RuntimeError):
        stages.run("sample", work, "fail")
    assert stages.done("sample") is None and not list((tmp_path / "stages").glob(".*"))   # no marker, no temp file
    assert stages.run("sample", work, 1) == {"value": 1}
    assert stages.run("sample", work, 2) == {"value": 1}            # skipped: the first result is kept
    assert calls == ["fail", 1]
    marker = json.loads((tmp_path / "stages" / "sample.json").read_text())
    assert marker["result"] == {"value": 1} and marker["seconds"] >= 0
    assert logged[-1].startswith("[skip] sample")


def test_deleted_result_rows_are_put_back_once(tmp_path):
    results = tmp_path / "metrics.jsonl"
    rows = [{"row_id": "a", "metrics": {}}, {"row_id": "b", "metrics": {}}]
    results.write_text(json.dumps(rows[0]) + "\n")
    ensure_recorded(rows, results)
    ensure_recorded(rows, results)
    assert [json.loads(line)["row_id"] for line in results.read_text().splitlines()] == ["a", "b"]


# ------------------------------------------------------------------ smoke data and profiles

@pytest.mark.parametrize("name", ["cifar10", "mnist", "celeba_256", "lsun_church"])
def test_smoke_archives_are_read_by_the_real_readers(tmp_path, name):
    archive = smoke_archive(name, tmp_path / "archives")
    assert archive.name == get_spec(name).archive_name
    counts = check_archive(name, archive, tmp_path / "data", progress=False, **spec_overrides(name))
    assert counts == {split: SMOKE_COUNTS[name][split] for split in get_spec(name).splits}


def test_smoke_profile_shrinks_networks_but_keeps_the_method(tmp_path):
    profile = make_profile("smoke", work=tmp_path)
    for preset in ("cifar10", "cifar10_eps", "celeba_256", "lsun_church", "stackedmnist"):
        paper = get_preset(preset)
        smoke = profile.scale_config(paper)
        assert smoke["method"] == paper["method"]
        assert smoke["data"]["root"] == str(tmp_path / "data")
        assert smoke["train"]["steps"] == 3 and smoke["train"]["epochs"] is None
        for name, spec in smoke["networks"].items():
            assert spec["arch"] == paper["networks"][name]["arch"]
            assert sum(p.numel() for p in build_network(spec).parameters()) < 300_000
        assert smoke["networks"]["generator"].get("use_tanh", True) == (preset != "cifar10_eps")
    for method in ("ddpm", "vae", "ldm", "vdm"):        # Table 1's baselines
        paper, smoke = cifar10_config(method), profile.scale_config(cifar10_config(method))
        assert sum(p.numel() for spec in smoke["networks"].values() for p in build_network(spec).parameters()) < 300_000
        assert smoke["method"].get("sample_steps", 0) <= SMOKE_SAMPLING_STEPS
        assert smoke["method"]["name"] == paper["method"]["name"]
    assert profile.sampling_options({"sampler": "ddim", "steps": 50}) == {"sampler": "ddim",
                                                                          "steps": SMOKE_SAMPLING_STEPS}
    paper = make_profile("paper", data_root=tmp_path)
    assert paper.scale_config(get_preset("cifar10")) == {**get_preset("cifar10"), "data": {
        **get_preset("cifar10")["data"], "root": str(tmp_path)}}
    assert paper.sampling_options({"steps": 50}) == {"steps": 50}
    with pytest.raises(ProfileError, match="paper.*smoke"):
        make_profile("quick")


def test_launch_commands_and_batch_split(tmp_path):
    single, several = train_command(tmp_path, 1), train_command(tmp_path, 4)
    assert "--multi_gpu" not in single and several[several.index("--num_processes") + 1] == "4"
    assert "--multi_gpu" in several
    assert several[-6:] == ["ddgan", "train", "--config", str(tmp_path / "pipeline-config.json"), "--run-dir",
                            str(tmp_path)]
    check_batch_split(get_preset("cifar10"), 4)
    with pytest.raises(ConfigError, match="256 .* does not split over 3 processes"):
        check_batch_split(get_preset("cifar10"), 3)


def test_a_finished_run_with_another_config_is_refused(tmp_path):
    profile = make_profile("smoke", work=tmp_path)
    run_dir = profile.run_dir("cifar10", "ddgan-T4")
    Stages(run_dir).run("train", lambda: {"config_sha256": "another"})
    training = Training("cifar10", "ddgan-T4", lambda: get_preset("cifar10"), ())
    with pytest.raises(ConfigError, match="another config"):
        train_stage(profile, training, RunOptions(log=lambda text: None))


# ------------------------------------------------------------------ error paths of the command line

def run_main(capsys, *args):
    status = reproduce_run.main(list(args))
    return status, capsys.readouterr().err


def test_unknown_target_and_profile(capsys, tmp_path):
    status, error = run_main(capsys, "table9", "--work", str(tmp_path))
    assert status == 2 and "unknown target 'table9'" in error and "table2" in error
    status, error = run_main(capsys, "table2", "--profile", "quick", "--work", str(tmp_path))
    assert status == 2 and "unknown profile 'quick'" in error


def test_archive_option_belongs_to_the_paper_profile(capsys, tmp_path):
    status, error = run_main(capsys, "cifar10", "--profile", "smoke", "--work", str(tmp_path), "--archive", "x.zip")
    assert status == 2 and "--archive" in error and "smoke profile writes its own" in error


def test_no_kaggle_credentials_give_the_fix(capsys, tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("KAGGLE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    status, error = run_main(capsys, "table3", "--work", str(tmp_path / "runs"), "--results",
                             str(tmp_path / "results"), "--data-root", str(tmp_path / "data"))
    assert status == 2
    assert "no Kaggle credentials found" in error and "kaggle.json" in error and "--archive" in error
    assert not (tmp_path / "results").exists()


def test_missing_inception_score_weights_stop_the_paper_profile_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DDGAN_IS_WEIGHTS", str(tmp_path / "absent.pth"))
    status, error = run_main(capsys, "cifar10", "--work", str(tmp_path / "runs"), "--data-root", str(tmp_path / "data"))
    assert status == 2 and "Inception Score weights" in error and "absent.pth" in error
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()


def test_eval_official_needs_a_checkpoint_in_the_paper_profile(capsys, tmp_path):
    status, error = run_main(capsys, "eval-official", "--work", str(tmp_path))
    assert status == 2 and "CKPT=" in error
    status, error = run_main(capsys, "eval-official", "--work", str(tmp_path), "--preset", "mixture25")
    assert status == 2 and "PRESET='mixture25'" in error


def test_missing_prepared_data_names_the_prepare_command(tmp_path):
    with pytest.raises(PreparedDatasetError, match="ddgan data prepare cifar10"):
        prepared_training_images("cifar10", tmp_path)


def test_several_processes_train_through_accelerate_launch(tmp_path, monkeypatch):
    """Without a GPU, processes started by `accelerate launch --multi_gpu` train together over gloo."""
    profile = make_profile("smoke", work=tmp_path)
    prepare_datasets(profile, ["cifar10"], RunOptions(log=lambda text: None))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run_dir = profile.run_dir("cifar10", "ddgan-T4")
    result = train_run(profile.scale_config(get_preset("cifar10")), run_dir, processes=2)
    assert result["steps"] == 3 and result["processes"] == 2
    state = torch.load(run_dir / "training-state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2


def test_print_commands_writes_the_configs(capsys, tmp_path):
    assert reproduce_run.main(["table2", "--profile", "smoke", "--work", str(tmp_path), "--print-commands",
                               "--num-processes", "4"]) == 0
    commands = [line for line in capsys.readouterr().out.splitlines() if "accelerate.commands.launch" in line]
    assert len(commands) == 8 and all("--multi_gpu" in line for line in commands)
    config = json.loads((tmp_path / "cifar10" / "ddgan-T8" / "pipeline-config.json").read_text())
    assert config["method"]["num_timesteps"] == 8
    assert not (tmp_path / "cifar10" / "ddgan-T8" / "training-state.pt").exists()


def test_an_interrupted_in_process_training_stops_the_target(tmp_path, monkeypatch):
    """SIGTERM during a pipeline's in-process training: the trainer saves its state, and train_run raises
    instead of returning, so the target neither evaluates nor marks the unfinished run as trained."""
    import signal

    from ddgan.core.trainer import Trainer
    from reproduce.launch import TrainingInterrupted
    profile = make_profile("smoke", work=tmp_path)
    prepare_datasets(profile, ["cifar10"], RunOptions(log=lambda text: None))
    config = profile.scale_config(get_preset("cifar10"))
    config["train"]["steps"] = 50
    original = Trainer.stop_and_save_due

    def signal_at_step_2(self, stop, last_save):
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)    # a real signal, caught by the trainer's StopRequest
        return original(self, stop, last_save)
    monkeypatch.setattr(Trainer, "stop_and_save_due", signal_at_step_2)
    run_dir = profile.run_dir("cifar10", "ddgan-T4")
    with pytest.raises(TrainingInterrupted, match="SIGTERM stopped the training .* at step 2 .*again to resume") as stopped:
        train_run(config, run_dir, processes=1, progress=False)
    assert stopped.value.signum == signal.SIGTERM
    assert torch.load(run_dir / "training-state.pt", weights_only=True)["step"] == 2
