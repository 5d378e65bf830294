"""Small networks for CPU-scale work: MLPs for 2D data, a small conv U-Net and conv discriminator.

They use the same interfaces as the paper's networks so every method and the trainer run unchanged:
a denoiser/generator `net(x, t, z=None)` (z omitted when nz = 0, e.g. a DDPM eps-model) and a
discriminator `D(x_t, t, x_tp1) -> (B, 1)` logits. `t` may be an integer step or a float time.
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

from ddgan.nets.discriminators import minibatch_stddev
from ddgan.nets.layers import sinusoidal_embedding


class TimeEmbedding(nn.Module):
    """Sinusoidal features of t followed by a two-layer MLP."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        return self.mlp(sinusoidal_embedding(t, self.dim, frequency_rounding="scaled_index"))


class LatentMapping(nn.Module):
    """z -> style vector: pixel norm then an MLP, as the paper's mapping network."""

    def __init__(self, nz, dim, n_layers=2):
        super().__init__()
        layers = [nn.Linear(nz, dim), nn.SiLU()]
        for _ in range(n_layers - 1):
            layers += [nn.Linear(dim, dim), nn.SiLU()]
        self.mlp = nn.Sequential(*layers)

    def forward(self, z):
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.mlp(z)


OUTPUTS = {"linear": nn.Identity, "tanh": nn.Tanh}


class FourierFeatures(nn.Module):
    """x -> (x, sin(2^k x), cos(2^k x)) for k < octaves, per coordinate: lets an MLP on raw coordinates
    represent and perceive structure much finer than the data's range (the spectral bias of plain MLPs)."""

    def __init__(self, octaves=0):
        super().__init__()
        self.register_buffer("frequencies", 2.0 ** torch.arange(octaves, dtype=torch.float32), persistent=False)

    def dim(self, data_dim):
        return data_dim * (1 + 2 * len(self.frequencies))

    def forward(self, x):
        if not len(self.frequencies):
            return x
        angles = (x[:, :, None] * self.frequencies).flatten(1)
        return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=1)


class MLPDenoiser(nn.Module):
    """MLP generator / denoiser for vector data: every layer is conditioned on t (and z if nz > 0)."""

    OPTION_FIELDS = {"output": dict(type=str, choices=tuple(OUTPUTS),
                                    help="the last layer: linear, or tanh into [-1, 1] (images)")}

    def __init__(self, data_dim=2, nz=0, hidden=256, depth=3, t_dim=64, z_dim=64, output="linear", fourier_octaves=0):
        super().__init__()
        self.nz = nz
        self.time = TimeEmbedding(t_dim)
        self.latent = LatentMapping(nz, z_dim) if nz else None
        self.features = FourierFeatures(fourier_octaves)
        cond_dim = t_dim + (z_dim if nz else 0)
        widths = [self.features.dim(data_dim)] + [hidden] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.conditioners = nn.ModuleList(nn.Linear(cond_dim, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, data_dim)
        self.output = OUTPUTS[output]()

    def forward(self, x, t, z=None):
        cond = self.time(t)
        if self.nz:
            cond = torch.cat([cond, self.latent(z)], dim=1)
        h = self.features(x)
        for layer, conditioner in zip(self.layers, self.conditioners):
            h = F.silu(layer(h) + conditioner(cond))
        return self.output(self.out(h))


class MLPDiscriminator(nn.Module):
    """Time-conditioned MLP discriminator on the pair (x_t, x_{t+1})."""

    def __init__(self, data_dim=2, hidden=256, depth=3, t_dim=64, fourier_octaves=0):
        super().__init__()
        self.time = TimeEmbedding(t_dim)
        self.features = FourierFeatures(fourier_octaves)
        widths = [2 * self.features.dim(data_dim)] + [hidden] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.conditioners = nn.ModuleList(nn.Linear(t_dim, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, 1)

    def forward(self, x_t, t, x_tp1):
        cond = self.time(t)
        h = torch.cat([self.features(x_t), self.features(x_tp1)], dim=1)
        for layer, conditioner in zip(self.layers, self.conditioners):
            h = F.leaky_relu(layer(h) + conditioner(cond), 0.2)
        return self.out(h)


class AdaptiveGroupNorm(nn.Module):
    """GroupNorm whose scale and shift come from a style vector (plain affine GroupNorm without one)."""

    def __init__(self, channels, style_dim=0, groups=8):
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, channels), channels, affine=not style_dim)
        self.style = nn.Linear(style_dim, 2 * channels) if style_dim else None
        if self.style is not None:
            # scale 1 + W s and shift W s with a random W, as the official AdaGN starts: with W = 0 the
            # latent has no gradient at first, and on StackedMNIST the generator learned to ignore it
            nn.init.zeros_(self.style.bias)

    def forward(self, h, style=None):
        h = self.norm(h)
        if self.style is None:
            return h
        scale, shift = self.style(style)[:, :, None, None].chunk(2, dim=1)
        return h * (1 + scale) + shift


class ResBlock(nn.Module):
    """Pre-activation residual block: t enters as a channel bias, z through adaptive GroupNorm."""

    def __init__(self, c_in, c_out, t_dim, style_dim=0):
        super().__init__()
        self.norm1 = AdaptiveGroupNorm(c_in, style_dim)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2 = AdaptiveGroupNorm(c_out, style_dim)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, t_emb, style=None):
        h = self.conv1(F.silu(self.norm1(x, style))) + self.time(t_emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h, style)))
        return (h + self.skip(x)) / math.sqrt(2)


class ConvUNet(nn.Module):
    """A small U-Net `net(x, t, z=None)` for images: num_res_blocks residual blocks per resolution on each
    side, one skip connection per resolution (the last down-block's output)."""

    OPTION_FIELDS = {"output": dict(type=str, choices=tuple(OUTPUTS),
                                    help="the last layer: linear, or tanh into [-1, 1] (images)")}

    def __init__(self, image_size=8, in_channels=3, base_channels=64, channel_mult=(1, 2), nz=0,
                 z_emb_dim=64, t_dim=64, output="tanh", num_res_blocks=1):
        super().__init__()
        if image_size % 2 ** (len(channel_mult) - 1):
            raise ValueError(f"image_size {image_size} is not divisible by 2^{len(channel_mult) - 1} "
                             f"(one halving per extra channel_mult entry)")
        self.nz = nz
        style_dim = z_emb_dim if nz else 0
        self.time = TimeEmbedding(t_dim)
        self.latent = LatentMapping(nz, z_emb_dim) if nz else None
        widths = [base_channels * m for m in channel_mult]
        self.input_conv = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        # flat block lists (block i at resolution level_of[i]): with one block per level the parameter
        # names are those of the original one-block U-Net, so its checkpoints still load
        self.down, self.up, self.level_of = nn.ModuleList(), nn.ModuleList(), []
        c = widths[0]
        for level, w in enumerate(widths):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(c, w, t_dim, style_dim))
                self.level_of.append(level)
                c = w
        self.middle = ResBlock(c, c, t_dim, style_dim)
        for w in reversed(widths):
            self.up.append(ResBlock(c + w, w, t_dim, style_dim))
            self.up.extend(ResBlock(w, w, t_dim, style_dim) for _ in range(num_res_blocks - 1))
            c = w
        self.num_res_blocks = num_res_blocks
        self.out_norm = AdaptiveGroupNorm(c, style_dim)
        self.out_conv = nn.Conv2d(c, in_channels, 3, padding=1)
        self.output = OUTPUTS[output]()

    def forward(self, x, t, z=None):
        t_emb = self.time(t)
        style = self.latent(z) if self.nz else None
        h = self.input_conv(x)
        skips = []
        for i, (level, block) in enumerate(zip(self.level_of, self.down)):
            if level and self.level_of[i - 1] != level:
                h = F.avg_pool2d(h, 2)
            h = block(h, t_emb, style)
            if i + 1 == len(self.down) or self.level_of[i + 1] != level:
                skips.append(h)
        h = self.middle(h, t_emb, style)
        for i, block in enumerate(self.up):
            first_of_level = i % self.num_res_blocks == 0
            if first_of_level:
                if i:
                    h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                h = torch.cat([h, skips.pop()], dim=1)
            h = block(h, t_emb, style)
        return self.output(self.out_conv(F.silu(self.out_norm(h, style))))


class ConvDiscriminator(nn.Module):
    """Time-conditioned conv discriminator on cat(x_t, x_{t+1}): down-blocks, spatial sum, linear head.

    minibatch_std: as the paper's discriminators, a minibatch-stddev channel (groups of 4) and a 3x3
    conv before the sum, so D sees how alike the samples of a batch are (off: the original small D).
    spectral_norm: divide every conv and linear weight by its largest singular value (one power
    iteration per training forward), a departure from the paper's D that bounds how fast D can change."""

    OPTION_FIELDS = {
        "minibatch_std": dict(type=bool, help="add a minibatch-stddev channel before the head, as the paper's Ds"),
        "spectral_norm": dict(type=bool, help="spectral normalisation of every layer (a departure from the paper)"),
    }

    def __init__(self, in_channels=3, base_channels=64, channel_mult=(1, 2), t_dim=64, minibatch_std=False,
                 spectral_norm=False):
        super().__init__()
        self.time = TimeEmbedding(t_dim)
        self.input_conv = nn.Conv2d(2 * in_channels, base_channels, 3, padding=1)
        self.blocks = nn.ModuleList()
        self.time_bias = nn.ModuleList()
        c = base_channels
        for m in channel_mult:
            w = base_channels * m
            self.blocks.append(nn.ModuleList([nn.Conv2d(c, w, 3, padding=1), nn.Conv2d(w, w, 3, padding=1),
                                              nn.Conv2d(c, w, 1)]))
            self.time_bias.append(nn.Linear(t_dim, w))
            c = w
        self.final_conv = nn.Conv2d(c + 1, c, 3, padding=1) if minibatch_std else None
        self.head = nn.Linear(c, 1)
        if spectral_norm:
            for module in list(self.modules()):
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, x_t, t, x_tp1):
        t_emb = self.time(t)
        h = self.input_conv(torch.cat([x_t, x_tp1], dim=1))
        for (conv1, conv2, skip), time_bias in zip(self.blocks, self.time_bias):
            r = conv1(F.leaky_relu(h, 0.2)) + time_bias(t_emb)[:, :, None, None]
            r = conv2(F.leaky_relu(r, 0.2))
            h = (r + skip(h)) / math.sqrt(2)
            if h.shape[-1] > 1:
                h = F.avg_pool2d(h, 2)
        if self.final_conv is not None:
            h = self.final_conv(minibatch_stddev(F.leaky_relu(h, 0.2)))
        return self.head(F.leaky_relu(h, 0.2).sum(dim=(2, 3)))
