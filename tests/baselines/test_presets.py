"""The DDPM U-Net and the baseline run configs: paper sizes, every demo config trains and samples."""
import pytest
import torch
import torch.nn.functional as F

from baselines.presets import (CIFAR10_PRESETS, DEMO_DATASETS, DEMO_METHODS, DEMO_SAMPLING, DEMO_STEPS,
                               cifar10_config, ddim_table_options, demo_config)
from baselines.unet import DDPMUNet, Downsample
from ddgan.core.config import ConfigError, validate
from ddgan.core.methods import build_method
from ddgan.core.trainer import train


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())


def test_ddpm_cifar10_unet_has_the_papers_35_7M_parameters_and_starts_at_zero():
    torch.manual_seed(0)
    net = DDPMUNet()
    assert parameter_count(net) == 35_746_307
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([3, 700])
    assert net(x, t).abs().max() < 1e-3              # zero-initialised output convolution
    torch.nn.init.normal_(net.out_conv.weight, std=0.1)
    out = net.eval()(x, t)
    assert out.shape == x.shape and not torch.allclose(out, net(x, torch.tensor([4, 700])))


def test_downsampling_pads_like_tensorflow_same():
    """A stride-2 3x3 'SAME' convolution pads one row and column at the bottom and right only."""
    down = Downsample(4)
    x = torch.randn(1, 4, 8, 8)
    reference = F.conv2d(F.pad(x, (0, 1, 0, 1)), down.conv.weight, down.conv.bias, stride=2)
    assert torch.equal(down(x), reference) and reference.shape[-1] == 4


def test_unet_takes_more_input_than_output_channels_and_float_times():
    net = DDPMUNet(image_size=8, in_channels=15, out_channels=3, ch=32, ch_mult=[1], num_res_blocks=2,
                   attn_resolutions=[], dropout=0.0)
    assert net(torch.randn(2, 15, 8, 8), torch.tensor([0.5, 731.25])).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="divisible by norm_groups"):
        DDPMUNet(ch=20)


@pytest.mark.parametrize("dataset", DEMO_DATASETS)
@pytest.mark.parametrize("method", DEMO_METHODS)
def test_every_demo_config_trains_and_samples_with_its_demo_options(tmp_path, method, dataset):
    config = demo_config(method, dataset, steps=2)
    if method == "ldm":
        config["method"]["autoencoder_steps"] = 1
    config["data"]["size"] = 512
    trainer = train(config, tmp_path, progress=False)
    for options in DEMO_SAMPLING[method].values():
        options = {**options, "steps": 3} if "steps" in options else options
        x = trainer.method.sample(4, rng=torch.Generator().manual_seed(0), net=trainer.ema.net, **options)
        assert x.shape == (4, *config["data"]["shape"]) and torch.isfinite(x).all()
    assert set(DEMO_STEPS["quick"][dataset]) == set(DEMO_STEPS["full"][dataset]) == set(DEMO_METHODS)


def test_demo_config_refuses_unknown_names():
    with pytest.raises(ConfigError, match="DDIM samples the ddpm run"):
        demo_config("ddim", "mixture25", 10)
    with pytest.raises(ConfigError, match="unknown demo dataset"):
        demo_config("vae", "cifar10", 10)
    with pytest.raises(ConfigError, match="unknown CIFAR-10 baseline"):
        cifar10_config("gan")


@pytest.mark.parametrize("method", CIFAR10_PRESETS)
def test_cifar10_configs_are_complete_and_build(method):
    config = validate(cifar10_config(method))
    assert config["data"]["dataset"] == "cifar10" and config["data"]["shape"] == [3, 32, 32]
    built = build_method(config, sampling_only=True)
    assert built.nfe() >= 1
    if method == "ddpm":
        assert parameter_count(built.networks["denoiser"]) == 35_746_307


def test_ddim_table_covers_every_cell_of_the_papers_table():
    cells = ddim_table_options()
    assert {(c["steps"], c["eta"]) for c in cells} == {(s, e) for s in (10, 20, 50, 100, 1000) for e in (0.0, 0.2, 0.5, 1.0)}
    method = build_method(cifar10_config("ddpm"), sampling_only=True)
    assert [method.nfe(**c) for c in cells[:5]] == [10, 20, 49, 96, 1000]    # repeated quadratic steps dropped
