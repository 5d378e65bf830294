"""The U-Net of DDPM (Ho et al. 2020, App. B; `unet2d16b2` in their code), as `net(x, t) -> eps`.

CIFAR-10 configuration: ch 128, ch_mult (1, 2, 2, 2), 2 residual blocks per resolution, self-attention
at 16x16, dropout 0.1: 35.7M parameters. Layout as in the original: a sinusoidal embedding of t
through a two-layer MLP (width 4 ch) added inside every residual block; GroupNorm(32) + swish;
stride-2 convolutions down (TensorFlow's 'SAME' padding: one extra row and column at the bottom and
right), nearest-neighbour upsampling + conv up; single-head attention; the output convolution and
the last convolution of every residual and attention block start at (nearly) zero, the others
with fan-average uniform initialisation, biases zero.

`t` may be an integer step (DDPM) or a float time (VDM feeds a rescaled log-SNR).
`out_channels` may differ from `in_channels` (e.g. VDM's Fourier features are extra input channels).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ddgan.nets.layers import sinusoidal_embedding


def initialise(layer, scale=1.0):
    """Fan-average uniform initialisation with variance scale `scale` (0 -> 1e-10, as the original)."""
    nn.init.xavier_uniform_(layer.weight, gain=math.sqrt(scale or 1e-10))
    nn.init.zeros_(layer.bias)
    return layer


def conv3x3(c_in, c_out, scale=1.0, stride=1):
    return initialise(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1 if stride == 1 else 0), scale)


def conv1x1(c_in, c_out, scale=1.0):
    return initialise(nn.Conv2d(c_in, c_out, 1), scale)


class ResidualBlock(nn.Module):
    def __init__(self, c_in, c_out, t_dim, dropout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in, eps=1e-6)
        self.conv1 = conv3x3(c_in, c_out)
        self.time = initialise(nn.Linear(t_dim, c_out))
        self.norm2 = nn.GroupNorm(groups, c_out, eps=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv3x3(c_out, c_out, scale=0.0)
        self.skip = conv1x1(c_in, c_out) if c_in != c_out else nn.Identity()

    def forward(self, x, t_emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(t_emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    def __init__(self, channels, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.qkv = nn.ModuleList(conv1x1(channels, channels) for _ in range(3))
        self.out = conv1x1(channels, channels, scale=0.0)

    def forward(self, x):
        b, c, h, w = x.shape
        normed = self.norm(x)
        q, k, v = (layer(normed).reshape(b, 1, c, h * w).transpose(-1, -2) for layer in self.qkv)
        attended = F.scaled_dot_product_attention(q, k, v)          # softmax(q k^T / sqrt(c)) v
        return x + self.out(attended.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = conv3x3(channels, channels, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = conv3x3(channels, channels)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DDPMUNet(nn.Module):
    """The DDPM eps-model `net(x, t) -> eps` (35.7M parameters at the CIFAR-10 defaults)."""

    OPTION_FIELDS = {
        "out_channels": dict(type=int, min=1, allow_none=True, help="channels of the output (null: in_channels)"),
        "ch": dict(type=int, min=1, help="channels at the full resolution; level i has ch * ch_mult[i]"),
        "ch_mult": dict(type=list, items=int, min=1,
                        help="one width multiplier per resolution level; the resolution halves between levels"),
        "norm_groups": dict(type=int, min=1, help="GroupNorm groups; every width must be divisible by it"),
    }

    def __init__(self, image_size=32, in_channels=3, out_channels=None, ch=128, ch_mult=(1, 2, 2, 2),
                 num_res_blocks=2, attn_resolutions=(16,), dropout=0.1, norm_groups=32):
        super().__init__()
        if image_size % 2 ** (len(ch_mult) - 1):
            raise ValueError(f"image_size {image_size} is not divisible by 2^{len(ch_mult) - 1} "
                             f"(one halving per extra ch_mult entry)")
        if any((ch * m) % norm_groups for m in ch_mult):
            raise ValueError(f"every width ch * ch_mult ({[ch * m for m in ch_mult]}) must be divisible by "
                             f"norm_groups={norm_groups}")
        self.ch = ch
        self.in_channels = in_channels
        self.time = nn.Sequential(initialise(nn.Linear(ch, 4 * ch)), nn.SiLU(), initialise(nn.Linear(4 * ch, 4 * ch)))
        t_dim = 4 * ch
        self.input_conv = conv3x3(in_channels, ch)

        # down path: remember the width of every stored activation for the skip connections
        self.down = nn.ModuleList()
        widths, c, size = [ch], ch, image_size
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                blocks = nn.ModuleList([ResidualBlock(c, ch * mult, t_dim, dropout, norm_groups)])
                c = ch * mult
                if size in attn_resolutions:
                    blocks.append(AttentionBlock(c, norm_groups))
                self.down.append(blocks)
                widths.append(c)
            if level != len(ch_mult) - 1:
                self.down.append(nn.ModuleList([Downsample(c)]))
                widths.append(c)
                size //= 2

        self.middle = nn.ModuleList([ResidualBlock(c, c, t_dim, dropout, norm_groups), AttentionBlock(c, norm_groups),
                                     ResidualBlock(c, c, t_dim, dropout, norm_groups)])

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                blocks = nn.ModuleList([ResidualBlock(c + widths.pop(), ch * mult, t_dim, dropout, norm_groups)])
                c = ch * mult
                if size in attn_resolutions:
                    blocks.append(AttentionBlock(c, norm_groups))
                self.up.append(blocks)
            if level != 0:
                self.up.append(nn.ModuleList([Upsample(c)]))
                size *= 2

        self.out_norm = nn.GroupNorm(norm_groups, c, eps=1e-6)
        self.out_conv = conv3x3(c, out_channels or in_channels, scale=0.0)

    @staticmethod
    def apply(blocks, h, t_emb):
        for block in blocks:
            h = block(h, t_emb) if isinstance(block, ResidualBlock) else block(h)
        return h

    def forward(self, x, t, z=None):
        if t.dim() == 0:
            t = t.expand(len(x))
        t_emb = self.time(sinusoidal_embedding(t, self.ch, frequency_rounding="scaled_index"))
        skips = [self.input_conv(x)]
        for blocks in self.down:
            skips.append(self.apply(blocks, skips[-1], t_emb))
        h = self.apply(self.middle, skips[-1], t_emb)
        for blocks in self.up:
            if isinstance(blocks[0], Upsample):
                h = blocks[0](h)
            else:
                h = self.apply(blocks, torch.cat([h, skips.pop()], dim=1), t_emb)
        return self.out_conv(F.silu(self.out_norm(h)))
