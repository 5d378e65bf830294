"""Load a trained model for sampling: a ddgan snapshot, a training state, or an official netG_*.pth.

    sampler = load_sampler("runs/cifar10/snapshot.pt", device="cuda")
    images = sampler.sample(100, torch.Generator("cuda").manual_seed(0))   # [-1, 1], NCHW
    points = load_sampler("runs/m25/snapshot.pt").sample(1000)             # (1000, 2), training units
"""
import copy
from pathlib import Path

import torch

from ddgan.core.checkpoint import STATE_FORMAT, SNAPSHOT_FORMAT, load_file, load_state_dict_checked
from ddgan.core.config import ConfigError
from ddgan.core.methods import build_method
from ddgan.core.sampler import Sampler


def _official_config(preset):
    """The run config of an official checkpoint: a preset name or a full config dict (e.g. a smaller network)."""
    from ddgan.presets import PAPER_TRAINING, get_preset
    if isinstance(preset, str):
        config = get_preset(preset)
    else:
        config = copy.deepcopy(preset)
    arch = config["networks"]["generator"].get("arch")
    if arch != "ncsnpp":
        raise ConfigError(f"official checkpoints hold the NCSN++ generator, but preset {config.get('name')!r} uses "
                          f"{arch!r}; choose a paper preset ({', '.join(PAPER_TRAINING)})")
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
