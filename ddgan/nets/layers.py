"""Building blocks of the NCSN++ generator with adaptive group normalisation (DDGAN, Sec. 4 / App. C).

Every block mirrors one module of the official ``score_sde/models/layerspp.py`` as configured by the
paper (BigGAN-style residual blocks, skip rescaling by 1/sqrt(2), FIR resampling); the mapping of
their parameters onto the official key names lives in ``ddgan/official.py``.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ddgan.nets.initializers import fan_avg_uniform_, fan_out_uniform_
from ddgan.nets.resample import FIRDownsample, FIRUpsample

SKIP_SCALE = 1 / math.sqrt(2)  # (skip + residual) / sqrt(2) keeps the variance of a sum of two branches


def sinusoidal_embedding(t, dim, max_period=10000, frequency_rounding="official", dtype=torch.float32):
    """Transformer/DDPM positional embedding of steps or times t (B,) -> (B, dim): [sin(t w_i), cos(t w_i)]
    with w_i = max_period^(-i / (dim/2 - 1)), zero-padded to an odd `dim`.

    The exponent has two float32 evaluation orders in this package, equal in exact arithmetic but not in
    the last bits (and trained results depend on those bits): "official", i * (-log(max_period) / (half - 1))
    as the official NCSN++ code (the paper's networks), and "scaled_index", (-log(max_period) i) / (half - 1)
    (the small networks of ddgan/nets/small.py and the DDPM U-Net; they also allow dim = 2).
    Computed in float32 as the official code, or in `dtype` (float64 for the float64 parity replay).
    """
    half = dim // 2
    if frequency_rounding == "official":
        exponents = torch.arange(half, dtype=dtype, device=t.device) * (-math.log(max_period) / (half - 1))
    elif frequency_rounding == "scaled_index":
        exponents = -math.log(max_period) * torch.arange(half, device=t.device, dtype=dtype) / max(half - 1, 1)
    else:
        raise ValueError(f"frequency_rounding must be 'official' or 'scaled_index', got {frequency_rounding!r}")
    angles = t.to(dtype)[:, None] * torch.exp(exponents)[None, :]
    embedding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return F.pad(embedding, (0, dim % 2))


def group_count(channels):
    """NCSN++'s GroupNorm group count: groups of at least 4 channels, at most 32 groups."""
    return min(channels // 4, 32)


class TimestepMLP(nn.Module):
    """Sinusoidal embedding of the integer step t followed by Linear -> activation -> Linear."""

    def __init__(self, embedding_dim, hidden_dim, out_dim, activation, init_=fan_avg_uniform_):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.linear1 = init_(nn.Linear(embedding_dim, hidden_dim))
        self.activation = activation
        self.linear2 = init_(nn.Linear(hidden_dim, out_dim))

    def forward(self, t):
        # float32 unless the weights are float64 (autocast keeps float32 weights)
        embedding = sinusoidal_embedding(t, self.embedding_dim, dtype=torch.promote_types(self.linear1.weight.dtype,
                                                                                          torch.float32))
        return self.linear2(self.activation(self.linear1(embedding)))


class MappingNetwork(nn.Module):
    """z -> style: PixelNorm, Linear(nz, dim), SiLU, then n_mlp x (Linear(dim, dim), SiLU) (StyleGAN-like)."""

    def __init__(self, nz, dim, n_mlp):
        super().__init__()
        widths = [nz] + [dim] * (n_mlp + 1)
        self.layers = nn.ModuleList(fan_out_uniform_(nn.Linear(i, o)) for i, o in zip(widths[:-1], widths[1:]))

    def forward(self, z):
        h = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)  # PixelNorm
        for layer in self.layers:
            h = F.silu(layer(h))
        return h


class AdaptiveGroupNorm(nn.Module):
    """GroupNorm without affine parameters, then a per-sample scale and shift predicted from the style:
    AdaGN(h, w) = gamma(w) * GroupNorm(h) + beta(w), with gamma starting at 1 and beta at 0."""

    def __init__(self, channels, style_dim):
        super().__init__()
        self.num_groups = group_count(channels)
        self.style = fan_out_uniform_(nn.Linear(style_dim, 2 * channels))
        with torch.no_grad():
            self.style.bias[:channels] = 1.0

    def forward(self, x, style):
        gamma, beta = self.style(style).chunk(2, dim=1)
        batch, channels = x.shape[:2]
        if x.is_contiguous():
            # One GroupNorm kernel with the per-sample affine folded in: the batch becomes channels of a
            # single sample, and since groups never straddle samples the statistics are unchanged. This
            # saves a full pass over the activations compared with group_norm followed by addcmul.
            out = F.group_norm(x.reshape(1, batch * channels, *x.shape[2:]), batch * self.num_groups,
                               gamma.reshape(-1), beta.reshape(-1), eps=1e-6)
            return out.view_as(x)
        # channels_last activations cannot be folded without a copy
        normalized = F.group_norm(x, self.num_groups, eps=1e-6)
        return torch.addcmul(beta[:, :, None, None], normalized, gamma[:, :, None, None])


class ResidualBlock(nn.Module):
    """BigGAN-style residual block conditioned on t (additive bias) and z (adaptive GroupNorm).

    h = Conv1(SiLU(AdaGN1(Conv0(R(SiLU(AdaGN0(x, w)))) + Dense(t_feat), w)));  out = (skip(R(x)) + h) / sqrt(2)
    where R is FIR up/down-sampling (or identity) and skip is a 1x1 conv when shape or channels change.
    """

    def __init__(self, in_channels, out_channels, t_dim, style_dim, resample=None, fir_taps=(1, 3, 3, 1), dropout=0.0):
        super().__init__()
        self.norm0 = AdaptiveGroupNorm(in_channels, style_dim)
        if resample == "up":
            self.resample = FIRUpsample(fir_taps)
        elif resample == "down":
            self.resample = FIRDownsample(fir_taps)
        elif resample is None:
            self.resample = None
        else:
            raise ValueError(f"resample must be 'up', 'down' or None; got {resample!r}")
        self.conv0 = fan_avg_uniform_(nn.Conv2d(in_channels, out_channels, 3, padding=1))
        self.t_proj = fan_avg_uniform_(nn.Linear(t_dim, out_channels))
        self.norm1 = AdaptiveGroupNorm(out_channels, style_dim)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = fan_avg_uniform_(nn.Conv2d(out_channels, out_channels, 3, padding=1), scale=0.0)
        self.skip = None
        if in_channels != out_channels or resample is not None:
            self.skip = fan_avg_uniform_(nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x, t_features, style):
        """t_features: SiLU of the time embedding (B, t_dim); style: the mapped z (B, style_dim)."""
        # In place on fresh conv / norm outputs that nothing else reads (autograd keeps what it needs):
        # the same arithmetic with fewer full-size temporaries.
        h = F.silu(self.norm0(x, style), inplace=True)
        if self.resample is not None:
            h, x = self.resample(h), self.resample(x)
        h = self.conv0(h)
        h.add_(self.t_proj(t_features)[:, :, None, None])
        h = F.silu(self.norm1(h, style), inplace=True)
        h = self.conv1(self.dropout(h))
        if self.skip is not None:
            x = self.skip(x)
        return h.add_(x).mul_(SKIP_SCALE)


class SelfAttention(nn.Module):
    """Single-head self-attention over all pixels (DDPM/NCSN++ ``AttnBlockpp``) with a rescaled skip.

    The official block projects with ``NIN`` layers (y = x W + b, W stored as (in, out)); here they
    are ``nn.Linear`` layers, whose weight is the transpose (the converter transposes).
    """

    def __init__(self, channels):
        super().__init__()
        self.norm = nn.GroupNorm(group_count(channels), channels, eps=1e-6)
        self.query = fan_avg_uniform_(nn.Linear(channels, channels), scale=0.1)
        self.key = fan_avg_uniform_(nn.Linear(channels, channels), scale=0.1)
        self.value = fan_avg_uniform_(nn.Linear(channels, channels), scale=0.1)
        self.out = fan_avg_uniform_(nn.Linear(channels, channels), scale=0.0)

    def forward(self, x):
        batch, channels, height, width = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        q, k, v = (proj(h).unsqueeze(1) for proj in (self.query, self.key, self.value))
        h = F.scaled_dot_product_attention(q, k, v).squeeze(1)  # softmax(q k^T / sqrt(C)) v
        h = self.out(h).transpose(1, 2).reshape(batch, channels, height, width)
        return h.add_(x).mul_(SKIP_SCALE)
