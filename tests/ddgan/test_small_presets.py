"""The small image presets (a CPU's), `ddgan presets`' table, train.mixed_precision "auto" and a second
run in one process with another precision."""
import os

import pytest

from ddgan.cli import main
from ddgan.core.config import validate
from ddgan.core.hardware import bf16_support
from ddgan.core.trainer import resolve_mixed_precision, train
from ddgan.preset_cards import compute_cards, read_cards
from ddgan.presets import get_preset, mixture25_ddgan

SMALL = ("small32", "small32_ddpm", "small64", "small64_ddpm")


def test_preset_cards_file_matches_the_presets():
    assert read_cards() == compute_cards(), "preset_cards.json is stale: run python -m ddgan.preset_cards"


@pytest.mark.parametrize("name", SMALL)
def test_small_presets_are_meant_for_a_cpu(name):
    config = validate(get_preset(name))
    size = int(name[5:7])
    assert config["data"]["shape"] == [3, size, size]
    assert config["train"]["batch_size"] == 64
    assert config["train"]["mixed_precision"] == "auto"
    assert config["train"]["num_workers"] <= (os.cpu_count() or 1)
    assert config["optim"]["ema_warmup"]
    assert read_cards()[name]["hardware"] == "CPU"


def test_presets_table_shows_resolution_parameters_and_hardware(capsys):
    assert main(["presets"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["small32"][1:] == ["ddgan", "cifar10", "32x32", "1.5M", "CPU"]
    assert rows["cifar10"][3:] == ["32x32", "61.2M", "GPU"]


def test_auto_mixed_precision_is_bf16_where_the_machine_has_it():
    assert resolve_mixed_precision("auto") == ("bf16" if bf16_support("cpu").available else "no")
    assert resolve_mixed_precision("no") == "no"


def test_a_second_run_in_one_process_may_use_another_precision(tmp_path):
    config = mixture25_ddgan(steps=2)
    config["networks"]["generator"].update(hidden=16, depth=1)
    config["networks"]["discriminator"].update(hidden=16, depth=1)
    config["data"]["size"] = 256
    config["train"].update(batch_size=32, sample_every=None)
    for precision in ("no", "bf16", "no"):
        config["train"]["mixed_precision"] = precision
        trainer = train(config, tmp_path / precision / "run", progress=False)
        assert trainer.step == 2 and trainer.accelerator.mixed_precision == precision


def test_the_header_counts_the_epochs_of_the_steps_that_run(tmp_path):
    from ddgan.core.trainer import Trainer
    config = mixture25_ddgan(steps=20)
    config["data"]["size"] = 18 * 32
    config["train"].update(batch_size=32, epochs=1800)        # train.steps wins: 20 steps are 2 epochs of 18
    summary = Trainer(config, tmp_path / "run").summary()
    assert "; 18 steps per epoch" in summary[4] and summary[5].startswith("  steps: 20 (2 epochs)")
