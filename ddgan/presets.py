"""Named run configs. Paper presets follow the official training commands (the official README's
commands are the authority: 4x64 on CIFAR-10, 8x4 on CelebA-HQ, 8x8 on LSUN); small presets run on
a CPU in minutes.
"""
import copy
import json

from ddgan.core.config import ConfigError


def ddgan_method(num_timesteps, nz, r1_gamma, lazy_reg, **extra):
    """A DDGAN method section; every key not given here takes its Option default (ddgan.denoising_gan)."""
    return {"name": "ddgan", "num_timesteps": num_timesteps, "nz": nz, "r1_gamma": r1_gamma, "lazy_reg": lazy_reg,
            **extra}


# The 25-Gaussians are trained in their original units (data.scale 1: centres -4..4, std 0.05): no output
# range cuts a mode, and at DDGAN's first noise level (std 0.69) neighbouring modes stay apart. Every 2-D
# denoiser / generator / decoder of every method is this MLP family. Fourier features of the inputs
# (frequencies 1..32 rad per unit) let an MLP draw modes 0.05 wide over a range of 8: the last DDGAN step
# maps x_1 to the nearest modes, a staircase that plain coordinates learn slowly. The discriminator sees
# plain coordinates: with Fourier features it starved whole columns of the grid (docs/demo-budgets.md).
MIXTURE25_DATA = {"dataset": "mixture25", "size": 100_000, "seed": 0, "shape": [2], "scale": 1.0}
MIXTURE25_MLP = {"data_dim": 2, "hidden": 256, "depth": 3, "fourier_octaves": 6}
MIXTURE25_DISCRIMINATOR = {"arch": "mlp_discriminator", "data_dim": 2, "hidden": 256, "depth": 3}
MIXTURE25_STEPS = 10_000   # the preset's default length: sharp modes (the quick demo's DDGAN T=4)


def mixture25_ddgan(num_timesteps=4, steps=MIXTURE25_STEPS):
    """DDGAN with MLPs on the 25-Gaussian grid (2D)."""
    return {
        "name": f"mixture25-ddgan-T{num_timesteps}",
        "method": ddgan_method(num_timesteps, nz=16, r1_gamma=0.05, lazy_reg=None),
        "networks": {
            "generator": {"arch": "mlp", "nz": 16, **MIXTURE25_MLP},
            "discriminator": dict(MIXTURE25_DISCRIMINATOR),
        },
        "data": dict(MIXTURE25_DATA),
        "optim": {"lr": {"generator": 2e-4, "discriminator": 2e-4}, "betas": [0.5, 0.9], "ema_decay": 0.99},
        "train": {"batch_size": 256, "steps": steps, "seed": 0, "log_every": 100, "checkpoint_every": 2000},
    }


def stacked_digits_ddgan(num_timesteps=4, steps=4000, width=48, batch_size=128):
    """DDGAN with a small conv U-Net and conv discriminator on stacked 8x8 digits."""
    return {
        "name": f"stacked-digits-ddgan-T{num_timesteps}",
        "method": ddgan_method(num_timesteps, nz=32, r1_gamma=0.05, lazy_reg=10),
        "networks": {
            "generator": {"arch": "conv_unet", "image_size": 8, "in_channels": 3, "base_channels": width,
                          "channel_mult": [1, 2], "nz": 32, "z_emb_dim": 64, "output": "tanh"},
            "discriminator": {"arch": "conv_discriminator", "in_channels": 3, "base_channels": width,
                              "channel_mult": [1, 2]},
        },
        "data": {"dataset": "stacked_digits", "size": 60_000, "seed": 0, "shape": [3, 8, 8]},
        "optim": {"lr": {"generator": 2e-4, "discriminator": 2e-4}, "betas": [0.5, 0.9], "ema_decay": 0.995},
        "train": {"batch_size": batch_size, "steps": steps, "seed": 0, "log_every": 100, "checkpoint_every": 2000},
    }


# name -> (T, global batch, epochs, lr_d, lr_g, r1_gamma, lazy_reg, ema_decay, horizontal flips)
PAPER_TRAINING = {
    "cifar10": (4, 4 * 64, 1800, 1.25e-4, 1.6e-4, 0.02, 15, 0.9999, True),
    "celeba_256": (2, 8 * 4, 800, 1e-4, 2e-4, 2.0, 10, 0.9999, True),
    "lsun_church": (4, 8 * 8, 500, 1e-4, 1.6e-4, 1.0, 10, 0.999, True),
    # the official code has no StackedMNIST command: CIFAR-10 settings, no flips (they change digits)
    "stackedmnist": (4, 4 * 64, 100, 1.25e-4, 1.6e-4, 0.02, 15, 0.9999, False),
}

_CIFAR10_GENERATOR = dict(
    image_size=32, in_channels=3, base_channels=128, channel_mult=(1, 2, 2, 2), num_res_blocks=2,
    attn_resolutions=(16,), dropout=0.0, nz=100, z_emb_dim=256, n_mlp=4, fir_kernel=(1, 3, 3, 1), use_tanh=True,
)
_GENERATOR_256 = dict(_CIFAR10_GENERATOR, image_size=256, base_channels=64, channel_mult=(1, 1, 2, 2, 4, 4), n_mlp=3)

# NCSNppGenerator kwargs of the paper's runs (the official README's training commands; both 256px
# runs leave n_mlp at the trainer's default of 3). The official code has no StackedMNIST command:
# its data are 32x32x3 like CIFAR-10 and its trainer pairs it with the CIFAR-10 discriminator, so the
# CIFAR-10 generator is used. ddgan.official loads the released checkpoints into these networks.
PAPER_GENERATORS = {
    "cifar10": _CIFAR10_GENERATOR,
    "stackedmnist": dict(_CIFAR10_GENERATOR),
    "celeba_256": _GENERATOR_256,
    "lsun_church": dict(_GENERATOR_256),
}
# the discriminator of each run: small (32px) or large (256px), and its kwargs
PAPER_DISCRIMINATORS = {
    "cifar10": {"type": "small", "kwargs": dict(in_channels=3, ngf=64, t_emb_dim=256)},
    "stackedmnist": {"type": "small", "kwargs": dict(in_channels=3, ngf=64, t_emb_dim=256)},
    "celeba_256": {"type": "large", "kwargs": dict(in_channels=3, ngf=64, t_emb_dim=256)},
    "lsun_church": {"type": "large", "kwargs": dict(in_channels=3, ngf=64, t_emb_dim=256)},
}


def paper_ddgan(dataset, **method):
    """The paper's DDGAN run on `dataset`, with optional method overrides (Table 2 ablations)."""
    steps, batch, epochs, lr_d, lr_g, r1_gamma, lazy_reg, ema_decay, hflip = PAPER_TRAINING[dataset]
    discriminator = PAPER_DISCRIMINATORS[dataset]
    size = PAPER_GENERATORS[dataset]["image_size"]
    config = {
        "name": f"{dataset}-ddgan",
        "method": {**ddgan_method(steps, nz=PAPER_GENERATORS[dataset]["nz"], r1_gamma=r1_gamma,
                                  lazy_reg=lazy_reg), **method},
        "networks": {
            "generator": {"arch": "ncsnpp", **PAPER_GENERATORS[dataset]},
            "discriminator": {"arch": f"{discriminator['type']}_discriminator", **discriminator["kwargs"]},
        },
        "data": {"dataset": dataset, "root": None, "split": "train", "hflip": hflip, "shape": [3, size, size]},
        "optim": {"lr": {"generator": lr_g, "discriminator": lr_d}, "betas": [0.5, 0.9],
                  "lr_schedule": "cosine", "lr_min": 1e-5, "ema_decay": ema_decay},
        "train": {"batch_size": batch, "epochs": epochs, "seed": 1024, "log_every": 100,
                  "checkpoint_every": 2000, "snapshot_every": 20_000, "num_workers": 4},
    }
    return json.loads(json.dumps(config))     # tuples -> lists, as in a saved config.json


# Table 2 of the paper: CIFAR-10 ablations (method overrides of the cifar10 preset)
TABLE2_VARIANTS = {
    "T1": {"num_timesteps": 1},
    "T2": {"num_timesteps": 2},
    "T4": {},
    "T8": {"num_timesteps": 8},
    "oneshot_aug": {"parametrisation": "oneshot"},
    "direct_xprev": {"parametrisation": "direct"},
    "eps": {"parametrisation": "eps"},
    "no_z": {"use_latent": False},
}


def table2_variant(variant):
    config = paper_ddgan("cifar10", **TABLE2_VARIANTS[variant])
    config["name"] = f"cifar10-ddgan-{variant}"
    if variant == "eps":       # noise is not bounded to [-1, 1]: no tanh on the output
        config["networks"]["generator"]["use_tanh"] = False
    return config


PRESETS = {
    "mixture25": mixture25_ddgan,
    "stacked_digits": stacked_digits_ddgan,
    **{name: (lambda name=name: paper_ddgan(name)) for name in PAPER_TRAINING},
    **{f"cifar10_{v}": (lambda v=v: table2_variant(v)) for v in TABLE2_VARIANTS if v != "T4"},
}


def all_presets():
    """Every named config of every registered preset table (ddgan/base/registry.py), name -> factory."""
    from ddgan.base import registry
    return registry.presets()


def get_preset(name):
    presets = all_presets()
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(sorted(presets))}")
    return copy.deepcopy(presets[name]())
