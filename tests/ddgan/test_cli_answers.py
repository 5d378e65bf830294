"""`ddgan --help`, `ddgan presets` and `ddgan options` import nothing heavy, and `ddgan options` reaches every
section, method and network architecture."""
import subprocess
import sys

import pytest

from ddgan.cli import main

from tests.conftest import ROOT



def imported_modules(*args):
    """Every module `python -m ddgan ARGS` imports (python -X importtime)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "ddgan", *args], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("args, forbidden", [
    (["--help"], ("torch", "torchvision", "ddgan.metrics", "ddgan.evaluate", "ddgan.sample_cli")),
    (["presets"], ("torch", "torchvision", "ddgan.metrics", "ddgan.evaluate", "ddgan.sample_cli")),
    (["options"], ("torchvision", "ddgan.metrics", "ddgan.evaluate", "ddgan.sample_cli")),
    (["train", "--help"], ("torchvision", "ddgan.metrics", "ddgan.evaluate", "ddgan.sample_cli")),
])
def test_commands_import_only_what_they_use(args, forbidden):
    modules = imported_modules(*args)
    assert not modules & set(forbidden)


def test_options_cover_every_section_and_network(capsys):
    assert main(["options"]) == 0
    out = capsys.readouterr().out
    for line in ("method ddgan (method.name=ddgan):", "method ddpm (method.name=ddpm):", "section data:",
                 "section optim:", "section train:", "architecture conv_unet (arch=conv_unet):",
                 "architecture ncsnpp (arch=ncsnpp):"):
        assert line in out
    assert "  train.mixed_precision: one of 'no', 'bf16', 'auto' (default \"no\")" in out


def test_options_of_one_network_by_its_key_or_architecture(capsys):
    assert main(["options", "networks.generator", "--preset", "small32"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("architecture conv_unet (arch=conv_unet):")
    assert ("  networks.generator.base_channels: an integer >= 1 (default 64). channels at the full resolution; "
            "level i has base_channels * channel_mult[i]") in out
    assert main(["options", "networks.discriminator"]) == 0          # every preset's discriminator
    out = capsys.readouterr().out
    assert "architecture small_discriminator" in out and "architecture conv_discriminator" in out
    assert main(["options", "ncsnpp"]) == 0
    assert "networks.NET.attn_resolutions: a list of integers each >= 1 (default [16])." in capsys.readouterr().out
    assert main(["options", "method"]) == 0
    assert "method vdm (method.name=vdm):" in capsys.readouterr().out


def test_unknown_options_name_says_what_there_is(capsys):
    assert main(["options", "nets"]) == 2
    assert "a section (method, data, optim, train, networks)" in capsys.readouterr().err
