"""Declared options: every bad key or value is refused in one line before any work starts; the
saved config is complete; presets and the smoke profile's configs validate."""
import json

import pytest

from baselines.presets import latent_ddgan
from ddgan.cli import main
from ddgan.core import trainer as trainer_module
from ddgan.core.config import ConfigError, apply_overrides, validate
from ddgan.core.run_dir import default_run_dir
from ddgan.presets import all_presets, get_preset, mixture25_ddgan
from reproduce.profiles import make_profile

BAD_INPUTS = [
    (["method.lazy_regg=5"], "unknown key method.lazy_regg; did you mean method.lazy_reg?"),
    (["method.r1_gama=1"], "unknown key method.r1_gama; did you mean method.r1_gamma?"),
    (["train.stpes=50"], "unknown key train.stpes; did you mean train.steps?"),
    (["trian.steps=50"], "unknown section 'trian'; did you mean train?"),
    (["networks.generator.hiden=3"], "unknown key networks.generator.hiden: network 'mlp' does not take it; "
                                     "did you mean networks.generator.hidden?"),
    (["networks.generator.hidden=0"], "networks.generator.hidden must be an integer >= 1, got 0 "
                                      "(width of the hidden layers)"),
    (["networks.generator.output=sigmoid"], "networks.generator.output must be one of 'linear', 'tanh', got 'sigmoid'"),
    (["networks.discriminator.depth=2.5"], "networks.discriminator.depth must be an integer >= 1, got 2.5"),
    (["optim.lr.genrator=1e-4"], "unknown key optim.lr.genrator: DDGAN T=4 has no optimiser 'genrator'; "
                                 "did you mean optim.lr.generator?"),
    (["method.lazy_reg=-1"], "method.lazy_reg must be an integer >= 1 or null, got -1"),
    (["train.steps=abc"], "train.steps must be an integer >= 1 or null, got 'abc'"),
    (["method.nz=1.5"], "method.nz must be an integer >= 1, got 1.5"),
    (["method.use_latent=1"], "method.use_latent must be true or false, got 1"),
    (["method.r1_gamma=-0.5"], "method.r1_gamma must be a number >= 0, got -0.5"),
    (["method.parametrisation=x_0"],
     "method.parametrisation must be one of 'x0', 'direct', 'eps', 'oneshot', got 'x_0'"),
    (["optim.lr_schedule=cosin"], "optim.lr_schedule must be one of 'constant', 'cosine', 'cosine_steps', got 'cosin'"),
    (["optim.betas=[0.5]"], "optim.betas must be a list of 2 numbers each >= 0 and < 1, got [0.5]"),
    (["optim.ema_decay=1"], "optim.ema_decay must be a number >= 0 and < 1, got 1"),
    (["train.checkpoint_minutes=0"], "train.checkpoint_minutes must be a number > 0 or null, got 0"),
    (["train.log_with=mlflow"], "train.log_with must be one of 'none', 'tensorboard', 'wandb', got 'mlflow'"),
    (["data.dataset=cifar"], "data.dataset 'cifar' is neither built in nor prepared in"),
    (["data.dataset=cifar"], "did you mean cifar10? built in: mixture25, stacked_digits, cifar10"),
    (["data.shape=[2,0]"], "data.shape must be a list of integers each >= 1, got [2, 0]"),
    (["train.steps=null", "train.epochs=null"], "set train.steps or train.epochs"),
]


@pytest.mark.parametrize("overrides,message", BAD_INPUTS)
def test_each_bad_input_gets_one_line_naming_key_value_and_fix(tmp_path, capsys, overrides, message):
    code = main(["train", "--preset", "mixture25", "--set", *overrides, "--run-dir", str(tmp_path / "run"), "--quiet"])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("ddgan train: error: ") and message in error
    assert error.count("\n") == 1 and "Traceback" not in error
    assert not (tmp_path / "run").exists()      # nothing was written


def test_every_repeated_set_option_applies(tmp_path, capsys):
    # each --set alone is valid; only both together leave no budget (a later --set once replaced the earlier)
    code = main(["train", "--preset", "mixture25", "--set", "train.steps=null", "--set", "train.epochs=null",
                 "--run-dir", str(tmp_path / "run"), "--quiet"])
    assert code == 2
    assert "set train.steps or train.epochs" in capsys.readouterr().err


def test_a_method_option_of_another_schedule_is_refused(capsys, tmp_path):
    code = main(["train", "--preset", "mixture25_ddpm_demo", "--set", "method.beta_min=0.2",
                 "--run-dir", str(tmp_path), "--quiet"])
    assert code == 2
    assert ("method.beta_min applies only when method.schedule is 'ddgan_vp' (it is 'linear')"
            in capsys.readouterr().err)


def test_bad_config_is_refused_before_any_data_is_loaded(tmp_path, monkeypatch):
    def no_data(_):
        raise AssertionError("data was loaded before the config was checked")
    monkeypatch.setattr(trainer_module, "load_training_array", no_data)
    config = mixture25_ddgan()
    config["networks"]["generator"]["hiden"] = 3
    with pytest.raises(ConfigError, match="did you mean networks.generator.hidden"):
        trainer_module.Trainer(config, tmp_path)
    config = mixture25_ddgan()
    config["optim"]["lr"]["genrator"] = 1e-4
    with pytest.raises(ConfigError, match="did you mean optim.lr.generator"):
        trainer_module.Trainer(config, tmp_path)


def test_validate_fills_every_default_and_converts_lossless():
    config = mixture25_ddgan()
    assert "r1_rescale" not in config["method"]     # presets give only what they set
    config["method"]["r1_gamma"] = 1              # an integer where a number is declared
    complete = validate(config)
    assert complete["method"]["r1_rescale"] is False and complete["method"]["r1_gamma"] == 1.0
    assert isinstance(complete["method"]["r1_gamma"], float)
    assert complete["train"]["checkpoint_minutes"] == 30.0 and complete["train"]["sample_every"] == 1000
    assert complete["train"]["eval_every"] is None and complete["train"]["log_with"] == "none"
    assert complete["optim"]["lr_schedule"] == "constant" and complete["data"]["hflip"] is False
    assert validate(complete) == complete          # complete configs are fixed points
    assert config["method"]["r1_gamma"] == 1       # the input is not modified


def test_every_preset_and_its_smoke_and_paper_profile_versions_validate(tmp_path):
    smoke, paper = make_profile("smoke", work=tmp_path), make_profile("paper")
    for name in all_presets():
        for config in (get_preset(name), smoke.scale_config(get_preset(name)), paper.scale_config(get_preset(name))):
            assert validate(config)["method"]["name"] == get_preset(name)["method"]["name"]


def test_latent_ddgan_options_are_checked_nested():
    config = latent_ddgan(get_preset("mixture25_ldm_demo"), "mixture25")
    assert validate(config)["method"]["ddgan"]["parametrisation"] == "x0"
    config["method"]["ddgan"]["lazy_regg"] = 2
    with pytest.raises(ConfigError, match="unknown key method.ddgan.lazy_regg; did you mean method.ddgan.lazy_reg"):
        validate(config)


def test_presets_show_prints_the_complete_config(capsys):
    assert main(["presets", "--show", "cifar10"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == validate(get_preset("cifar10"))
    assert shown["train"]["checkpoint_minutes"] == 30.0 and shown["data"]["split"] == "train"


def test_options_lists_each_key_with_default_and_help(capsys):
    assert main(["options", "ddgan", "train"]) == 0
    out = capsys.readouterr().out
    assert "method.lazy_reg: an integer >= 1 or null (default null). apply R1 every lazy_reg" in out
    assert "train.checkpoint_minutes: a number > 0 or null (default 30.0; may change when a run is resumed)" in out
    assert main(["options", "gan"]) == 2
    assert "no options named 'gan'" in capsys.readouterr().err


def test_default_run_dir_names_the_overrides_that_change_the_computation():
    preset = validate(get_preset("mixture25"))

    def name(*overrides):
        return str(default_run_dir(preset, validate(apply_overrides(preset, list(overrides))))[0])

    assert name() == "runs/mixture25-ddgan-T4"
    assert name("method.num_timesteps=2") == "runs/mixture25-ddgan-T2"
    # bookkeeping and the run's length do not change which run it is
    assert name("train.log_every=7", "train.steps=9000", "train.checkpoint_minutes=5") == "runs/mixture25-ddgan-T4"
    lazy = name("method.lazy_reg=5")
    assert lazy.startswith("runs/mixture25-ddgan-T4-") and len(lazy) == len("runs/mixture25-ddgan-T4-") + 8
    assert lazy != name("method.lazy_reg=6") and lazy == name("method.lazy_reg=5")
    assert name("method.num_timesteps=2", "method.lazy_reg=5").startswith("runs/mixture25-ddgan-T2-")
    # a name without T gains it: the cifar10 preset at T = 2 trains where the Table 2 preset cifar10_T2 does
    cifar10 = validate(get_preset("cifar10"))
    assert str(default_run_dir(cifar10, validate(apply_overrides(cifar10, ["method.num_timesteps=2"])))[0]) == \
        "runs/" + get_preset("cifar10_T2")["name"] == "runs/cifar10-ddgan-T2"
