"""Run configs of the baselines: small demo configs for the CPU (both toy datasets) and CIFAR-10 configs.

    demo_config("vdm", "stacked_digits", steps=DEMO_STEPS["quick"]["stacked_digits"]["vdm"])
    cifar10_config("ddpm")

DDIM needs no config of its own: it samples a trained DDPM (`sampler="ddim"` in `sample`).
"""
import copy
import json

from ddgan.config import ConfigError

DEMO_METHODS = ("ddpm", "vae", "ldm", "vdm")
DEMO_DATASETS = ("mixture25", "stacked_digits")

# training steps per profile, dataset and method ("quick": the default `make demo`)
DEMO_STEPS = {
    "quick": {"mixture25": {"ddpm": 3000, "vae": 2000, "ldm": 3000, "vdm": 3000},
              "stacked_digits": {"ddpm": 1500, "vae": 1500, "ldm": 2000, "vdm": 1500}},
    "full": {"mixture25": {"ddpm": 12000, "vae": 8000, "ldm": 12000, "vdm": 12000},
             "stacked_digits": {"ddpm": 6000, "vae": 6000, "ldm": 8000, "vdm": 6000}},
}

# sampling options to show per method (keyword arguments of method.sample); DDIM reuses the DDPM run
DEMO_SAMPLING = {
    "ddpm": {"DDPM 1000 steps": {"steps": 1000},
             "DDIM 4 steps": {"sampler": "ddim", "steps": 4, "eta": 0.0},
             "DDIM 10 steps": {"sampler": "ddim", "steps": 10, "eta": 0.0},
             "DDIM 50 steps": {"sampler": "ddim", "steps": 50, "eta": 0.0}},
    "vae": {"VAE": {}},
    "ldm": {"Latent diffusion (DDIM 50 steps)": {"sampler": "ddim", "steps": 50, "eta": 0.0}},
    "vdm": {"VDM 1000 steps": {"steps": 1000}},
}

DATA = {
    "mixture25": {"dataset": "mixture25", "size": 100_000, "seed": 0, "shape": [2]},
    "stacked_digits": {"dataset": "stacked_digits", "size": 60_000, "seed": 0, "shape": [3, 8, 8]},
}
BATCH = {"mixture25": 256, "stacked_digits": 128}


def linear_schedule(num_timesteps=1000, **sampling):
    """DDPM's schedule: linear betas 1e-4..0.02 over T = 1000 steps."""
    return {"num_timesteps": num_timesteps, "schedule": "linear", "beta_start": 1e-4, "beta_end": 0.02, **sampling}


def demo_networks(method, dataset):
    if dataset == "mixture25":
        mlp = {"arch": "mlp", "data_dim": 2, "hidden": 256, "depth": 3}
        encoder = {"arch": "mlp_encoder", "data_dim": 2, "latent_dim": 2, "hidden": 256, "depth": 3}
        decoder = {"arch": "mlp_decoder", "data_dim": 2, "latent_dim": 2, "hidden": 256, "depth": 3}
        return {
            "ddpm": {"denoiser": mlp},
            "vae": {"encoder": encoder, "decoder": decoder},
            "ldm": {"encoder": encoder, "generator": {"arch": "latent_generator", "denoiser": mlp, "decoder": decoder}},
            "vdm": {"model": {"arch": "vdm_model", "denoiser": mlp, "schedule": "learned_nnet"}},
        }[method]
    unet = {"arch": "conv_unet", "image_size": 8, "in_channels": 3, "base_channels": 48, "channel_mult": [1, 2],
            "output": "linear"}
    autoencoder = {"image_size": 8, "base_channels": 32, "channel_mult": [1, 2], "latent_channels": 3}
    return {
        "ddpm": {"denoiser": unet},
        "vae": {"encoder": {"arch": "conv_encoder", "image_size": 8, "in_channels": 3, "base_channels": 32,
                            "channel_mult": [1, 2, 2], "latent_channels": 8},
                "decoder": {"arch": "conv_decoder", "image_size": 8, "out_channels": 3, "base_channels": 32,
                            "channel_mult": [1, 2, 2], "latent_channels": 8}},
        "ldm": {"encoder": {"arch": "conv_encoder", "in_channels": 3, **autoencoder},
                "generator": {"arch": "latent_generator",
                              "denoiser": {**unet, "image_size": 4, "channel_mult": [1, 2]},
                              "decoder": {"arch": "conv_decoder", "out_channels": 3, **autoencoder}}},
        "vdm": {"model": {"arch": "vdm_model", "denoiser": unet, "schedule": "learned_nnet"}},
    }[method]


def demo_method(method, dataset, steps):
    clip = dataset == "stacked_digits"
    if method == "ddpm":
        return {"name": "ddpm", **linear_schedule(variance="small", clip_x0=clip)}
    if method == "vae":
        return {"name": "vae", "kl_weight": 1.0}
    if method == "ldm":
        return {"name": "ldm", "autoencoder_steps": int(0.4 * steps), "kl_weight": 1e-6, **linear_schedule()}
    return {"name": "vdm", "vocab_size": 17 if dataset == "stacked_digits" else None,
            "antithetic_time_sampling": True, "sample_steps": 1000}


def demo_optim(method, dataset):
    lr = 1e-3 if dataset == "mixture25" else 5e-4
    rates = {"ddpm": {"denoiser": lr}, "vae": {"vae": lr}, "ldm": {"autoencoder": lr, "denoiser": lr},
             "vdm": {"model": lr}}[method]
    return {"lr": rates, "betas": [0.9, 0.999], "ema_decay": 0.99 if dataset == "mixture25" else 0.995}


def demo_config(method, dataset, steps):
    """A complete run config of baseline `method` on a demo dataset, trained for `steps` steps."""
    if method not in DEMO_METHODS:
        raise ConfigError(f"unknown demo baseline {method!r}; choose one of {', '.join(DEMO_METHODS)} "
                          "(DDIM samples the ddpm run)")
    if dataset not in DEMO_DATASETS:
        raise ConfigError(f"unknown demo dataset {dataset!r}; choose one of {', '.join(DEMO_DATASETS)}")
    return {
        "name": f"{dataset}-{method}",
        "method": demo_method(method, dataset, steps),
        "networks": demo_networks(method, dataset),
        "data": copy.deepcopy(DATA[dataset]),
        "optim": demo_optim(method, dataset),
        "train": {"batch_size": BATCH[dataset], "steps": steps, "seed": 0, "log_every": 100,
                  "checkpoint_every": max(steps, 1)},
    }
