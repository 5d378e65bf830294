"""Noise schedules of the discrete-time baselines and the sub-sequences of steps their samplers visit.

Timestep spacings for sampling with S < T steps (indices t = 0..T-1 as in ddgan/core/gaussian.py: t = 0 is
the first noising step):
- "uniform":   tau_i = i * floor(T / S), i = 0..S-1. The DDIM paper's "linear" selection (Song et al.
               2021, App. D.2) as its code builds it (range(0, T, T // S)) whenever S divides T, and
               exactly diffusers' timestep_spacing="leading" with steps_offset=0.
- "quadratic": tau_i = floor((i * sqrt(0.8 T) / (S - 1))^2), the DDIM code's quadratic selection
               (the paper uses it for CIFAR-10). Near t = 0 it can repeat an index (e.g. S >= 50 at
               T = 1000); a repeated index is an exact identity step of DDIM's eq. 12, so repeats are
               dropped and the sampler costs one evaluation per distinct step.
- "linspace":  round(linspace(0, T - 1, S)): evenly spaced and ending at T - 1, as the respacing of
               Nichol & Dhariwal (2021) and diffusers' timestep_spacing="linspace".
"""
import numpy as np
import torch

from ddgan.denoising_gan import ddgan_betas

SPACINGS = ("uniform", "quadratic", "linspace")


class ScheduleError(ValueError):
    """A schedule or sampling-step request that cannot be built."""


LINEAR_BETAS = (1e-4, 0.02)     # DDPM's first and last beta (the defaults of method.beta_start and beta_end)


def linear_betas(num_timesteps, beta_start=LINEAR_BETAS[0], beta_end=LINEAR_BETAS[1]):
    """DDPM's linear schedule, float64 as in the original code."""
    return torch.from_numpy(np.linspace(beta_start, beta_end, num_timesteps, dtype=np.float64))


def training_betas(options):
    """Per-step betas (float64, t = 0..T-1) named by a DDPM-style method section (checked: every option filled)."""
    schedule = options["schedule"]
    if schedule == "linear":
        return linear_betas(options["num_timesteps"], options["beta_start"], options["beta_end"])
    if schedule == "ddgan_vp":
        # DDGAN's large steps (its prepended near-zero first entry dropped)
        return ddgan_betas(options["num_timesteps"], "vp", options["beta_min"], options["beta_max"])[1:].double()
    raise ScheduleError(f"unknown diffusion schedule {schedule!r}; choose 'linear' or 'ddgan_vp'")


def spaced_timesteps(num_timesteps, steps, spacing):
    """The increasing sub-sequence of 0..T-1 that a sampler with `steps` steps visits (module docstring)."""
    if int(steps) != steps or not 1 <= steps <= num_timesteps:
        raise ScheduleError(f"sampling steps must be an integer in 1..{num_timesteps} (the trained T), got {steps!r}")
    steps = int(steps)
    if spacing == "uniform":
        points = np.arange(steps) * (num_timesteps // steps)
    elif spacing == "quadratic":
        points = np.floor(np.linspace(0, np.sqrt(0.8 * num_timesteps), steps) ** 2)
    elif spacing == "linspace":
        points = np.round(np.linspace(0, num_timesteps - 1, steps))
    else:
        raise ScheduleError(f"unknown timestep spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    return torch.from_numpy(np.unique(points.astype(np.int64)))
