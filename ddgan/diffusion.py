"""The DDGAN forward process: T large Gaussian steps and their posterior (paper Sec. 3 and App. A).

Index convention (as the official code): a training pair is (x_t, x_{t+1}) with t in {0, ..., T-1}
naming the LESS noisy member. The generator sees x_{t+1} and t, the discriminator scores
(x_t, t, x_{t+1}), and sampling walks t = T-1, ..., 0 through q(x_t | x_{t+1}, x_0).

Coefficients are computed exactly as the official implementation does (float64 time grid, float32
from the betas on), so they match its numbers to float precision.
"""
import torch
from torch import nn

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


def posterior_coefficients(betas):
    """Coefficients of q(x_{k-1} | x_k, x_0) for a chain with per-step `betas` (float32, k = 1..K).

    mean = coef1 * x_0 + coef2 * x_k,  var = beta_k (1 - abar_{k-1}) / (1 - abar_k)   (DDPM eq. 6-7).
    Entry i of each tensor belongs to the step into x_i from x_{i+1} (0-based).
    """
    alphas = 1.0 - betas
    alphas_cumprod = torch.cumprod(alphas, 0)
    alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=betas.dtype), alphas_cumprod[:-1]])
    variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
    return {
        "alphas_cumprod": alphas_cumprod,
        "posterior_variance": variance,
        # the variance is 0 into the data step; clip before the log as the official code does
        "posterior_log_variance_clipped": torch.log(variance.clamp(min=1e-20)),
        "posterior_mean_coef1": betas * torch.sqrt(alphas_cumprod_prev) / (1.0 - alphas_cumprod),
        "posterior_mean_coef2": (1.0 - alphas_cumprod_prev) * torch.sqrt(alphas) / (1.0 - alphas_cumprod),
    }


def batch_view(values, like):
    """A per-sample vector (B,) shaped to broadcast against a batch `like` (B, ...)."""
    return values.reshape(-1, *([1] * (like.dim() - 1)))


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
        return per_sample(self.a_s_cum, t, x_0) * x_0 + per_sample(self.sigmas_cum, t, x_0) * noise

    def q_sample_pairs(self, x_0, t):
        """A training pair (x_t, x_{t+1}): x_t ~ q(x_t | x_0), then one forward step to x_{t+1}."""
        noise = torch.randn_like(x_0)
        x_t = self.q_sample(x_0, t)
        x_tp1 = per_sample(self.a_s, t + 1, x_0) * x_t + per_sample(self.sigmas, t + 1, x_0) * noise
        return x_t, x_tp1

    def posterior_mean(self, x_0, x_tp1, t):
        return (per_sample(self.posterior_mean_coef1, t, x_tp1) * x_0
                + per_sample(self.posterior_mean_coef2, t, x_tp1) * x_tp1)

    def posterior_sample(self, x_0, x_tp1, t, noise=None):
        """x_t ~ q(x_t | x_{t+1}, x_0); no noise is added into the data step (t = 0)."""
        if noise is None:
            noise = torch.randn_like(x_tp1)
        std = torch.exp(0.5 * per_sample(self.posterior_log_variance_clipped, t, x_tp1))
        nonzero = batch_view((t != 0).to(x_tp1.dtype), x_tp1)
        return self.posterior_mean(x_0, x_tp1, t) + nonzero * std * noise

    def x0_from_eps(self, x_tp1, t, eps):
        """Invert x_{t+1} = sqrt(abar_{t+1}) x_0 + sqrt(1 - abar_{t+1}) eps (posterior's abar)."""
        abar = per_sample(self.alphas_cumprod, t, x_tp1)
        return (x_tp1 - torch.sqrt(1.0 - abar) * eps) / torch.sqrt(abar)
