"""Load a trained model for sampling: a ddgan snapshot, a training state, or an official netG_*.pth.

    sampler = load_sampler("runs/cifar10/snapshot.pt", device="cuda")
    images = sampler.sample(100, torch.Generator("cuda").manual_seed(0))   # [-1, 1], NCHW
    points = load_sampler("runs/m25/snapshot.pt").sample(1000)             # (1000, 2), training units
"""
import copy
from pathlib import Path

import torch

from ddgan.checkpoint import STATE_FORMAT, SNAPSHOT_FORMAT, load_file, load_state_dict_checked
from ddgan.config import ConfigError
from ddgan.methods import build_method


class Sampler:
    """A method with its EMA sampling network, ready to generate."""

    def __init__(self, method, net, config, source, step=None, channels_last=False, bf16=False):
        self.method, self.net, self.config, self.source, self.step = method, net.eval(), config, source, step
        self.bf16 = bf16
        if channels_last and self.is_image:
            self.net.to(memory_format=torch.channels_last)

    @property
    def nfe(self):
        """Network evaluations per sample with the default sampling options."""
        return self.method.nfe()

    @property
    def network(self):
        """The module called once per sampling step (its forward calls are the NFE)."""
        return self.method.step_network(self.net)

    @property
    def device(self):
        return next(self.net.parameters()).device

    def describe(self):
        return self.method.describe()

    @property
    def is_image(self):
        return len(self.method.data_shape) == 3

    @torch.inference_mode()
    def sample(self, n, generator=None, **options):
        """n samples in training units; `options` go to the method's sampler (e.g. steps=50 for DDPM).
        Images are clamped to their pixel range [-1, 1]; other data (2-D points) is returned as generated."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            x = self.method.sample(n, rng=generator, net=self.net, **options).float()
        return x.clamp_(-1.0, 1.0) if self.is_image else x


def _official_config(preset):
    """The run config of an official checkpoint: a preset name or a full config dict (e.g. a smaller network)."""
    if isinstance(preset, str):
        from ddgan.presets import get_preset
        config = get_preset(preset)
    else:
        config = copy.deepcopy(preset)
    arch = config["networks"]["generator"].get("arch")
    if arch != "ncsnpp":
        raise ConfigError(f"official checkpoints hold the NCSN++ generator, but preset {config.get('name')!r} uses "
                          f"{arch!r}; choose a paper preset (cifar10, celeba_256, lsun_church, stackedmnist)")
    return config


def load_sampler(path, device="cpu", *, official_preset=None, channels_last=True, bf16=False):
    """A Sampler for a ddgan snapshot / training state, or an official checkpoint with its preset
    (a preset name, or a run config dict whose generator is an NCSN++).

    channels_last: image networks in the channels_last memory format, the usual choice on GPUs and
    about 10% faster on the CPU too (results/bench/).
    """
    device = torch.device(device)
    if official_preset is not None:
        from ddgan.official import load_official_generator
        config = _official_config(official_preset)
        generator = {k: v for k, v in config["networks"]["generator"].items() if k != "arch"}
        net = load_official_generator(path, generator)
        method = build_method(config, sampling_only=True)
        method.networks[method.sampling_network] = net
        step = None
    else:
        saved = load_file(path, "snapshot")
        fmt = saved.get("format") if isinstance(saved, dict) else None
        if fmt not in (SNAPSHOT_FORMAT, STATE_FORMAT):
            raise ConfigError(f"{path} is neither a ddgan snapshot nor a training state; for an official "
                              "netG_*.pth pass --official-checkpoint with --preset")
        config, step = saved["config"], saved["step"]
        method = build_method(config, sampling_only=True)
        net = method.networks[method.sampling_network]
        weights = saved["network"] if fmt == SNAPSHOT_FORMAT else saved["ema"]["net"]
        load_state_dict_checked(net, weights, f"{path}")
    method.to(device)
    return Sampler(method, net.to(device), config, str(Path(path)), step, channels_last, bf16)
