"""Variational diffusion models (Kingma, Salimans, Poole, Ho, NeurIPS 2021) in continuous time.

z_t = alpha_t x + sigma_t eps with sigma_t^2 = sigmoid(gamma(t)), alpha_t^2 = sigmoid(-gamma(t)), and a
learned monotone gamma (baselines/vdm_networks.py). The loss is the negative ELBO with the paper's
continuous-time (T -> infinity) diffusion loss:

    -ELBO(x) = E_{z_0}[-log p(x | z_0)]                                     reconstruction
               + KL(q(z_1 | x) || N(0, I))                                 prior
               + 1/2 E_{t ~ U(0,1), eps} [gamma'(t) ||eps - eps_hat(z_t; t)||^2]   diffusion

reported in bits per dimension. Data and likelihood p(x | z_0):
- `vocab_size: V` (images): x takes V evenly spaced values in [-1, 1] (V = 256 for 8-bit images); as
  in the VDM code, value k is encoded as 2 (k + 1/2) / V - 1 and p(x | z_0) is the exact factorised
  categorical: softmax over k of -1/2 (z_0 / alpha_0 - encode(k))^2 / exp(gamma_0);
- `vocab_size: null` (continuous data, e.g. 2D points): the Gaussian N(x; z_0 / alpha_0, exp(gamma_0)),
  so the ELBO bounds a density and its "bits/dim" may be negative.
Times are drawn with the paper's low-discrepancy (antithetic) sampler t_i = (u + i / B) mod 1 unless
`antithetic_time_sampling: false`.

Sampling is ancestral on the discretised model with `steps` equal steps (the VDM code's `sample`):
z_1 ~ N(0, I), then z_s ~ p(z_s | z_t) for t = i / steps down to s = 0, then x = argmax_k p(x = k | z_0)
(continuous data: the mean z_0 / alpha_0). NFE = steps.

The network `model` (arch vdm_model) holds the schedule and the eps-model; it is the sampling network.
"""
import math

import torch
import torch.nn.functional as F

from ddgan.core.gaussian import batch_view, diffuse
from ddgan.core.methods import Method
from ddgan.base.options import Option
from ddgan.core.sampler import run_reverse_chain


class VDM(Method):
    title = "VDM"
    sampling_network = "model"
    OPTIONS = (
        Option("vocab_size", int, None, min=2, allow_none=True,
               help="levels of discrete data (256 for 8-bit images; null: continuous data)"),
        Option("antithetic_time_sampling", bool, True, help="the paper's low-discrepancy sampler of t"),
        Option("sample_steps", int, 1000, min=1, help="default steps of the ancestral sampler"),
    )

    def __init__(self, config, sampling_only=False):
        super().__init__(config, sampling_only)
        options = self.options
        self.vocab_size = options["vocab_size"]
        self.antithetic = options["antithetic_time_sampling"]
        self.sample_steps = options["sample_steps"]
        self.data_dim = math.prod(self.data_shape)
        model = self.networks["model"]
        expected = model.input_channels(self.data_shape[0])
        found = getattr(model.denoiser, "in_channels", expected)
        if found != expected:
            raise ValueError(f"the VDM denoiser takes {found} input channels, but data with {self.data_shape[0]} "
                             f"channels and fourier_features {model.fourier} give {expected}: set its in_channels "
                             f"to {expected} and its out_channels to {self.data_shape[0]}")

    # ---------------------------------------------------------------- data <-> model space
    def to_levels(self, x):
        """Data in [-1, 1] -> integer levels k in 0..V-1."""
        return torch.round((x + 1.0) / 2.0 * (self.vocab_size - 1)).long().clamp(0, self.vocab_size - 1)

    def encode_levels(self, k):
        return 2.0 * (k + 0.5) / self.vocab_size - 1.0

    def encode(self, x):
        """The diffused variable f: VDM's encoding of the discrete levels, or x itself for continuous data."""
        return x if self.vocab_size is None else self.encode_levels(self.to_levels(x).to(x.dtype))

    def level_log_probs(self, z_0_rescaled, gamma_0):
        """log p(x = k | z_0) for every level k: shape (..., V)."""
        levels = self.encode_levels(torch.arange(self.vocab_size, device=z_0_rescaled.device, dtype=z_0_rescaled.dtype))
        logits = -0.5 * (z_0_rescaled[..., None] - levels) ** 2 * torch.exp(-gamma_0)
        return F.log_softmax(logits, dim=-1)

    # ---------------------------------------------------------------- the ELBO
    def times(self, n, device):
        if self.antithetic:
            return torch.remainder(torch.rand((), device=device) + torch.arange(n, device=device) / n, 1.0)
        return torch.rand(n, device=device)

    def elbo_terms(self, x, model=None, t=None):
        """Per-example terms of -ELBO(x) in nats: reconstruction, prior, diffusion."""
        model = self.networks["model"] if model is None else model
        f = self.encode(x)
        ends = torch.tensor([0.0, 1.0], device=x.device)
        gamma_0, gamma_1 = model.gamma(ends)

        eps_0 = torch.randn_like(f)
        if self.vocab_size is None:
            # log N(x; z_0 / alpha_0, exp(gamma_0)) with z_0 / alpha_0 = x + exp(gamma_0 / 2) eps_0, in terms of eps_0
            log_likelihood = -0.5 * (eps_0**2 + math.log(2 * math.pi) + gamma_0)
        else:
            z_0_rescaled = f + torch.exp(0.5 * gamma_0) * eps_0          # z_0 / alpha_0
            log_probs = self.level_log_probs(z_0_rescaled, gamma_0)
            log_likelihood = log_probs.gather(-1, self.to_levels(x)[..., None])[..., 0]
        reconstruction = -log_likelihood.flatten(1).sum(1)

        var_1 = torch.sigmoid(gamma_1)
        prior = 0.5 * ((1.0 - var_1) * f**2 + var_1 - torch.log(var_1) - 1.0).flatten(1).sum(1)

        t = self.times(len(x), x.device) if t is None else t
        gamma_t = model.gamma(t)
        eps = torch.randn_like(f)
        z_t = diffuse(f, batch_view(torch.sigmoid(-gamma_t).sqrt(), f), batch_view(torch.sigmoid(gamma_t).sqrt(), f), eps)
        squared_error = ((eps - model.eps(z_t, gamma_t)) ** 2).flatten(1).sum(1)
        diffusion = 0.5 * model.gamma_derivative(t) * squared_error
        return {"reconstruction": reconstruction, "prior": prior, "diffusion": diffusion}

    def to_bits_per_dim(self, nats):
        return nats / (self.data_dim * math.log(2.0))

    def training_step(self, x_0, step, update):
        terms = self.elbo_terms(x_0)
        loss = self.to_bits_per_dim(sum(terms.values()).mean())
        update("model", loss)
        return {"loss": loss.detach(), **{f"{k}_bpd": self.to_bits_per_dim(v.mean()).detach() for k, v in terms.items()}}

    @torch.no_grad()
    def bits_per_dim(self, x, net=None):
        """The negative ELBO of a batch in bits/dim (a stochastic, unbiased estimate) and its terms."""
        terms = self.elbo_terms(x, net)
        out = {k: self.to_bits_per_dim(v.mean()).item() for k, v in terms.items()}
        return {"bpd": sum(out.values()), **out}

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n, *, rng=None, net=None, steps=None):
        model = self.networks["model"] if net is None else net
        steps = steps or self.sample_steps
        if int(steps) != steps or steps < 1:
            raise ValueError(f"VDM sampling steps must be a positive integer, got {steps!r}")
        z = self.randn(n, *self.data_shape, rng=rng)

        def reverse_step(z_t, i):
            """z_s ~ p(z_s | z_t) for t = i / steps, s = (i - 1) / steps (the VDM code's `sample`)."""
            gamma_t, gamma_s = model.gamma(i[:1] / steps), model.gamma((i[:1] - 1) / steps)
            eps_hat = model.eps(z_t, gamma_t.expand(len(z_t)))
            c = -torch.expm1(gamma_s - gamma_t)
            mean = torch.sqrt(torch.sigmoid(-gamma_s) / torch.sigmoid(-gamma_t)) * (
                z_t - torch.sqrt(torch.sigmoid(gamma_t)) * c * eps_hat)
            noise = torch.randn(z_t.shape, generator=rng, device=z_t.device, dtype=z_t.dtype)
            return mean + torch.sqrt(torch.sigmoid(gamma_s) * c) * noise

        z_0 = run_reverse_chain(reverse_step, z, range(steps, 0, -1))
        gamma_0 = model.gamma(torch.zeros(1, device=z_0.device))
        z_0_rescaled = z_0 / torch.sqrt(torch.sigmoid(-gamma_0))
        if self.vocab_size is None:
            return z_0_rescaled
        levels = self.level_log_probs(z_0_rescaled, gamma_0).argmax(-1)
        return levels.to(z_0.dtype) / (self.vocab_size - 1) * 2.0 - 1.0

    def nfe(self, steps=None):
        return steps or self.sample_steps

    def step_network(self, net):
        return net.denoiser

    def describe(self):
        return f"VDM ({self.sample_steps} steps)"
