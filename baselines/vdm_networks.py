"""The networks of a variational diffusion model (Kingma et al. 2021): the noise schedule gamma(t)
and the noise-prediction model, held together as one module (the VDM's sampling network).

gamma(t) is the negative log signal-to-noise ratio: sigma_t^2 = sigmoid(gamma(t)), alpha_t^2 =
sigmoid(-gamma(t)). Schedules (with t in [0, 1], gamma(0) ~ gamma_min, gamma(1) ~ gamma_max at init):
- "learned_nnet": the paper's monotone MLP (as in its code's NoiseSchedule_NNet):
      gamma(t) = l1(t) + l3(phi(l2(2t - 1))) / n_features,   phi(h) = 2 (sigmoid(h) - 1/2),
  with l1: 1 -> 1, l2: 1 -> n_features, l3: n_features -> 1 (no bias) using |weights|, so gamma is
  monotone increasing for every value of the parameters;
- "learned_linear": gamma(t) = b + |w| t (the released code's CIFAR-10 setting);
- "fixed": gamma(t) = gamma_min + (gamma_max - gamma_min) t.
Each also gives gamma'(t) in closed form (the continuous-time loss is weighted by it).

The model predicts eps from z_t and gamma_t: the denoiser sees z_t, optionally concatenated with
Fourier features sin/cos(2^n 2 pi z_t) for n in [start, stop) (its code uses 6..7), and the time
1000 (gamma_t - gamma_min) / (gamma_max - gamma_min), as the VDM code embeds it.
`residual_eps` adds z_t to the output (the VDM code's "base measure", eps_pred += z).
"""
import math

import torch
from torch import nn

from ddgan.nets import build_network

SCHEDULES = ("learned_nnet", "learned_linear", "fixed")


class MonotoneMLPSchedule(nn.Module):
    """gamma(t) of the VDM paper: monotone in t by construction (absolute values of the weights)."""

    def __init__(self, gamma_min=-13.3, gamma_max=5.0, n_features=1024):
        super().__init__()
        self.n_features = n_features
        self.w1 = nn.Parameter(torch.tensor(gamma_max - gamma_min))
        self.b1 = nn.Parameter(torch.tensor(gamma_min))
        # the VDM code initialises l2 and l3 from N(0, 0.01^2) and l2's bias at 0
        self.w2 = nn.Parameter(0.01 * torch.randn(n_features))
        self.b2 = nn.Parameter(torch.zeros(n_features))
        self.w3 = nn.Parameter(0.01 * torch.randn(n_features))

    def hidden(self, t):
        return torch.sigmoid(self.w2.abs() * (2.0 * t[:, None] - 1.0) + self.b2)

    def forward(self, t):
        phi = 2.0 * (self.hidden(t) - 0.5)
        return self.w1.abs() * t + self.b1 + phi @ self.w3.abs() / self.n_features

    def derivative(self, t):
        s = self.hidden(t)
        return self.w1.abs() + (4.0 * s * (1.0 - s) * self.w2.abs()) @ self.w3.abs() / self.n_features


class LinearSchedule(nn.Module):
    """gamma(t) = gamma_min + (gamma_max - gamma_min) t, learned (b + |w| t) or fixed."""

    def __init__(self, gamma_min=-13.3, gamma_max=5.0, learned=True):
        super().__init__()
        w, b = torch.tensor(gamma_max - gamma_min), torch.tensor(gamma_min)
        if learned:
            self.w, self.b = nn.Parameter(w), nn.Parameter(b)
        else:
            self.register_buffer("w", w)
            self.register_buffer("b", b)

    def forward(self, t):
        return self.b + self.w.abs() * t

    def derivative(self, t):
        return self.w.abs().expand_as(t)


def fourier_features(z, start, stop):
    """sin and cos of 2^n 2 pi z for n in [start, stop), per channel (dim 1), shape (B, 2 C (stop-start), ...)."""
    frequencies = 2.0 ** torch.arange(start, stop, device=z.device, dtype=z.dtype) * 2 * math.pi
    shape = (1, -1) + (1,) * (z.dim() - 2)
    h = z.repeat_interleave(len(frequencies), dim=1) * frequencies.repeat(z.shape[1]).reshape(shape)
    return torch.cat([torch.sin(h), torch.cos(h)], dim=1)


class VDMModel(nn.Module):
    """Noise schedule + eps-model: `gamma(t)`, `gamma_derivative(t)`, `eps(z_t, gamma_t)`."""

    OPTION_FIELDS = {
        "denoiser": dict(type=dict, help="the eps-model's network spec ({arch: ..., ...})"),
        "schedule": dict(type=str, choices=SCHEDULES, help="the noise schedule gamma(t): learned or fixed"),
        "gamma_min": dict(type=float, help="gamma at t = 0 (log SNR is -gamma)"),
        "gamma_max": dict(type=float, help="gamma at t = 1"),
        "n_features": dict(type=int, min=1, help="width of the learned schedule's monotone network"),
        "fourier_features": dict(type=list, items=int, length=2, allow_none=True,
                                 help="[start, stop]: sin/cos features of z_t at 2^k, start <= k < stop (null: none)"),
        "residual_eps": dict(type=bool, help="the eps-model predicts eps - z_t (adds z_t to its output)"),
    }

    def __init__(self, denoiser, schedule="learned_nnet", gamma_min=-13.3, gamma_max=5.0, n_features=1024,
                 fourier_features=None, residual_eps=False):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown VDM noise schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if fourier_features is not None and (len(fourier_features) != 2 or fourier_features[0] >= fourier_features[1]):
            raise ValueError(f"fourier_features must be [start, stop] with start < stop (the VDM code: [6, 8]), "
                             f"got {fourier_features!r}")
        self.gamma_min, self.gamma_max = gamma_min, gamma_max
        if schedule == "learned_nnet":
            self.schedule = MonotoneMLPSchedule(gamma_min, gamma_max, n_features)
        else:
            self.schedule = LinearSchedule(gamma_min, gamma_max, learned=schedule == "learned_linear")
        self.fourier = tuple(fourier_features) if fourier_features is not None else None
        self.residual_eps = residual_eps
        self.denoiser = build_network(denoiser)

    def input_channels(self, data_channels):
        """Channels the denoiser receives for data with `data_channels` channels."""
        if self.fourier is None:
            return data_channels
        return data_channels * (1 + 2 * (self.fourier[1] - self.fourier[0]))

    def gamma(self, t):
        return self.schedule(t)

    def gamma_derivative(self, t):
        return self.schedule.derivative(t)

    def eps(self, z_t, gamma_t):
        time = 1000.0 * (gamma_t - self.gamma_min) / (self.gamma_max - self.gamma_min)
        h = z_t if self.fourier is None else torch.cat([z_t, fourier_features(z_t, *self.fourier)], dim=1)
        eps = self.denoiser(h, time)
        return eps + z_t if self.residual_eps else eps
