"""Run configs of the baselines: small demo configs for the CPU (both toy datasets) and CIFAR-10 configs.

    demo_config("vdm", "stacked_digits", steps=DEMO_STEPS["quick"]["stacked_digits"]["vdm"])
    cifar10_config("ddpm")

DDIM needs no config of its own: it samples a trained DDPM (`sampler="ddim"` in `sample`).
"""
import copy
import json

from ddgan.core.config import ConfigError
from ddgan.datasets.specs import dataset_kind
from ddgan.presets import MIXTURE25_DATA, MIXTURE25_DISCRIMINATOR, MIXTURE25_MLP
from ddgan.small_presets import SMALL_OPTIM, SMALL_SIZES, SMALL_TRAIN, small_data, small_network

DEMO_DATASETS = ("mixture25", "stacked_digits")

# Training steps per profile, dataset and method ("quick": the default `make demo`, which trains only the
# DDPM of these on the 25-Gaussians); the step costs behind them are in docs/demo-budgets.md.
DEMO_STEPS = {
    "quick": {"mixture25": {"ddpm": 4000, "vae": 2000, "ldm": 3000, "vdm": 3000},
              "stacked_digits": {"ddpm": 1000, "vae": 1000, "ldm": 1500, "vdm": 1000}},
    "full": {"mixture25": {"ddpm": 12000, "vae": 6000, "ldm": 8000, "vdm": 8000},
             "stacked_digits": {"ddpm": 4000, "vae": 4000, "ldm": 6000, "vdm": 4000}},
}

# Sampling options to show per method (keyword arguments of method.sample); DDIM reuses the DDPM run.
# Latent diffusion samples ancestrally: on these briefly trained latent denoisers the deterministic
# DDIM (eta = 0) drifts off the latent distribution (the eps-model is poor at low noise), while the
# stochastic samplers stay on it.
DEMO_SAMPLING = {
    "ddpm": {"DDPM 1000 steps": {"steps": 1000},
             "DDIM 4 steps": {"sampler": "ddim", "steps": 4, "eta": 0.0},
             "DDIM 10 steps": {"sampler": "ddim", "steps": 10, "eta": 0.0},
             "DDIM 50 steps": {"sampler": "ddim", "steps": 50, "eta": 0.0}},
    "vae": {"VAE": {}},
    "ldm": {"Latent diffusion 100 steps": {"steps": 100}},
    "vdm": {"VDM 1000 steps": {"steps": 1000}},
}

DEMO_METHODS = tuple(DEMO_SAMPLING)

DATA = {
    "mixture25": MIXTURE25_DATA,
    "stacked_digits": {"dataset": "stacked_digits", "size": 60_000, "seed": 0, "shape": [3, 8, 8]},
}
BATCH = {"mixture25": 256, "stacked_digits": 64}


def linear_schedule(num_timesteps=1000, **sampling):
    """DDPM's schedule: linear betas 1e-4..0.02 over T = 1000 steps."""
    return {"num_timesteps": num_timesteps, "schedule": "linear", "beta_start": 1e-4, "beta_end": 0.02, **sampling}


def demo_networks(method, dataset):
    if dataset_kind(dataset) == "points":   # DDGAN's MLP family (ddgan.presets), for every network of every method
        mlp = {"arch": "mlp", **MIXTURE25_MLP}
        encoder = {"arch": "mlp_encoder", "latent_dim": 2, **MIXTURE25_MLP}
        decoder = {"arch": "mlp_decoder", "latent_dim": 2, **MIXTURE25_MLP}
        return {
            "ddpm": {"denoiser": mlp},
            "vae": {"encoder": encoder, "decoder": decoder},
            "ldm": {"encoder": encoder, "generator": {"arch": "latent_generator", "denoiser": mlp, "decoder": decoder}},
            # the grid spans -4..4: gamma_max 10 (alpha_1 = 0.007) keeps the prior N(0, 1) at t = 1 (5: alpha_1 = 0.08)
            "vdm": {"model": {"arch": "vdm_model", "denoiser": mlp, "schedule": "learned_nnet", "gamma_max": 10.0}},
        }[method]
    unet = {"arch": "conv_unet", "image_size": 8, "in_channels": 3, "base_channels": 32, "channel_mult": [1, 2],
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
        # the digits take 17 values: VDM's gamma_min = -13.3 for 256 levels puts sigma_0 at 1/6 of the level
        # spacing; the same rule for 17 levels gives gamma_min = 2 log(2 / 17 / 6) = -7.9
        "vdm": {"model": {"arch": "vdm_model", "denoiser": unet, "schedule": "learned_nnet", "gamma_min": -7.9}},
    }[method]


def demo_method(method, dataset, steps):
    clip = dataset_kind(dataset) == "digits"
    if method == "ddpm":
        # images: x0_hat clipped to [-1, 1] in both samplers (DDPM's code; diffusers' DDIM default). The DDIM
        # code does not clip, but without it few-step DDIM on these briefly trained eps-models saturates pixels.
        return {"name": "ddpm", **linear_schedule(variance="small", clip_x0=clip, ddim_clip_x0=clip)}
    if method == "vae":
        return {"name": "vae", "kl_weight": 1.0, "kl_warmup_steps": steps // 2 if dataset_kind(dataset) == "points" else 0}
    if method == "ldm":
        return {"name": "ldm", "autoencoder_steps": steps // 2, "kl_weight": 1e-6,
                **linear_schedule(sampler="ancestral", sample_steps=100)}
    return {"name": "vdm", "vocab_size": 17 if dataset_kind(dataset) == "digits" else None,
            "antithetic_time_sampling": True, "sample_steps": 1000}


def demo_optim(method, dataset):
    points = dataset_kind(dataset) == "points"
    lr = 1e-3 if points else 5e-4
    rates = {"ddpm": {"denoiser": lr}, "vae": {"vae": lr}, "ldm": {"autoencoder": 1e-3, "denoiser": lr},
             "vdm": {"model": lr}}[method]
    return {"lr": rates, "betas": [0.9, 0.999], "ema_decay": 0.99 if points else 0.995}


def latent_ddgan(config, dataset):
    """Turn a latent diffusion demo config into a latent DDGAN (T = 4, as the DDGAN demo presets)."""
    points = dataset_kind(dataset) == "points"
    nz = 16 if points else 32
    generator = config["networks"]["generator"]
    generator["denoiser"] = {**generator["denoiser"], "nz": nz}
    if points:
        config["networks"]["discriminator"] = dict(MIXTURE25_DISCRIMINATOR)
    else:
        config["networks"]["discriminator"] = {"arch": "conv_discriminator", "in_channels": 3, "base_channels": 32,
                                               "channel_mult": [1, 2]}
    config["method"] = {"name": "ldm", "latent_model": "ddgan", "autoencoder_steps": config["method"]["autoencoder_steps"],
                        "kl_weight": config["method"]["kl_weight"],
                        "ddgan": {"num_timesteps": 4, "schedule": "vp", "beta_min": 0.1, "beta_max": 20.0, "nz": nz,
                                  "r1_gamma": 0.05, "lazy_reg": None}}
    config["optim"]["lr"] = {"autoencoder": 1e-3, "generator": 2e-4, "discriminator": 2e-4}
    config["optim"]["betas"] = [0.5, 0.9]
    config["name"] = f"{dataset}-ldm-ddgan"
    return config


def demo_config(method, dataset, steps, latent_model="ddpm"):
    """A complete run config of baseline `method` on a demo dataset, trained for `steps` steps
    (latent_model="ddgan": latent diffusion with a DDGAN on the latents)."""
    if method not in DEMO_METHODS:
        raise ConfigError(f"unknown demo baseline {method!r}; choose one of {', '.join(DEMO_METHODS)} "
                          "(DDIM samples the ddpm run)")
    if dataset not in DEMO_DATASETS:
        raise ConfigError(f"unknown demo dataset {dataset!r}; choose one of {', '.join(DEMO_DATASETS)}")
    config = {
        "name": f"{dataset}-{method}",
        "method": demo_method(method, dataset, steps),
        "networks": demo_networks(method, dataset),
        "data": copy.deepcopy(DATA[dataset]),
        "optim": demo_optim(method, dataset),
        "train": {"batch_size": BATCH[dataset], "steps": steps, "seed": 0, "log_every": 100,
                  "checkpoint_every": max(steps, 1)},
    }
    if latent_model == "ddgan" and method == "ldm":
        return latent_ddgan(config, dataset)
    if latent_model != "ddpm":
        raise ConfigError(f"latent_model must be 'ddpm' or 'ddgan' (latent diffusion only), got {latent_model!r}")
    return config


# ------------------------------------------------------------------ CIFAR-10

# The papers' optimiser settings are the shared trainer's `optim` options (ddgan/core/trainer.py):
# warmup_steps (linear learning-rate warm-up; DDPM 5000, VDM 100), grad_clip (global gradient norm;
# DDPM 1.0) and weight_decay (decoupled, i.e. AdamW; VDM 0.01).

CIFAR10_DATA = {"dataset": "cifar10", "root": None, "split": "train", "hflip": True, "shape": [3, 32, 32]}
CIFAR10_TRAIN = {"batch_size": 128, "seed": 0, "log_every": 100, "checkpoint_every": 5000,
                 "snapshot_every": 50_000, "num_workers": 4}

# the DDPM paper's CIFAR-10 model (Ho et al. 2020, App. B; `unet2d16b2` in their run_cifar.py): 35.7M parameters
DDPM_CIFAR10_UNET = {"arch": "ddpm_unet", "image_size": 32, "in_channels": 3, "ch": 128, "ch_mult": [1, 2, 2, 2],
                     "num_res_blocks": 2, "attn_resolutions": [16], "dropout": 0.1}


def cifar10_ddpm():
    """DDPM on CIFAR-10 as the paper and its run_cifar.py: T = 1000 linear betas, eps-prediction with
    L_simple, batch 128, Adam lr 2e-4 (warm-up 5000 steps), gradient clipping at 1, EMA 0.9999,
    random horizontal flips, 800k steps, dropout 0.1; sampled with sigma^2 = beta ("fixedlarge") and
    x0_hat clipped to [-1, 1]. DDIM samples this model (DDIM_TABLE)."""
    return {
        "name": "cifar10-ddpm",
        "method": {"name": "ddpm", **linear_schedule(variance="large", clip_x0=True, sampler="ancestral",
                                                     sample_steps=1000, spacing="uniform")},
        "networks": {"denoiser": dict(DDPM_CIFAR10_UNET)},
        "data": dict(CIFAR10_DATA),
        "optim": {"lr": {"denoiser": 2e-4}, "betas": [0.9, 0.999], "ema_decay": 0.9999, "lr_schedule": "constant",
                  "warmup_steps": 5000, "grad_clip": 1.0},
        "train": {**CIFAR10_TRAIN, "steps": 800_000},
    }


# The DDIM paper's CIFAR-10 table (FID by steps S and eta) samples the DDPM model with the quadratic
# sub-sequence for S < 1000 (its App. D.2); S = 1000 visits every step.
DDIM_TABLE_STEPS = (10, 20, 50, 100, 1000)
DDIM_TABLE_ETAS = (0.0, 0.2, 0.5, 1.0)


def ddim_table_options():
    """Sampling options (keyword arguments of DDPM.sample) for every cell of the DDIM paper's table."""
    return [{"sampler": "ddim", "steps": steps, "eta": eta, "spacing": "quadratic" if steps < 1000 else "uniform"}
            for eta in DDIM_TABLE_ETAS for steps in DDIM_TABLE_STEPS]


def cifar10_vae():
    """A convolutional VAE on CIFAR-10. Our choice (the DDGAN paper compares to NVAE, which is far larger):
    8x8x16 latents, residual conv encoder/decoder of width 128, the DDPM recipe's optimiser and EMA."""
    autoencoder = {"image_size": 32, "base_channels": 128, "channel_mult": [1, 2, 2], "num_res_blocks": 2,
                   "latent_channels": 16}
    return {
        "name": "cifar10-vae",
        "method": {"name": "vae", "kl_weight": 1.0, "kl_warmup_steps": 10_000},
        "networks": {"encoder": {"arch": "conv_encoder", "in_channels": 3, **autoencoder},
                     "decoder": {"arch": "conv_decoder", "out_channels": 3, **autoencoder}},
        "data": dict(CIFAR10_DATA),
        "optim": {"lr": {"vae": 2e-4}, "betas": [0.9, 0.999], "ema_decay": 0.9999, "lr_schedule": "constant"},
        "train": {**CIFAR10_TRAIN, "steps": 300_000},
    }


def cifar10_ldm():
    """Latent diffusion on CIFAR-10. Our choice (Rombach et al. report no CIFAR-10 model): a KL autoencoder
    with downsampling factor 2 (16x16x4 latents) and KL weight 1e-6 as theirs, trained 100k steps, then
    a DDPM U-Net (ch 128, ch_mult 1,2,2, attention at 8x8) on its latents with T = 1000 linear betas."""
    autoencoder = {"image_size": 32, "base_channels": 128, "channel_mult": [1, 2], "num_res_blocks": 2,
                   "latent_channels": 4}
    denoiser = {"arch": "ddpm_unet", "image_size": 16, "in_channels": 4, "ch": 128, "ch_mult": [1, 2, 2],
                "num_res_blocks": 2, "attn_resolutions": [8], "dropout": 0.1}
    return {
        "name": "cifar10-ldm",
        "method": {"name": "ldm", "autoencoder_steps": 100_000, "kl_weight": 1e-6,
                   **linear_schedule(variance="small", sampler="ddim", sample_steps=100, eta=0.0)},
        "networks": {"encoder": {"arch": "conv_encoder", "in_channels": 3, **autoencoder},
                     "generator": {"arch": "latent_generator", "denoiser": denoiser,
                                   "decoder": {"arch": "conv_decoder", "out_channels": 3, **autoencoder}}},
        "data": dict(CIFAR10_DATA),
        "optim": {"lr": {"autoencoder": 1e-4, "denoiser": 2e-4}, "betas": [0.9, 0.999], "ema_decay": 0.9999,
                  "lr_schedule": "constant"},
        "train": {**CIFAR10_TRAIN, "steps": 600_000},
    }


def cifar10_vdm():
    """VDM on CIFAR-10 as the paper (no augmentation: 2.65 bits/dim): 8-bit likelihood, continuous time,
    a U-Net of 32 residual blocks of width 128 at full resolution with attention in the middle, dropout
    0.1, Fourier features (2^6, 2^7), gamma in [-13.3, 5], antithetic times, batch 128, AdamW lr 2e-4,
    betas (0.9, 0.99), weight decay 0.01, EMA 0.9999, 10M steps (the released code's config).
    The noise schedule is the paper's monotone MLP; the released CIFAR-10 config uses the learned linear
    one (`schedule: learned_linear`)."""
    fourier = [6, 8]
    denoiser = {"arch": "ddpm_unet", "image_size": 32, "in_channels": 3 * (1 + 2 * (fourier[1] - fourier[0])),
                "out_channels": 3, "ch": 128, "ch_mult": [1], "num_res_blocks": 32, "attn_resolutions": [],
                "dropout": 0.1}
    return {
        "name": "cifar10-vdm",
        "method": {"name": "vdm", "vocab_size": 256, "antithetic_time_sampling": True, "sample_steps": 1000},
        "networks": {"model": {"arch": "vdm_model", "denoiser": denoiser, "schedule": "learned_nnet",
                               "gamma_min": -13.3, "gamma_max": 5.0, "fourier_features": fourier,
                               "residual_eps": True}},
        "data": {**CIFAR10_DATA, "hflip": False},
        "optim": {"lr": {"model": 2e-4}, "betas": [0.9, 0.99], "ema_decay": 0.9999, "lr_schedule": "constant",
                  "warmup_steps": 100, "weight_decay": 0.01},
        "train": {**CIFAR10_TRAIN, "steps": 10_000_000},
    }


CIFAR10_PRESETS = {"ddpm": cifar10_ddpm, "vae": cifar10_vae, "ldm": cifar10_ldm, "vdm": cifar10_vdm}


def cifar10_config(method):
    """The CIFAR-10 run config of a baseline (ddpm, vae, ldm, vdm)."""
    if method not in CIFAR10_PRESETS:
        raise ConfigError(f"unknown CIFAR-10 baseline {method!r}; choose one of {', '.join(CIFAR10_PRESETS)}")
    return json.loads(json.dumps(CIFAR10_PRESETS[method]()))


# ------------------------------------------------------------------ small images on a CPU

def small_ddpm(image_size=32):
    """The DDPM baseline beside the small DDGAN presets (ddgan.small_presets): the same conv U-Net without z,
    as an eps-model; T = 1000 linear betas, sampled with 50 DDIM steps (x0 clipped) so that grids are cheap."""
    return {
        "name": f"small{image_size}-ddpm",
        "method": {"name": "ddpm", **linear_schedule(variance="small", sampler="ddim", sample_steps=50, eta=0.0,
                                                     ddim_clip_x0=True)},
        "networks": {"denoiser": {"arch": "conv_unet", "image_size": image_size, "in_channels": 3,
                                  **small_network(image_size), "output": "linear"}},
        "data": small_data(image_size),
        "optim": {**SMALL_OPTIM, "lr": {"denoiser": 5e-4}, "betas": [0.9, 0.999], "warmup_steps": 100},
        "train": dict(SMALL_TRAIN),
    }


# named presets for `ddgan train --preset NAME` (to be merged into ddgan.presets.PRESETS)
PRESETS = {
    **{f"small{size}_ddpm": (lambda size=size: small_ddpm(size)) for size in SMALL_SIZES},
    **{f"cifar10_{method}": (lambda method=method: cifar10_config(method)) for method in CIFAR10_PRESETS},
    **{f"{dataset}_{method}_demo": (lambda method=method, dataset=dataset:
                                    demo_config(method, dataset, DEMO_STEPS["quick"][dataset][method]))
       for dataset in DEMO_DATASETS for method in DEMO_METHODS},
}
