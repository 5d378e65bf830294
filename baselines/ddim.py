"""DDIM (Song, Meng, Ermon, ICLR 2021): the generalised reverse step of a trained eps-model.

With a = alpha-bar (DDPM's cumulative product; the DDIM paper writes it alpha), one step from
x_t to x_prev along a sub-sequence of steps is eq. 12 of the paper:

    x_prev = sqrt(a_prev) x0_hat + sqrt(1 - a_prev - sigma^2) eps_theta(x_t) + sigma noise,
    x0_hat = (x_t - sqrt(1 - a_t) eps_theta(x_t)) / sqrt(a_t),
    sigma  = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev)          (eq. 16)

eta = 0 is the deterministic DDIM sampler, eta = 1 has DDPM's posterior variance. The last step
goes to a_prev = 1 (x_prev = x0_hat), as the DDIM code and diffusers' set_alpha_to_one=True do.
x_t is the noisy variable whose alpha-bar is a_t (x_{t+1} with abar[t] in ddgan/core/gaussian.py's indices).
"""
import torch

from ddgan.core.gaussian import x0_from_eps


def ddim_sigma(abar_t, abar_prev, eta):
    """sigma_t(eta) of eq. 16."""
    return eta * torch.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev))


def ddim_step(x_t, eps, abar_t, abar_prev, eta=0.0, noise=None, clip_x0=False):
    """One step of eq. 12. `noise` is required when eta > 0; x0_hat is clamped to [-1, 1] if clip_x0
    (the direction term keeps the network's eps, as diffusers does by default)."""
    x0_hat = x0_from_eps(x_t, abar_t, eps)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    sigma = ddim_sigma(abar_t, abar_prev, eta)
    x_prev = torch.sqrt(abar_prev) * x0_hat + torch.sqrt((1.0 - abar_prev - sigma**2).clamp(min=0.0)) * eps
    if eta > 0:
        if noise is None:
            raise ValueError("ddim_step with eta > 0 needs `noise` (a standard normal tensor shaped like x_t)")
        x_prev = x_prev + sigma * noise
    return x_prev
