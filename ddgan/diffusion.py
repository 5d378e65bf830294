"""The DDGAN forward process: T large Gaussian steps and their posterior (paper Sec. 3 and App. A).

Indices follow the package's convention (ddgan/core/gaussian.py): a training pair is (x_t, x_{t+1}) with
t in {0, ..., T-1} naming the less noisy member. The generator sees x_{t+1} and t, the discriminator
scores (x_t, t, x_{t+1}), and sampling walks t = T-1, ..., 0 through q(x_t | x_{t+1}, x_0).

Coefficients are computed exactly as the official implementation does (float64 time grid, float32
from the betas on), so they match its numbers to float precision.
"""
import torch
from torch import nn

from ddgan.core.gaussian import batch_view, diffuse, posterior_coefficients, posterior_mean, posterior_std, x0_from_eps

EPS_SMALL = 1e-3      # the time grid starts at t = 1e-3, not 0
FIRST_BETA = 1e-8     # a near-zero step is prepended so that index 0 means "data"


def time_grid(num_timesteps):
    """t_k = k/T (1 - 1e-3) + 1e-3 for k = 0..T (float64)."""
    k = torch.arange(num_timesteps + 1, dtype=torch.float64)
    return k / num_timesteps * (1.0 - EPS_SMALL) + EPS_SMALL


def vp_variance(t, beta_min, beta_max):
    """VP-SDE marginal variance: 1 - exp(-1/2 t^2 (beta_max - beta_min) - t beta_min)."""
    log_mean_coeff = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min
    return 1.0 - torch.exp(2.0 * log_mean_coeff)


def geometric_variance(t, beta_min, beta_max):
    """Geometric variance schedule: beta_min (beta_max / beta_min)^t."""
    return beta_min * (beta_max / beta_min) ** t


VARIANCE_SCHEDULES = {"vp": vp_variance, "geometric": geometric_variance}


def ddgan_betas(num_timesteps, schedule="vp", beta_min=0.1, beta_max=20.0):
    """Per-step betas for k = 0..T (float32); entry 0 is the prepended 1e-8.

    beta_k = 1 - abar(t_k) / abar(t_{k-1}) with abar = 1 - var(t).
    """
    if int(num_timesteps) != num_timesteps or num_timesteps < 1:
        raise ValueError(f"num_timesteps must be an integer >= 1, got {num_timesteps!r}")
    if schedule not in VARIANCE_SCHEDULES:
        raise ValueError(f"unknown variance schedule {schedule!r}; choose one of {sorted(VARIANCE_SCHEDULES)}")
    var = VARIANCE_SCHEDULES[schedule](time_grid(num_timesteps), beta_min, beta_max)
    alpha_bars = 1.0 - var
    betas = 1.0 - alpha_bars[1:] / alpha_bars[:-1]
    return torch.cat([torch.tensor([FIRST_BETA], dtype=torch.float64), betas]).float()


def per_sample(coefficients, t, like):
    """coefficients[t] shaped to broadcast against a batch `like`."""
    return batch_view(coefficients[t], like)


class DDGANDiffusion(nn.Module):
    """The T-step forward process q and the posterior used for sampling.

    Buffers (index k = 0..T): `sigmas`, `a_s` (one step x_{k-1} -> x_k), `a_s_cum`, `sigmas_cum`
    (q(x_k | x_0)). Posterior buffers (index t = 0..T-1, from betas[1:]).
    """

    def __init__(self, num_timesteps, schedule="vp", beta_min=0.1, beta_max=20.0):
        super().__init__()
        self.num_timesteps = int(num_timesteps)
        self.schedule = schedule
        betas = ddgan_betas(num_timesteps, schedule, beta_min, beta_max)
        a_s = torch.sqrt(1.0 - betas)
        a_s_cum = torch.cumprod(a_s, 0)
        buffers = {
            "betas": betas[1:],
            "sigmas": betas**0.5,
            "a_s": a_s,
            "a_s_cum": a_s_cum,
            "sigmas_cum": torch.sqrt(1.0 - a_s_cum**2),
            **posterior_coefficients(betas[1:]),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)

    def q_sample(self, x_0, t, noise=None):
        """x_t ~ q(x_t | x_0) = N(a_s_cum[t] x_0, sigmas_cum[t]^2 I)."""
        if noise is None:
            noise = torch.randn_like(x_0)
        return diffuse(x_0, per_sample(self.a_s_cum, t, x_0), per_sample(self.sigmas_cum, t, x_0), noise)

    def q_sample_pairs(self, x_0, t, randn_like=torch.randn_like):
        """A training pair (x_t, x_{t+1}): x_t ~ q(x_t | x_0), then one forward step to x_{t+1}. As the
        official code, the noise of the forward step is drawn before that of x_t."""
        noise = randn_like(x_0)
        x_t = self.q_sample(x_0, t, randn_like(x_0))
        x_tp1 = diffuse(x_t, per_sample(self.a_s, t + 1, x_0), per_sample(self.sigmas, t + 1, x_0), noise)
        return x_t, x_tp1

    def posterior_mean(self, x_0, x_tp1, t):
        return posterior_mean(per_sample(self.posterior_mean_coef1, t, x_tp1),
                              per_sample(self.posterior_mean_coef2, t, x_tp1), x_0, x_tp1)

    def posterior_sample(self, x_0, x_tp1, t, noise=None):
        """x_t ~ q(x_t | x_{t+1}, x_0); no noise is added into the data step (t = 0)."""
        if noise is None:
            noise = torch.randn_like(x_tp1)
        std = posterior_std(per_sample(self.posterior_log_variance_clipped, t, x_tp1))
        nonzero = batch_view((t != 0).to(x_tp1.dtype), x_tp1)
        return self.posterior_mean(x_0, x_tp1, t) + nonzero * std * noise

    def x0_from_eps(self, x_tp1, t, eps):
        """x_0 from the noise eps in x_{t+1} (the posterior chain's abar[t])."""
        return x0_from_eps(x_tp1, per_sample(self.alphas_cumprod, t, x_tp1), eps)
