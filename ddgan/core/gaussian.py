"""Gaussian diffusion math shared by DDGAN and every diffusion baseline: the forward process
q(x_t | x_0), the posterior q(x_t | x_{t+1}, x_0) and the eps -> x_0 conversion, over a chain's
per-step betas or its alpha-bars abar = cumprod(1 - beta). Methods keep only what is theirs:
schedules (ddgan/denoising_gan.py, baselines/schedules.py), losses and samplers.

The index convention of the whole package (the DDPM and DDGAN official codes agree on it):
a chain of T noising steps x_0 -> x_1 -> ... -> x_T has betas stored 0-based, entry t for the step
from x_t to x_{t+1}, and
- abar[t] = prod_{s <= t} (1 - beta[s]) is the marginal q(x_{t+1} | x_0) = N(sqrt(abar[t]) x_0, (1 - abar[t]) I);
- posterior entry t is q(x_t | x_{t+1}, x_0), the reverse step into x_t (into the data for t = 0);
- a network that denoises x_{t+1} is given t, so t in {0, ..., T-1} names the less noisy member.
A sub-sequence of steps (respacing, DDIM) is again such a chain, with its own betas.
"""
import torch


def batch_view(values, like):
    """A per-sample vector (B,) shaped to broadcast against a batch `like` (B, ...)."""
    return values.reshape(-1, *([1] * (like.dim() - 1)))


def alpha_bars(betas):
    """abar[t] = prod_{s <= t} (1 - beta[s])."""
    return torch.cumprod(1.0 - betas, 0)


def previous_alpha_bars(abar):
    """abar[t - 1] for every t, with 1 (the data) before the first step."""
    return torch.cat([abar.new_ones(1), abar[:-1]])


def betas_from_alpha_bars(abar):
    """The per-step betas of the chain whose alpha-bars are `abar` (e.g. a visited sub-sequence)."""
    return 1.0 - abar / previous_alpha_bars(abar)


def diffuse(x, scale, std, noise):
    """scale * x + std * noise, a draw from N(scale x, std^2 I) given standard normal `noise`: the
    form of q(x_{t+1} | x_0) (scale sqrt(abar[t])), of one forward step and of VDM's z_t."""
    return scale * x + std * noise


def x0_from_eps(x_tp1, abar, eps):
    """Invert x_{t+1} = sqrt(abar[t]) x_0 + sqrt(1 - abar[t]) eps for x_0 (`abar` broadcasts against x)."""
    return (x_tp1 - torch.sqrt(1.0 - abar) * eps) / torch.sqrt(abar)


def posterior_coefficients(betas):
    """Coefficients of q(x_t | x_{t+1}, x_0) for a chain with per-step `betas` (entry t: the step into x_t).

    mean = coef1 * x_0 + coef2 * x_{t+1},  var = beta[t] (1 - abar[t-1]) / (1 - abar[t])   (DDPM eq. 6-7).
    """
    alphas = 1.0 - betas
    alphas_cumprod = alpha_bars(betas)
    alphas_cumprod_prev = previous_alpha_bars(alphas_cumprod)
    variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
    return {
        "alphas_cumprod": alphas_cumprod,
        "posterior_variance": variance,
        # the variance is 0 into the data step; clip before the log as the official code does
        "posterior_log_variance_clipped": torch.log(variance.clamp(min=1e-20)),
        "posterior_mean_coef1": betas * torch.sqrt(alphas_cumprod_prev) / (1.0 - alphas_cumprod),
        "posterior_mean_coef2": (1.0 - alphas_cumprod_prev) * torch.sqrt(alphas) / (1.0 - alphas_cumprod),
    }


def posterior_mean(coef1, coef2, x_0, x_tp1):
    """The mean of q(x_t | x_{t+1}, x_0) from the coefficients of step t (broadcasting against x)."""
    return coef1 * x_0 + coef2 * x_tp1


def posterior_std(log_variance):
    """The posterior's standard deviation from its (clipped) log-variance."""
    return torch.exp(0.5 * log_variance)
