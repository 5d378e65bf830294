"""NCSN++ generator with adaptive GroupNorm on z: DDGAN's p_theta(x_0 | x_{t+1}) = G(x_{t+1}, z, t).

Faithful to the official ``score_sde/models/ncsnpp_generator_adagn.py`` run with the paper's settings
(centered data, conditional on t, positional embedding, BigGAN residual blocks, FIR [1, 3, 3, 1]
resampling, skip rescaling, a residual input pyramid with 'sum' combine, no output pyramid, tanh).
The official network is one flat ``all_modules`` list walked by an index; here the same modules are
grouped into named stages. ``ddgan/official.py`` maps the official keys onto these modules.

    x_{t+1} --input_conv--> down[0] -> ... -> down[L-1] --> middle --> up[L-1] -> ... -> up[0] --> output --> tanh
              input_pyramid: a stride-2 blurred conv path of x_{t+1}, summed into h after every downsample
    t --time_embedding--> t_features,   z --z_mapping--> style:  both condition every residual block
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from ddgan.nets.initializers import fan_avg_uniform_
from ddgan.nets.layers import SKIP_SCALE, MappingNetwork, ResidualBlock, SelfAttention, TimestepMLP, group_count
from ddgan.nets.resample import FIRDownsampleConv


class DownLevel(nn.Module):
    """One resolution of the encoder: residual blocks (each followed by attention at attention
    resolutions), then a downsampling residual block except at the lowest resolution."""

    def __init__(self, in_channels, out_channels, num_blocks, use_attention, is_last, block):
        super().__init__()
        self.blocks = nn.ModuleList(block(in_channels if i == 0 else out_channels, out_channels) for i in range(num_blocks))
        self.attn = nn.ModuleList(SelfAttention(out_channels) for _ in range(num_blocks)) if use_attention else None
        self.downsample = None if is_last else block(out_channels, out_channels, resample="down")


class UpLevel(nn.Module):
    """One resolution of the decoder: num_res_blocks + 1 residual blocks, each eating one skip tensor,
    then one attention at attention resolutions, then an upsampling residual block except at the top."""

    def __init__(self, in_channels, skip_channels, out_channels, use_attention, is_first, block):
        super().__init__()
        self.blocks = nn.ModuleList(
            block((in_channels if i == 0 else out_channels) + skip, out_channels) for i, skip in enumerate(skip_channels)
        )
        self.attn = SelfAttention(out_channels) if use_attention else None
        self.upsample = None if is_first else block(out_channels, out_channels, resample="up")


class MiddleStage(nn.Module):
    """Residual block, attention, residual block at the lowest resolution."""

    def __init__(self, channels, block):
        super().__init__()
        self.block0 = block(channels, channels)
        self.attn = SelfAttention(channels)
        self.block1 = block(channels, channels)


class OutputHead(nn.Module):
    """GroupNorm -> SiLU -> 3x3 conv to image channels (initialised near zero)."""

    def __init__(self, channels, out_channels):
        super().__init__()
        self.norm = nn.GroupNorm(group_count(channels), channels, eps=1e-6)
        self.conv = fan_avg_uniform_(nn.Conv2d(channels, out_channels, 3, padding=1), scale=0.0)

    def forward(self, h):
        return self.conv(F.silu(self.norm(h), inplace=True))


class NCSNppGenerator(nn.Module):
    """G(x_{t+1}, t, z) -> predicted x_0 in [-1, 1]. Defaults are the paper's CIFAR-10 network (48.4M parameters).

    Args:
        image_size: height = width of x (attention resolutions refer to it).
        in_channels: image channels.
        base_channels: channels at full resolution (``num_channels_dae``); level i has base * channel_mult[i].
        channel_mult: one multiplier per resolution; the image is halved between levels.
        num_res_blocks: residual blocks per level in the encoder (the decoder has one more).
        attn_resolutions: resolutions (pixels per side) that get self-attention.
        dropout: dropout rate inside residual blocks.
        nz: dimension of the latent z.
        z_emb_dim: width of the z mapping network (the style that drives every adaptive GroupNorm).
        n_mlp: hidden layers of the mapping network after its first layer.
        fir_kernel: 1-D FIR taps for up/down-sampling.
        use_tanh: squash the output to [-1, 1] (the official ``not_use_tanh`` negated).
    """

    OPTION_FIELDS = {
        "nz": dict(type=int, min=1, help="dimension of the latent z"),
        "n_mlp": dict(type=int, min=1, help="layers of the mapping network from z to the style vector"),
        "fir_kernel": dict(type=list, items=int, help="taps of the FIR filter of up- and downsampling"),
        "use_tanh": dict(type=bool, help="squash the output into [-1, 1] with tanh (the official code does)"),
    }

    def __init__(
        self,
        image_size=32,
        in_channels=3,
        base_channels=128,
        channel_mult=(1, 2, 2, 2),
        num_res_blocks=2,
        attn_resolutions=(16,),
        dropout=0.0,
        nz=100,
        z_emb_dim=256,
        n_mlp=4,
        fir_kernel=(1, 3, 3, 1),
        use_tanh=True,
    ):
        super().__init__()
        if image_size % 2 ** (len(channel_mult) - 1) != 0:
            raise ValueError(
                f"image_size {image_size} must be divisible by 2^(len(channel_mult) - 1) = {2 ** (len(channel_mult) - 1)}"
            )
        self.config = dict(
            image_size=image_size, in_channels=in_channels, base_channels=base_channels,
            channel_mult=tuple(channel_mult), num_res_blocks=num_res_blocks, attn_resolutions=tuple(attn_resolutions),
            dropout=dropout, nz=nz, z_emb_dim=z_emb_dim, n_mlp=n_mlp, fir_kernel=tuple(fir_kernel), use_tanh=use_tanh,
        )  # the constructor kwargs, so a checkpoint can store how to rebuild the network
        self.image_size, self.in_channels, self.nz = image_size, in_channels, nz
        self.use_tanh = use_tanh
        t_dim = 4 * base_channels

        def block(c_in, c_out, resample=None):
            return ResidualBlock(c_in, c_out, t_dim, z_emb_dim, resample, tuple(fir_kernel), dropout)

        self.time_embedding = TimestepMLP(base_channels, t_dim, t_dim, nn.SiLU())
        self.z_mapping = MappingNetwork(nz, z_emb_dim, n_mlp)
        self.input_conv = fan_avg_uniform_(nn.Conv2d(in_channels, base_channels, 3, padding=1))

        # Encoder. skip_channels tracks every tensor the decoder will concatenate (U-Net skips).
        levels = len(channel_mult)
        resolutions = [image_size // 2**i for i in range(levels)]
        skip_channels, channels, pyramid_channels = [base_channels], base_channels, in_channels
        self.down, self.input_pyramid = nn.ModuleList(), nn.ModuleList()
        for i, mult in enumerate(channel_mult):
            out = base_channels * mult
            level = DownLevel(channels, out, num_res_blocks, resolutions[i] in attn_resolutions, i == levels - 1, block)
            self.down.append(level)
            channels = out
            skip_channels += [channels] * num_res_blocks
            if level.downsample is not None:
                self.input_pyramid.append(FIRDownsampleConv(pyramid_channels, channels, tuple(fir_kernel)))
                pyramid_channels = channels
                skip_channels.append(channels)

        self.middle = MiddleStage(channels, block)

        # Decoder, stored from the lowest resolution up (the order it runs in).
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            skips = [skip_channels.pop() for _ in range(num_res_blocks + 1)]
            out = base_channels * channel_mult[i]
            self.up.append(UpLevel(channels, skips, out, resolutions[i] in attn_resolutions, i == 0, block))
            channels = out

        self.output = OutputHead(channels, in_channels)

    def forward(self, x_t, t, z):
        """x_t: (B, C, H, W) noisy images x_{t+1}; t: (B,) integer steps; z: (B, nz) latents."""
        self._check_inputs(x_t, t, z)
        t_features = F.silu(self.time_embedding(t))
        style = self.z_mapping(z)

        h = self.input_conv(x_t)
        skips, pyramid = [h], x_t
        for level, pyramid_down in zip(self.down, [*self.input_pyramid, None]):
            for i, block in enumerate(level.blocks):
                h = block(h, t_features, style)
                if level.attn is not None:
                    h = level.attn[i](h)
                skips.append(h)
            if level.downsample is not None:
                h = level.downsample(h, t_features, style)
                # Residual input pyramid: a downsampled view of the input joins every new resolution.
                pyramid = pyramid_down(pyramid).add_(h).mul_(SKIP_SCALE)
                h = pyramid
                skips.append(h)

        h = self.middle.block0(h, t_features, style)
        h = self.middle.attn(h)
        h = self.middle.block1(h, t_features, style)

        for level in self.up:
            for block in level.blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), t_features, style)
            if level.attn is not None:
                h = level.attn(h)
            if level.upsample is not None:
                h = level.upsample(h, t_features, style)

        h = self.output(h)
        return torch.tanh(h) if self.use_tanh else h

    def _check_inputs(self, x_t, t, z):
        batch = x_t.shape[0]
        expected = (self.in_channels, self.image_size, self.image_size)
        if x_t.ndim != 4 or tuple(x_t.shape[1:]) != expected:
            raise ValueError(f"x_t must have shape (B, {', '.join(map(str, expected))}); got {tuple(x_t.shape)}")
        if t.shape != (batch,) or t.is_floating_point():
            raise ValueError(f"t must be an integer tensor of shape ({batch},); got {t.dtype} {tuple(t.shape)}")
        if z.shape != (batch, self.nz):
            raise ValueError(f"z must have shape ({batch}, {self.nz}); got {tuple(z.shape)}")
