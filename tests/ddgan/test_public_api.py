"""The names of `import ddgan` resolve to the functions they stand for, and importing it stays light."""
import subprocess
import sys

import pytest

import ddgan
from ddgan.core.methods import build_method
from ddgan.core.trainer import train
from ddgan.evaluate import evaluate
from ddgan.official import load_official_generator
from ddgan.presets import get_preset
from ddgan.sampling import load_sampler


def test_api_names_are_the_package_functions():
    expected = {"get_preset": get_preset, "train": train, "load_sampler": load_sampler,
                "load_official_generator": load_official_generator, "evaluate_samples": evaluate, "build_method": build_method}
    assert sorted(expected) == ddgan.__all__
    for name, function in expected.items():
        assert getattr(ddgan, name) is function
    assert set(ddgan.__all__) <= set(dir(ddgan))


def test_unknown_name_says_what_the_api_is():
    with pytest.raises(AttributeError, match="no attribute 'load_snapshot'; its API is build_method, evaluate_samples"):
        ddgan.load_snapshot


def test_import_ddgan_does_not_import_torch():
    code = "import sys, ddgan; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_get_preset_through_the_api_returns_a_config():
    config = ddgan.get_preset("mixture25")
    assert config["method"]["name"] == "ddgan" and config["data"]["shape"] == [2]
