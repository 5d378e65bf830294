"""The shared trainer: exact resume, atomic checkpoints, clear errors."""
import json
import math

import pytest
import torch

from ddgan.cli import main
from ddgan.core.checkpoint import load_snapshot
from ddgan.core.config import ConfigError, validate
from ddgan.core.trainer import STATE_FILE, Trainer, train
from ddgan.presets import mixture25_ddgan, stacked_digits_ddgan


def small_config(steps=24):
    config = mixture25_ddgan(num_timesteps=2, steps=steps)
    config["networks"]["generator"].update(hidden=32, depth=2)
    config["networks"]["discriminator"].update(hidden=32, depth=2)
    config["method"]["lazy_reg"] = 5            # lazy R1 must land on the same steps after resume
    config["data"]["size"] = 2_000              # several epochs: reshuffles must resume too
    config["train"].update(batch_size=128, log_every=4, checkpoint_every=10)
    config["optim"]["lr_schedule"] = "cosine"
    config["train"]["epochs"] = None
    return config


def parameters(trainer):
    return {**{f"m.{k}": v for k, v in trainer.method.state_dict().items()},
            **{f"ema.{k}": v for k, v in trainer.ema.net.state_dict().items()}}


@pytest.mark.parametrize("interrupt_at", [7, 16])
def test_interrupted_and_resumed_run_ends_bit_for_bit_equal(tmp_path, interrupt_at):
    config = small_config()
    straight = train(config, tmp_path / "straight", progress=False)
    train(config, tmp_path / "resumed", stop_at=interrupt_at, progress=False)
    resumed = train(config, tmp_path / "resumed", progress=False)
    assert resumed.step == straight.step == 24
    a, b = parameters(straight), parameters(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and the run actually trained: the weights moved away from their initialisation
    fresh = Trainer(config, tmp_path / "fresh")
    assert not torch.equal(fresh.method.networks["generator"].out.weight, straight.method.networks["generator"].out.weight)


def test_run_directory_holds_config_log_state_and_snapshot(tmp_path):
    config = small_config(steps=8)
    train(config, tmp_path, progress=False)
    saved = json.loads((tmp_path / "config.json").read_text())
    # the complete config: the preset's keys as given, every other key at its Option default
    assert saved["method"] == validate(config)["method"] and saved["train"]["steps"] == 8
    assert config["method"].items() <= saved["method"].items() and "diversity_weight" not in config["method"]
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [4, 8]
    assert {"loss_d_real", "loss_d_fake", "loss_g", "lr", "seconds"} <= set(log[0])
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    snapshot = load_snapshot(tmp_path / "snapshot.pt")
    assert snapshot["step"] == 8 and "out.weight" in snapshot["network"]
    state = torch.load(tmp_path / STATE_FILE, weights_only=True)
    assert set(state["optimizers"]) == {"generator", "discriminator"} and len(state["rng"]) == 1


def test_resuming_with_another_config_names_the_differences(tmp_path):
    train(small_config(steps=4), tmp_path, progress=False)
    changed = small_config(steps=4)
    changed["method"]["num_timesteps"] = 4
    changed["networks"]["generator"]["hidden"] = 64
    with pytest.raises(ConfigError) as error:
        train(changed, tmp_path, progress=False)
    assert "method.num_timesteps: checkpoint has 2, this run has 4" in str(error.value)
    assert "networks.generator.hidden" in str(error.value)


def test_a_checkpoint_whose_weights_do_not_fit_names_keys_and_sizes(tmp_path):
    config = small_config(steps=4)
    train(config, tmp_path, progress=False)
    state = torch.load(tmp_path / STATE_FILE, weights_only=True)
    state["networks"]["generator"]["out.weight"] = torch.zeros(3, 32)
    del state["networks"]["generator"]["out.bias"]
    torch.save(state, tmp_path / STATE_FILE)
    with pytest.raises(ConfigError) as error:
        train(config, tmp_path, progress=False)
    message = str(error.value)
    assert "out.bias" in message and "out.weight: checkpoint (3, 32) vs model (2, 32)" in message


def test_truncated_checkpoint_is_reported_not_a_traceback(tmp_path):
    train(small_config(steps=4), tmp_path, progress=False)
    data = (tmp_path / STATE_FILE).read_bytes()
    (tmp_path / STATE_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="truncated"):
        train(small_config(steps=4), tmp_path, progress=False)


@pytest.mark.parametrize("override,message", [
    ("method.name=gan", "unknown method 'gan'"),
    ("method.num_timesteps=0", "num_timesteps must be an integer >= 1"),
    ("data.shape=[3,8,8]", "has examples of shape (2,)"),
    ("train.batch_size=200000", "fewer than one batch"),
    ("train.mixed_precision=fp16", "use bf16"),
])
def test_cli_reports_bad_input_clearly(tmp_path, capsys, override, message):
    code = main(["train", "--preset", "mixture25", "--set", override, "--run-dir", str(tmp_path), "--quiet"])
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_unknown_preset_and_missing_data(tmp_path, capsys, monkeypatch):
    assert main(["train", "--preset", "imagenet", "--run-dir", str(tmp_path)]) == 2
    assert "unknown preset 'imagenet'" in capsys.readouterr().err
    monkeypatch.setenv("DDGAN_DATA", str(tmp_path / "empty"))
    code = main(["train", "--preset", "stacked_digits", "--set", "data.dataset=cifar10", "data.shape=[3,32,32]",
                 "--run-dir", str(tmp_path / "run"), "--quiet"])
    assert code == 2
    assert "ddgan data prepare cifar10" in capsys.readouterr().err


def test_image_method_trains_through_the_same_loop(tmp_path):
    config = stacked_digits_ddgan(steps=3)
    config["networks"]["generator"]["base_channels"] = 8
    config["networks"]["discriminator"]["base_channels"] = 8
    config["data"]["size"] = 256
    config["train"]["batch_size"] = 16
    trainer = train(config, tmp_path, progress=False)
    sample = trainer.method.sample(5, rng=torch.Generator().manual_seed(0), net=trainer.ema.net)
    assert sample.shape == (5, 3, 8, 8) and sample.abs().max() <= 1


def test_channels_last_training_computes_the_same_run_and_resumes(tmp_path):
    """train.channels_last changes the layout only: the first step's losses agree with the default
    layout to float rounding, the weights stay within Adam's step size of them through R1 and plain
    steps, and the state resumes into channels_last."""
    def digits_config(channels_last, steps=6):
        config = stacked_digits_ddgan(steps=steps)
        config["networks"]["generator"]["base_channels"] = 8
        config["networks"]["discriminator"]["base_channels"] = 8
        config["method"]["lazy_reg"] = 3
        config["data"]["size"] = 256
        config["train"].update(batch_size=16, channels_last=channels_last, sample_every=None, log_every=1)
        return config

    default = train(digits_config(False), tmp_path / "default", progress=False)
    trainer = train(digits_config(True), tmp_path / "channels-last", progress=False)
    weights = [p for p in trainer.ema.net.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                           for p in weights if p.shape[2:] != (1, 1))
    # the first step's losses: the same weights and batch in either layout (later steps drift apart by
    # more than rounding: Adam's first updates are +-lr even for gradients that are rounding noise) ...
    logs = [[json.loads(line) for line in (tmp_path / name / "log.jsonl").read_text().splitlines()]
            for name in ("default", "channels-last")]
    assert [row["step"] for row in logs[0]] == [row["step"] for row in logs[1]] == list(range(1, 7))
    for key in ("loss_d_real", "loss_d_fake", "loss_g"):
        assert logs[1][0][key] == pytest.approx(logs[0][0][key], rel=1e-5), key
    # ... and the weights: Adam moves each by at most ~lr a step, so rounding differences stay below that
    ours, theirs = parameters(trainer), parameters(default)
    bound = 2 * 6 * max(digits_config(False)["optim"]["lr"].values())
    assert max((ours[key] - theirs[key]).abs().max().item() for key in theirs if theirs[key].is_floating_point()) < bound
    resumed = train(digits_config(True, steps=8), tmp_path / "channels-last", progress=False)
    assert resumed.step == 8
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in resumed.method.parameters() if p.dim() == 4)


def test_cosine_schedules_anneal_per_epoch_or_per_step():
    from ddgan.core.trainer import learning_rate
    optim = {"lr_schedule": "cosine", "warmup_steps": 0, "lr_min": 0.0}
    # official: one value per epoch (4 steps each), 8 steps = 2 epochs -> 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5
    assert [learning_rate(1.0, optim, s, 4, 8) for s in range(8)] == pytest.approx([1.0] * 4 + [0.5] * 4)
    per_step = [learning_rate(1.0, {**optim, "lr_schedule": "cosine_steps"}, s, 4, 8) for s in range(8)]
    assert per_step == pytest.approx([(1 + math.cos(math.pi * s / 8)) / 2 for s in range(8)])
    assert per_step[2] == pytest.approx(0.8535534)


def test_warmup_clipping_and_weight_decay_are_applied(tmp_path):
    from ddgan.core.trainer import learning_rate
    optim = {"lr_schedule": "constant", "warmup_steps": 4, "lr_min": 0.0}
    assert [learning_rate(1.0, optim, s, 10, 1) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    config = small_config(steps=2)
    config["optim"].update(grad_clip=1e-6, weight_decay=0.5, warmup_steps=2)
    trainer = Trainer(config, tmp_path)
    assert isinstance(trainer.optimizers["generator"], torch.optim.AdamW)
    before = [p.detach().clone() for p in trainer.method.networks["generator"].parameters()]
    seen = []
    trainer.optimizers["generator"].register_step_pre_hook(lambda opt, *_: seen.append(
        torch.sqrt(sum(p.grad.pow(2).sum() for g in opt.param_groups for p in g["params"] if p.grad is not None))))
    trainer.run(progress=False)
    assert all(norm <= 1e-6 * 1.01 for norm in seen) and len(seen) == 2
    after = list(trainer.method.networks["generator"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
