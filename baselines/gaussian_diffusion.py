"""A discrete-time Gaussian diffusion with an eps-prediction network (Ho et al. 2020), shared by the
DDPM baseline and the denoiser of latent diffusion: the training loss L_simple and two samplers of
the same trained network, over the shared Gaussian math and index convention of ddgan/core/gaussian.py
(abar[t] is the marginal of x_{t+1}; the network denoising x_{t+1} is given t):
- "ancestral": DDPM's Algorithm 2, p(x_prev | x_t) = q(x_prev | x_t, x0_hat) with a fixed variance
  ("small": the posterior variance beta-tilde, "large": beta), on all T steps or a sub-sequence
  whose betas are recomputed from alpha-bar (respacing, Nichol & Dhariwal 2021);
- "ddim": eq. 12 of the DDIM paper with any eta (baselines/ddim.py).
Both walk a sub-sequence of 0..T-1 (baselines/schedules.py) through the shared reverse-chain loop,
one network evaluation per visited step.
"""
import torch
import torch.nn.functional as F
from torch import nn

from baselines.ddim import ddim_step
from baselines.schedules import ScheduleError, spaced_timesteps
from ddgan.core.gaussian import (alpha_bars, batch_view, betas_from_alpha_bars, diffuse, posterior_coefficients,
                                 posterior_mean, posterior_std, previous_alpha_bars, x0_from_eps)
from ddgan.core.sampler import run_reverse_chain

SAMPLERS = ("ancestral", "ddim")
VARIANCES = ("small", "large")


class GaussianDiffusion(nn.Module):
    """Buffers `betas` and `alphas_cumprod` (float32, t = 0..T-1); sampling coefficients are
    computed in float64 from the float64 schedule, as DDPM's code does."""

    def __init__(self, betas):
        super().__init__()
        betas = betas.double()
        self.num_timesteps = len(betas)
        self.alphas_cumprod64 = alpha_bars(betas)     # stays on the CPU in float64
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alphas_cumprod", self.alphas_cumprod64.float(), persistent=False)

    def loss(self, net, x_0):
        """L_simple = E_{t, x_0, eps} ||eps - eps_theta(x_{t+1}, t)||^2 (DDPM eq. 14), mean over dimensions,
        with x_{t+1} = sqrt(abar[t]) x_0 + sqrt(1 - abar[t]) eps (DDPM eq. 4)."""
        t = torch.randint(0, self.num_timesteps, (len(x_0),), device=x_0.device)
        noise = torch.randn_like(x_0)
        abar = batch_view(self.alphas_cumprod[t], x_0)
        x_tp1 = diffuse(x_0, abar.sqrt(), (1.0 - abar).sqrt(), noise)
        return F.mse_loss(net(x_tp1, t), noise)

    def respaced_posterior(self, timesteps, variance="small"):
        """Posterior coefficients (float64) of the chain visiting only `timesteps`: entry i belongs to
        the step out of the noisy variable of timesteps[i] into that of timesteps[i-1] (the data for i = 0).
        """
        betas = betas_from_alpha_bars(self.alphas_cumprod64[timesteps])
        coefficients = posterior_coefficients(betas)
        if variance == "large":
            # sigma^2 = beta; DDPM's code uses the posterior variance for the first step (its log is finite)
            large = torch.cat([coefficients["posterior_variance"][1:2], betas[1:]]) if len(betas) > 1 else betas
            coefficients["posterior_log_variance_clipped"] = torch.log(large)
        return coefficients

    def timesteps(self, steps, spacing):
        return spaced_timesteps(self.num_timesteps, steps, spacing)

    @torch.no_grad()
    def sample(self, net, x_T, *, sampler, steps, spacing, clip_x0, eta=None, variance=None, rng=None):
        """x_T -> x_0 with `sampler` over `steps` steps (None: all T), as resolve_sampling_options resolves them
        (eta: DDIM's only, variance: the ancestral sampler's only)."""
        if sampler not in SAMPLERS:
            raise ScheduleError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if sampler == "ancestral" and variance not in VARIANCES:
            raise ScheduleError(f"variance must be 'small' (posterior) or 'large' (beta), got {variance!r}")
        if sampler == "ddim" and not 0.0 <= eta:
            raise ScheduleError(f"DDIM eta must be >= 0 (0: deterministic, 1: DDPM-like), got {eta!r}")
        timesteps = self.timesteps(steps or self.num_timesteps, spacing)
        position = {int(t): i for i, t in enumerate(timesteps)}

        def randn(like):
            return torch.randn(like.shape, generator=rng, device=like.device, dtype=like.dtype)

        if sampler == "ancestral":
            coefficients = {k: v.to(x_T.device, torch.float32)
                            for k, v in self.respaced_posterior(timesteps, variance).items()}

            def reverse_step(x, t):
                i = position[int(t[0])]
                x0_hat = x0_from_eps(x, batch_view(self.alphas_cumprod[t], x), net(x, t))
                if clip_x0:
                    x0_hat = x0_hat.clamp(-1.0, 1.0)
                mean = posterior_mean(coefficients["posterior_mean_coef1"][i], coefficients["posterior_mean_coef2"][i],
                                      x0_hat, x)
                if i == 0:
                    return mean
                return mean + posterior_std(coefficients["posterior_log_variance_clipped"][i]) * randn(x)
        else:
            abar = self.alphas_cumprod64[timesteps]
            abar, abar_prev = abar.to(x_T.device, torch.float32), previous_alpha_bars(abar).to(x_T.device, torch.float32)

            def reverse_step(x, t):
                i = position[int(t[0])]
                eps = net(x, t)
                noise = randn(x) if eta > 0 else None
                return ddim_step(x, eps, abar[i], abar_prev[i], eta, noise, clip_x0)

        return run_reverse_chain(reverse_step, x_T, timesteps.flip(0).tolist())


SAMPLING_OPTIONS = ("sampler", "steps", "spacing", "eta", "variance", "clip_x0")


def resolve_sampling_options(method_options, overrides):
    """Sampling options for GaussianDiffusion.sample: explicit `overrides` (keyword arguments of a
    method's `sample`) over the run config's method section.

    Config keys (method_options is a checked method section: every option filled in, with the defaults of
    GAUSSIAN_DIFFUSION_OPTIONS): sampler, sample_steps (null: T), spacing, eta (DDIM only), variance (ancestral
    only), clip_x0 (ancestral) and ddim_clip_x0 (DDIM).
    """
    unknown = sorted(set(overrides) - set(SAMPLING_OPTIONS))
    if unknown:
        raise ScheduleError(f"unknown sampling option(s) {unknown}; options are {', '.join(SAMPLING_OPTIONS)}")
    sampler = overrides.get("sampler") or method_options["sampler"]
    if sampler not in SAMPLERS:
        raise ScheduleError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    clip_default = method_options["clip_x0"] if sampler == "ancestral" else method_options["ddim_clip_x0"]
    resolved = {
        "sampler": sampler,
        "steps": overrides.get("steps") or method_options["sample_steps"] or method_options["num_timesteps"],
        "spacing": overrides.get("spacing") or method_options["spacing"],
        "clip_x0": clip_default if overrides.get("clip_x0") is None else overrides["clip_x0"],
    }
    if sampler == "ddim":
        if overrides.get("variance") is not None:
            raise ScheduleError("`variance` applies to sampler='ancestral'; DDIM's noise is set by `eta`")
        resolved["eta"] = float(method_options["eta"] if overrides.get("eta") is None else overrides["eta"])
    else:
        if overrides.get("eta") is not None:
            raise ScheduleError("`eta` applies to sampler='ddim'; pass sampler='ddim' (eta = 1 is DDPM-like)")
        resolved["variance"] = overrides.get("variance") or method_options["variance"]
    return resolved
