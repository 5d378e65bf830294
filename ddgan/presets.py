"""Named run configs. Paper presets follow the official training commands (see
results/reported and the reference notes); small presets run on a CPU in minutes.
"""
import copy

from ddgan.config import ConfigError


def ddgan_method(num_timesteps, nz, r1_gamma, lazy_reg, **extra):
    return {"name": "ddgan", "num_timesteps": num_timesteps, "schedule": "vp", "beta_min": 0.1, "beta_max": 20.0,
            "nz": nz, "r1_gamma": r1_gamma, "lazy_reg": lazy_reg, "r1_rescale": False,
            "parametrisation": "x0", "use_latent": True, **extra}


def mixture25_ddgan(num_timesteps=4, steps=6000):
    """DDGAN with MLPs on the 25-Gaussian grid (2D)."""
    return {
        "name": f"mixture25-ddgan-T{num_timesteps}",
        "method": ddgan_method(num_timesteps, nz=16, r1_gamma=0.05, lazy_reg=None),
        "networks": {
            "generator": {"arch": "mlp", "data_dim": 2, "nz": 16, "hidden": 256, "depth": 3},
            "discriminator": {"arch": "mlp_discriminator", "data_dim": 2, "hidden": 256, "depth": 3},
        },
        "data": {"dataset": "mixture25", "size": 100_000, "seed": 0, "shape": [2]},
        "optim": {"lr": {"generator": 2e-4, "discriminator": 2e-4}, "betas": [0.5, 0.9], "ema_decay": 0.99},
        "train": {"batch_size": 256, "steps": steps, "seed": 0, "log_every": 100, "checkpoint_every": 2000},
    }


def stacked_digits_ddgan(num_timesteps=4, steps=4000):
    """DDGAN with a small conv U-Net and conv discriminator on stacked 8x8 digits."""
    return {
        "name": f"stacked-digits-ddgan-T{num_timesteps}",
        "method": ddgan_method(num_timesteps, nz=32, r1_gamma=0.05, lazy_reg=None),
        "networks": {
            "generator": {"arch": "conv_unet", "image_size": 8, "in_channels": 3, "base_channels": 48,
                          "channel_mult": [1, 2], "nz": 32, "z_emb_dim": 64, "output": "tanh"},
            "discriminator": {"arch": "conv_discriminator", "in_channels": 3, "base_channels": 48,
                              "channel_mult": [1, 2]},
        },
        "data": {"dataset": "stacked_digits", "size": 60_000, "seed": 0, "shape": [3, 8, 8]},
        "optim": {"lr": {"generator": 2e-4, "discriminator": 2e-4}, "betas": [0.5, 0.9], "ema_decay": 0.995},
        "train": {"batch_size": 128, "steps": steps, "seed": 0, "log_every": 100, "checkpoint_every": 2000},
    }


PRESETS = {
    "mixture25": mixture25_ddgan,
    "stacked_digits": stacked_digits_ddgan,
}


def get_preset(name):
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return copy.deepcopy(PRESETS[name]())
