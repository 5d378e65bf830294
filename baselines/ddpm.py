"""DDPM (Ho et al. 2020): an eps-prediction denoiser trained with L_simple, sampled ancestrally.

The same class serves two roles in the comparison:
- the DDPM baseline: linear betas 1e-4..0.02 over T = 1000 steps (`schedule: "linear"`), sampled
  with all T steps or a respaced subsequence (Nichol & Dhariwal 2021, sec. 4) of fewer steps;
- a Gaussian denoiser on DDGAN's own T-step schedule (`schedule: "ddgan_vp"`): the same large
  steps as DDGAN, but the reverse step is the Gaussian q(x_{t-1} | x_t, x_0'), which is what the
  paper argues cannot model the multimodal denoising distribution of large steps.
DDIM sampling of the same trained model lives in baselines/ddim.py.
"""
import numpy as np
import torch
import torch.nn.functional as F

from ddgan.diffusion import batch_view, ddgan_betas, posterior_coefficients
from ddgan.methods import Method
from ddgan.sampler import run_reverse_chain


def linear_betas(num_timesteps, beta_start=1e-4, beta_end=0.02):
    """DDPM's linear schedule (float64 as in the original code, float32 from here on)."""
    return torch.from_numpy(np.linspace(beta_start, beta_end, num_timesteps, dtype=np.float64)).float()


def training_betas(options):
    schedule = options.get("schedule", "linear")
    if schedule == "linear":
        return linear_betas(options["num_timesteps"], options.get("beta_start", 1e-4), options.get("beta_end", 0.02))
    if schedule == "ddgan_vp":
        return ddgan_betas(options["num_timesteps"], "vp", options.get("beta_min", 0.1), options.get("beta_max", 20.0))[1:]
    raise ValueError(f"unknown DDPM schedule {schedule!r}; choose 'linear' or 'ddgan_vp'")


def spaced_timesteps(num_timesteps, steps, spacing="uniform"):
    """An increasing subsequence of 0..T-1 with `steps` entries ending at T-1.

    uniform: evenly spaced; quadratic: denser near t = 0 (DDIM, Song et al. 2021, App. D.2).
    """
    if not 1 <= steps <= num_timesteps:
        raise ValueError(f"sampling steps must be in 1..{num_timesteps}, got {steps}")
    if spacing == "uniform":
        points = np.linspace(0, num_timesteps - 1, steps)
    elif spacing == "quadratic":
        points = np.linspace(0, np.sqrt(num_timesteps - 1), steps) ** 2
    else:
        raise ValueError(f"unknown timestep spacing {spacing!r}; choose 'uniform' or 'quadratic'")
    timesteps = np.unique(np.round(points).astype(np.int64))
    if len(timesteps) != steps:
        raise ValueError(f"{spacing} spacing of {steps} steps over T = {num_timesteps} repeats steps; use 'uniform'")
    return torch.from_numpy(timesteps)


class DDPM(Method):
    sampling_network = "denoiser"

    def __init__(self, config, sampling_only=False):
        super().__init__(config, sampling_only)
        options = config["method"]
        self.num_timesteps = options["num_timesteps"]
        self.clip_x0 = options.get("clip_x0", True)
        self.variance = options.get("variance", "small")
        if self.variance not in ("small", "large"):
            raise ValueError(f"DDPM variance must be 'small' (posterior) or 'large' (beta), got {self.variance!r}")
        self.sample_steps = options.get("sample_steps", self.num_timesteps)
        self.spacing = options.get("spacing", "uniform")
        betas = training_betas(options)
        self.register_buffer("betas", betas, persistent=False)
        self.register_buffer("alphas_cumprod", torch.cumprod(1.0 - betas, 0), persistent=False)

    def eps(self, net, x_t, t):
        return net(x_t, t)

    def training_step(self, x_0, step, update):
        """L_simple = E ||eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t)||^2 (DDPM eq. 14)."""
        t = torch.randint(0, self.num_timesteps, (len(x_0),), device=x_0.device)
        noise = torch.randn_like(x_0)
        abar = batch_view(self.alphas_cumprod[t], x_0)
        x_t = abar.sqrt() * x_0 + (1.0 - abar).sqrt() * noise
        loss = F.mse_loss(self.eps(self.networks["denoiser"], x_t, t), noise)
        update("denoiser", loss)
        return {"loss": loss.detach()}

    def predict_x0(self, net, x_t, t):
        abar = batch_view(self.alphas_cumprod[t], x_t)
        x_0 = (x_t - (1.0 - abar).sqrt() * self.eps(net, x_t, t)) / abar.sqrt()
        return x_0.clamp(-1.0, 1.0) if self.clip_x0 else x_0

    def respaced_posterior(self, timesteps):
        """Posterior coefficients of the chain that visits only `timesteps` (betas recomputed from abar)."""
        abar = self.alphas_cumprod[timesteps]
        abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
        betas = 1.0 - abar / abar_prev
        coefficients = posterior_coefficients(betas)
        if self.variance == "large":
            # sigma^2 = beta (Ho et al.), with the first step's posterior variance as in their code
            large = torch.cat([coefficients["posterior_variance"][1:2], betas[1:]])
            coefficients["posterior_log_variance_clipped"] = torch.log(large)
        return coefficients

    @torch.no_grad()
    def sample(self, n, *, rng=None, net=None, steps=None, spacing=None, x_T=None):
        """Ancestral sampling (DDPM Alg. 2) over all T steps or a respaced subsequence of `steps`."""
        net = self.networks["denoiser"] if net is None else net
        timesteps = spaced_timesteps(self.num_timesteps, steps or self.sample_steps, spacing or self.spacing)
        coefficients = self.respaced_posterior(timesteps.to(self.alphas_cumprod.device))
        position = {int(t): i for i, t in enumerate(timesteps)}
        x_T = self.randn(n, *self.data_shape, rng=rng) if x_T is None else x_T

        def reverse_step(x_t, t):
            i = position[int(t[0])]
            x_0 = self.predict_x0(net, x_t, t)
            mean = coefficients["posterior_mean_coef1"][i] * x_0 + coefficients["posterior_mean_coef2"][i] * x_t
            if i == 0:
                return mean
            std = torch.exp(0.5 * coefficients["posterior_log_variance_clipped"][i])
            return mean + std * self.randn(*x_t.shape, rng=rng)

        return run_reverse_chain(reverse_step, x_T, timesteps.flip(0).tolist())

    def nfe(self, steps=None):
        return steps or self.sample_steps

    def describe(self):
        schedule = self.config["method"].get("schedule", "linear")
        name = "Gaussian denoiser" if schedule == "ddgan_vp" else "DDPM"
        return f"{name} T={self.num_timesteps}, {self.sample_steps} steps"
