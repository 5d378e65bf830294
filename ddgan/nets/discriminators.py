"""DDGAN's time-dependent discriminators D(x_t, t, x_{t+1}) (official ``score_sde/models/discriminator.py``).

A pair (x_t, x_{t+1}) is concatenated on channels and passed through t-conditioned residual
down-blocks, a minibatch standard-deviation feature, a 3x3 conv, a spatial sum and a linear head.
``SmallDiscriminator`` is used for 32x32 data (CIFAR-10, StackedMNIST), ``LargeDiscriminator`` for
256x256 data (CelebA-HQ, LSUN Church).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from ddgan.nets.initializers import fan_out_uniform_
from ddgan.nets.layers import SKIP_SCALE, TimestepMLP
from ddgan.nets.resample import FIRDownsample

STDDEV_GROUP_SIZE = 4


def minibatch_stddev(h, group_size=STDDEV_GROUP_SIZE):
    """Append one channel holding the mean over features of the across-group standard deviation (ProGAN).

    The batch is split into n = ceil(B / group_size) groups and sample b belongs to group b mod n.
    When B <= group_size or B is a multiple of it, this is exactly the official layer (one group of B
    samples, or B/4 interleaved groups of 4). For any other B (the official layer fails on those) the
    groups are as equal as possible, of size floor(B/n) or ceil(B/n), and always at least 2 when B > 1.
    """
    batch, channels, height, width = h.shape
    num_groups = -(-batch // group_size)
    rows = -(-batch // num_groups)  # group members per group, counting padding
    flat = F.pad(h.reshape(batch, -1), (0, 0, 0, rows * num_groups - batch)).view(rows, num_groups, -1)
    present = (torch.arange(rows * num_groups, device=h.device) < batch).view(rows, num_groups, 1).to(h.dtype)
    count = present.sum(dim=0)
    mean = (flat * present).sum(dim=0) / count
    variance = ((flat - mean).square() * present).sum(dim=0) / count
    stddev = torch.sqrt(variance + 1e-8).mean(dim=1)  # (num_groups,)
    feature = stddev.repeat(rows)[:batch].view(batch, 1, 1, 1).expand(batch, 1, height, width)
    return torch.cat([h, feature.to(h.dtype)], dim=1)


def _conv(in_channels, out_channels, kernel_size, scale=1.0, bias=True):
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
    return fan_out_uniform_(conv, scale)


class DownBlock(nn.Module):
    """Residual block: h = Conv2(R(LReLU(Conv1(LReLU(x)) + Dense(t_emb)))); out = (h + Skip1x1(R(x))) / sqrt(2),
    R = FIR downsampling or identity."""

    def __init__(self, in_channels, out_channels, t_emb_dim, downsample, fir_taps=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = _conv(in_channels, out_channels, 3)
        self.conv2 = _conv(out_channels, out_channels, 3, scale=0.0)
        self.t_proj = fan_out_uniform_(nn.Linear(t_emb_dim, out_channels))
        self.skip = _conv(in_channels, out_channels, 1, bias=False)
        self.downsample = FIRDownsample(fir_taps) if downsample else None

    def forward(self, x, t_emb):
        h = self.conv1(F.leaky_relu(x, 0.2))
        h = F.leaky_relu(h + self.t_proj(t_emb)[:, :, None, None], 0.2)
        if self.downsample is not None:
            h, x = self.downsample(h), self.downsample(x)
        return (self.conv2(h) + self.skip(x)) * SKIP_SCALE


class TimeDependentDiscriminator(nn.Module):
    """Shared body of both discriminators; ``stages`` lists (in_mult, out_mult, downsample) per block
    in units of ngf."""

    OPTION_FIELDS = {"ngf": dict(type=int, min=1, help="the base width; the blocks have 2-8 x ngf channels")}

    def __init__(self, in_channels, ngf, t_emb_dim, stages, final_conv_scale):
        super().__init__()
        self.in_channels = in_channels
        self.time_embedding = TimestepMLP(t_emb_dim, t_emb_dim, t_emb_dim, nn.LeakyReLU(0.2), fan_out_uniform_)
        self.input_conv = _conv(2 * in_channels, stages[0][0] * ngf, 1)
        self.blocks = nn.ModuleList(DownBlock(i * ngf, o * ngf, t_emb_dim, down) for i, o, down in stages)
        width = stages[-1][1] * ngf
        self.final_conv = _conv(width + 1, width, 3, scale=final_conv_scale)
        self.head = fan_out_uniform_(nn.Linear(width, 1))

    def forward(self, x_t, t, x_tp1):
        """x_t, x_{t+1}: (B, C, H, W); t: (B,) integer steps. Returns logits (B, 1)."""
        if x_t.shape != x_tp1.shape or x_t.ndim != 4 or x_t.shape[1] != self.in_channels:
            raise ValueError(
                f"x_t and x_tp1 must both have shape (B, {self.in_channels}, H, W); "
                f"got {tuple(x_t.shape)} and {tuple(x_tp1.shape)}"
            )
        if t.shape != x_t.shape[:1] or t.is_floating_point():
            raise ValueError(f"t must be an integer tensor of shape ({x_t.shape[0]},); got {t.dtype} {tuple(t.shape)}")
        t_emb = F.leaky_relu(self.time_embedding(t), 0.2)
        h = self.input_conv(torch.cat((x_t, x_tp1), dim=1))
        for block in self.blocks:
            h = block(h, t_emb)
        h = F.leaky_relu(self.final_conv(minibatch_stddev(h)), 0.2)
        return self.head(h.sum(dim=(2, 3)))


class SmallDiscriminator(TimeDependentDiscriminator):
    """For 32x32 images: widths 2-2-4-8-8 x ngf, three downsamplings (12.74M parameters at ngf 64)."""

    def __init__(self, in_channels=3, ngf=64, t_emb_dim=256):
        stages = [(2, 2, False), (2, 4, True), (4, 8, True), (8, 8, True)]
        super().__init__(in_channels, ngf, t_emb_dim, stages, final_conv_scale=0.0)
        self.config = dict(in_channels=in_channels, ngf=ngf, t_emb_dim=t_emb_dim)


class LargeDiscriminator(TimeDependentDiscriminator):
    """For 256x256 images: widths 2-4-8-8-8-8-8 x ngf, six downsamplings (27.74M parameters at ngf 64)."""

    def __init__(self, in_channels=3, ngf=64, t_emb_dim=256):
        stages = [(2, 4, True), (4, 8, True)] + [(8, 8, True)] * 4
        super().__init__(in_channels, ngf, t_emb_dim, stages, final_conv_scale=1.0)
        self.config = dict(in_channels=in_channels, ngf=ngf, t_emb_dim=t_emb_dim)
