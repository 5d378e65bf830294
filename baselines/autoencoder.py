"""Encoders and decoders of the VAE baseline and of latent diffusion's autoencoder.

An encoder maps x to the diagonal Gaussian q(z | x): `encoder(x) -> (mean, log_variance)`.
A decoder maps z to the mean of p(x | z): `decoder(z) -> x_mean`, and names `latent_shape`, the
shape of z a sampler draws from the prior.

The likelihood is Gaussian, p(x | z) = N(x_mean, s^2 I), with one scale s for all dimensions set to
its maximum-likelihood value on the batch, s^2 = mean squared error (the "optimal sigma-VAE" of
Rybkin et al. 2021): the reconstruction and KL terms are then balanced as in a true ELBO without a
hand-tuned weight, and the decoder does not start in the posterior-collapse regime that a fixed or
slowly learned s = 1 gives (latent diffusion's autoencoder learns a scalar log-variance for the
same reason).

Conv networks (images): residual blocks (GroupNorm, swish) with one halving per extra entry of
channel_mult, so an 8x8 input with channel_mult (1, 2) has 4x4 latents, and with (1, 2, 2, 2) 1x1.
MLP networks: vector data (the 2D mixture).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ddgan.nets.small import FourierFeatures


def check_halvings(image_size, channel_mult):
    if image_size % 2 ** (len(channel_mult) - 1):
        raise ValueError(f"image_size {image_size} is not divisible by 2^{len(channel_mult) - 1} "
                         f"(one halving per extra channel_mult entry)")
    return image_size // 2 ** (len(channel_mult) - 1)


class ResidualBlock(nn.Module):
    def __init__(self, c_in, c_out, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) + h) / math.sqrt(2)


class ConvEncoder(nn.Module):
    """Images x -> (mean, log variance) of q(z | x), z a latent image with latent_channels channels."""

    OPTION_FIELDS = {"latent_channels": dict(type=int, min=1, help="channels of the latent image")}

    def __init__(self, image_size=8, in_channels=3, base_channels=64, channel_mult=(1, 2), num_res_blocks=1,
                 latent_channels=4):
        super().__init__()
        check_halvings(image_size, channel_mult)
        self.input_conv = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        layers, c = [], base_channels
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers.append(ResidualBlock(c, base_channels * mult))
                c = base_channels * mult
            if level != len(channel_mult) - 1:
                layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        layers += [ResidualBlock(c, c), nn.GroupNorm(min(8, c), c), nn.SiLU(), nn.Conv2d(c, 2 * latent_channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        mean, log_variance = self.body(self.input_conv(x)).chunk(2, dim=1)
        return mean, log_variance


class ConvDecoder(nn.Module):
    """A latent image z -> the mean of p(x | z)."""

    OPTION_FIELDS = {"latent_channels": dict(type=int, min=1, help="channels of the latent image")}

    def __init__(self, image_size=8, out_channels=3, base_channels=64, channel_mult=(1, 2), num_res_blocks=1,
                 latent_channels=4):
        super().__init__()
        latent_size = check_halvings(image_size, channel_mult)
        self.latent_shape = (latent_channels, latent_size, latent_size)
        c = base_channels * channel_mult[-1]
        layers = [nn.Conv2d(latent_channels, c, 3, padding=1), ResidualBlock(c, c)]
        for level, mult in reversed(list(enumerate(channel_mult))):
            for _ in range(num_res_blocks):
                layers.append(ResidualBlock(c, base_channels * mult))
                c = base_channels * mult
            if level != 0:
                layers += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(c, c, 3, padding=1)]
        layers += [nn.GroupNorm(min(8, c), c), nn.SiLU(), nn.Conv2d(c, out_channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        return self.body(z)


def mlp(widths):
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return layers[:-1]          # no activation after the last layer


class MLPEncoder(nn.Module):
    """x -> (mean, log variance) of q(z | x); optional Fourier features of x, as the 2-D denoisers."""

    OPTION_FIELDS = {"latent_dim": dict(type=int, min=1, help="dimension of the latent z")}

    def __init__(self, data_dim=2, latent_dim=2, hidden=256, depth=3, fourier_octaves=0):
        super().__init__()
        self.features = FourierFeatures(fourier_octaves)
        self.body = nn.Sequential(*mlp([self.features.dim(data_dim)] + [hidden] * depth + [2 * latent_dim]))

    def forward(self, x):
        mean, log_variance = self.body(self.features(x)).chunk(2, dim=1)
        return mean, log_variance


class MLPDecoder(nn.Module):
    """z -> x; optional Fourier features of z (a map onto sharp clusters is a staircase in z)."""

    OPTION_FIELDS = {"latent_dim": dict(type=int, min=1, help="dimension of the latent z")}

    def __init__(self, data_dim=2, latent_dim=2, hidden=256, depth=3, fourier_octaves=0):
        super().__init__()
        self.latent_shape = (latent_dim,)
        self.features = FourierFeatures(fourier_octaves)
        self.body = nn.Sequential(*mlp([self.features.dim(latent_dim)] + [hidden] * depth + [data_dim]))

    def forward(self, z):
        return self.body(self.features(z))


# ------------------------------------------------------------------ the terms of the ELBO

def sample_posterior(mean, log_variance, noise=None):
    """z = mean + exp(log_variance / 2) * noise (the reparameterisation trick)."""
    noise = torch.randn_like(mean) if noise is None else noise
    return mean + torch.exp(0.5 * log_variance) * noise


def gaussian_kl_to_standard(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per example, summed over latent dimensions (nats)."""
    kl = 0.5 * (mean**2 + torch.exp(log_variance) - 1.0 - log_variance)
    return kl.flatten(1).sum(1)


def gaussian_log_likelihood(x, mean, log_scale):
    """log N(x; mean, exp(log_scale)^2 I) per example, summed over data dimensions (nats)."""
    log_density = -0.5 * math.log(2 * math.pi) - log_scale - 0.5 * ((x - mean) * torch.exp(-log_scale)) ** 2
    return log_density.flatten(1).sum(1)


def optimal_log_scale(x, mean, minimum=-6.0):
    """log s with s^2 = mean squared error, the maximum-likelihood shared scale, soft-clipped from
    below at `minimum` as in sigma-VAE (the density of near-perfect reconstructions is unbounded)."""
    log_scale = 0.5 * torch.log(((x - mean) ** 2).mean())
    return minimum + F.softplus(log_scale - minimum)


def elbo_terms(encoder, decoder, x, log_scale=None):
    """One-sample estimates of -E_q[log p(x | z)] and KL(q(z | x) || N(0, I)) per example (nats).

    ELBO = E_q[log p(x | z)] - KL (Kingma & Welling 2014), with z reparameterised; the
    likelihood's log scale is `log_scale`, or its batch maximum-likelihood value if None.
    """
    mean, log_variance = encoder(x)
    z = sample_posterior(mean, log_variance)
    x_mean = decoder(z)
    log_scale = optimal_log_scale(x, x_mean) if log_scale is None else log_scale
    reconstruction = -gaussian_log_likelihood(x, x_mean, log_scale)
    return reconstruction, gaussian_kl_to_standard(mean, log_variance)


def autoencoder_loss(encoder, decoder, x, kl_weight=1.0):
    """The training loss of the VAE and of latent diffusion's autoencoder: (-E_q[log p(x | z)] +
    kl_weight KL) per data dimension, averaged over the batch; and the two unweighted terms per
    data dimension (detached), for the log."""
    reconstruction, kl = elbo_terms(encoder, decoder, x)
    data_dim = math.prod(x.shape[1:])
    loss = (reconstruction + kl_weight * kl).mean() / data_dim
    return loss, reconstruction.mean().detach() / data_dim, kl.mean().detach() / data_dim
