"""The networks' building blocks against their definitions: FIR resampling vs a literal upfirdn2d,
minibatch standard deviation, initialisation, parameter counts, precision and memory formats."""

import math

import pytest
import torch

from ddgan.nets.discriminators import LargeDiscriminator, SmallDiscriminator, minibatch_stddev
from ddgan.nets.ncsnpp import NCSNppGenerator
from ddgan.nets.resample import FIRDownsample, FIRDownsampleConv, FIRUpsample, fir_kernel_2d

TINY_GENERATOR = dict(
    image_size=16, base_channels=16, channel_mult=(1, 2), num_res_blocks=1, attn_resolutions=(8,), nz=8, z_emb_dim=32, n_mlp=2
)


def upfirdn2d_reference(x, kernel, up, down, pad0, pad1):
    """StyleGAN2's upfirdn2d from its definition: insert up-1 zeros after every pixel, zero-pad
    (pad0 before, pad1 after, both axes), convolve with kernel (a true convolution), keep every
    down-th pixel. Written with explicit shifts so it shares nothing with the implementation."""
    batch, channels, height, width = x.shape
    upsampled = x.new_zeros(batch, channels, height * up, width * up)
    upsampled[:, :, ::up, ::up] = x
    padded = torch.nn.functional.pad(upsampled, (pad0, pad1, pad0, pad1))
    n = kernel.shape[0]
    out_h, out_w = padded.shape[2] - n + 1, padded.shape[3] - n + 1
    out = x.new_zeros(batch, channels, out_h, out_w)
    for a in range(n):
        for b in range(n):
            out += padded[:, :, a : a + out_h, b : b + out_w] * kernel[n - 1 - a, n - 1 - b]
    return out[:, :, ::down, ::down]


TAPS = [(1, 3, 3, 1), (1, 1), (1, 2, 5, 3), (1, 5, 10, 10, 5, 1)]


@pytest.mark.parametrize("taps", TAPS)
def test_fir_upsample_and_downsample_match_upfirdn2d(taps):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    kernel = fir_kernel_2d(taps).double()
    p = len(taps) - 2  # the official upsample_2d / downsample_2d padding for factor 2
    up = FIRUpsample(taps).double()(x)
    assert up.shape == (2, 3, 16, 16)
    assert torch.allclose(up, upfirdn2d_reference(x, kernel * 4, 2, 1, (p + 1) // 2 + 1, p // 2), atol=1e-12)
    down = FIRDownsample(taps).double()(x)
    assert down.shape == (2, 3, 4, 4)
    assert torch.allclose(down, upfirdn2d_reference(x, kernel, 1, 2, (p + 1) // 2, p // 2), atol=1e-12)


@pytest.mark.parametrize("taps", TAPS)
def test_fir_downsample_conv_matches_blur_then_strided_conv(taps):
    torch.manual_seed(0)
    layer = FIRDownsampleConv(3, 5, taps).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    p = len(taps) - 2 + 2  # official conv_downsample_2d: FIR padding grows by the 3x3 conv's reach
    blurred = upfirdn2d_reference(x, fir_kernel_2d(taps).double(), 1, 1, (p + 1) // 2, p // 2)
    expected = torch.nn.functional.conv2d(blurred, layer.conv.weight, layer.conv.bias, stride=2)
    assert torch.allclose(layer(x), expected, atol=1e-12)
    assert layer(x).shape == (2, 5, 4, 4)


def test_fir_keeps_constant_images_constant_inside():
    ones = torch.ones(1, 2, 8, 8)
    assert torch.allclose(FIRUpsample()(ones)[..., 2:-2, 2:-2], torch.ones(1, 2, 12, 12))
    assert torch.allclose(FIRDownsample()(ones)[..., 1:-1, 1:-1], torch.ones(1, 2, 2, 2))


def test_odd_fir_taps_are_refused():
    with pytest.raises(ValueError, match="even length"):
        FIRUpsample((1, 2, 1))


def official_stddev_feature(h):
    """The official layer (valid when B <= 4 or B % 4 == 0): B/G interleaved groups of G = min(B, 4)."""
    group = min(h.shape[0], 4)
    s = h.view(group, -1, 1, h.shape[1], *h.shape[2:])
    s = torch.sqrt(s.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
    return s.repeat(group, 1, *h.shape[2:])


@pytest.mark.parametrize("batch", range(1, 10))
def test_minibatch_stddev_for_batch_sizes_1_to_9(batch):
    torch.manual_seed(batch)
    h = torch.randn(batch, 5, 3, 3, dtype=torch.float64)
    out = minibatch_stddev(h)
    assert out.shape == (batch, 6, 3, 3)
    assert torch.equal(out[:, :5], h)
    feature = out[:, 5]
    assert torch.all(feature == feature[:, :1, :1])  # constant over space
    if batch <= 4 or batch % 4 == 0:
        assert torch.allclose(out[:, 5:], official_stddev_feature(h), atol=1e-12)
    # The documented rule for every B: ceil(B/4) groups, sample b in group b mod n.
    num_groups = math.ceil(batch / 4)
    for g in range(num_groups):
        members = list(range(g, batch, num_groups))
        assert batch == 1 or len(members) >= 2
        expected = torch.sqrt(h[members].var(0, unbiased=False) + 1e-8).mean()
        assert torch.allclose(feature[members], expected.expand(len(members), 3, 3), atol=1e-12)


@pytest.mark.parametrize("batch", [4, 6])
def test_minibatch_stddev_has_exact_first_and_second_derivatives(batch):
    # R1 differentiates D's input gradient, so the layer needs correct double backward.
    h = torch.randn(batch, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(minibatch_stddev, (h,))
    assert torch.autograd.gradgradcheck(minibatch_stddev, (h,))


def test_r1_penalty_backpropagates_through_the_discriminator():
    torch.manual_seed(0)
    discriminator = SmallDiscriminator(ngf=4, t_emb_dim=16)
    x_t = torch.randn(6, 3, 32, 32, requires_grad=True)  # 6: a batch the official layer rejects
    logits = discriminator(x_t, torch.arange(6) % 4, torch.randn(6, 3, 32, 32))
    (grad,) = torch.autograd.grad(logits.sum(), x_t, create_graph=True)
    grad.square().sum().backward()
    for p in (discriminator.input_conv.weight, discriminator.final_conv.weight, discriminator.head.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "network, expected",
    [
        (lambda: NCSNppGenerator(), 48_432_515),
        (lambda: NCSNppGenerator(image_size=256, base_channels=64, channel_mult=(1, 1, 2, 2, 4, 4), n_mlp=3), 39_726_979),
        (lambda: SmallDiscriminator(), 12_741_633),
        (lambda: LargeDiscriminator(), 27_737_217),
    ],
)
def test_parameter_counts_equal_the_papers(network, expected):
    with torch.device("meta"):
        assert sum(p.numel() for p in network().parameters()) == expected


def _bound(fan, scale=1.0):
    return math.sqrt(3 * scale / fan)


def test_fresh_networks_follow_the_official_initialisation():
    torch.manual_seed(0)
    g = NCSNppGenerator(**TINY_GENERATOR)
    d = SmallDiscriminator(ngf=16, t_emb_dim=32)
    # (weight, bound of the official uniform init)
    cases = [
        (g.input_conv.weight, _bound((3 * 9 + 16 * 9) / 2)),  # DDPM default_init: fan_avg
        (g.time_embedding.linear1.weight, _bound((16 + 64) / 2)),
        (g.down[0].blocks[0].conv0.weight, _bound(16 * 9)),
        (g.down[1].attn[0].query.weight, _bound(32, 0.1)),  # NIN default init_scale 0.1
        (g.z_mapping.layers[0].weight, _bound(32)),  # official `dense`: fan_out
        (g.down[0].blocks[0].norm0.style.weight, _bound(32)),
        (d.blocks[1].conv1.weight, _bound(64 * 9)),  # official `conv2d`: fan_out
        (d.head.weight, _bound(1)),
    ]
    for weight, bound in cases:
        assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound
    for near_zero in (g.down[0].blocks[0].conv1.weight, g.middle.attn.out.weight, g.output.conv.weight, d.final_conv.weight):
        assert 0 < near_zero.abs().max() < 1e-4  # init_scale 0 means 1e-10, not exactly zero
    assert torch.equal(g.middle.block0.norm1.style.bias, torch.cat([torch.ones(32), torch.zeros(32)]))
    assert all(torch.all(m.bias == 0) for m in (g.input_conv, g.down[0].blocks[0].t_proj, d.blocks[0].t_proj))


def _randomized(network, seed=0):
    """O(1) weights so every branch matters (fresh residual branches start near zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in network.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else 4
            p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * math.sqrt(3 / fan_in))
    return network.eval()


def _tiny_inputs(batch=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, 16, 16, generator=generator), torch.arange(batch) % 4, torch.randn(batch, 8, generator=generator)


def test_generator_under_inference_mode_channels_last_and_bf16_autocast():
    g = _randomized(NCSNppGenerator(**TINY_GENERATOR))
    x, t, z = _tiny_inputs()
    with torch.no_grad():
        reference = g(x, t, z)
    assert reference.abs().max() > 0.1 and reference.abs().max() <= 1
    with torch.inference_mode():
        assert torch.allclose(g(x, t, z), reference, atol=1e-6)
        g_cl = g.to(memory_format=torch.channels_last)
        assert torch.allclose(g_cl(x.contiguous(memory_format=torch.channels_last), t, z), reference, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = g(x, t, z)
    assert torch.isfinite(low).all()
    assert (low.float() - reference).abs().max() < 0.05  # bf16 keeps ~3 significant digits


def test_discriminator_under_channels_last_and_bf16_autocast():
    d = _randomized(SmallDiscriminator(ngf=8, t_emb_dim=32))
    generator = torch.Generator().manual_seed(1)
    x_t, x_tp1 = torch.randn(8, 3, 32, 32, generator=generator), torch.randn(8, 3, 32, 32, generator=generator)
    t = torch.arange(8) % 4
    with torch.inference_mode():
        reference = d(x_t, t, x_tp1)
        d_cl = d.to(memory_format=torch.channels_last)
        cl = [v.contiguous(memory_format=torch.channels_last) for v in (x_t, x_tp1)]
        assert torch.allclose(d_cl(cl[0], t, cl[1]), reference, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = d(x_t, t, x_tp1)
    assert ((low.float() - reference).abs() / reference.abs().max()).max() < 0.05


def test_generator_depends_on_t_and_z_and_trains():
    g = _randomized(NCSNppGenerator(**TINY_GENERATOR)).train()
    x, t, z = _tiny_inputs()
    out = g(x, t, z)
    assert (out - g(x, (t + 1) % 4, z)).abs().max() > 1e-3
    assert (out - g(x, t, torch.randn(4, 8))).abs().max() > 1e-3
    out.square().mean().backward()
    assert all(p.grad is not None for p in g.parameters())


def test_bad_inputs_are_named():
    g = NCSNppGenerator(**TINY_GENERATOR)
    x, t, z = _tiny_inputs()
    with pytest.raises(ValueError, match=r"t must be an integer tensor of shape \(4,\)"):
        g(x, t.float(), z)
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, 3, 16, 16\)"):
        g(torch.zeros(4, 3, 32, 32), t, z)
    with pytest.raises(ValueError, match=r"z must have shape \(4, 8\)"):
        g(x, t, torch.zeros(4, 100))
    with pytest.raises(ValueError, match="x_t and x_tp1 must both have shape"):
        SmallDiscriminator(ngf=4, t_emb_dim=16)(torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.long), torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="divisible by 2"):
        NCSNppGenerator(image_size=20, channel_mult=(1, 2, 2, 2))


def test_small_conv_discriminator_with_minibatch_std_sees_the_rest_of_its_group():
    from ddgan.nets.small import ConvDiscriminator
    torch.manual_seed(0)
    plain, grouped = (ConvDiscriminator(3, 8, (1, 2), minibatch_std=flag) for flag in (False, True))
    x, t = torch.randn(8, 3, 8, 8), torch.randint(0, 4, (8,))
    changed = x.clone()
    changed[4] = torch.randn(3, 8, 8)          # sample 4 shares a group of 4 with samples 0, 2 and 6
    for net in (plain, grouped):
        before, after = net(x, t, x), net(changed, t, changed)
        assert before.shape == (8, 1) and torch.equal(before[1::2], after[1::2])   # other groups: unchanged
        assert torch.equal(before[0], after[0]) is (net is plain)
    # one extra input channel (the stddev) into a 3x3 conv of the last width, nothing else
    extra = sum(p.numel() for p in grouped.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == (16 + 1) * 16 * 9 + 16


def test_small_conv_discriminator_with_spectral_norm_bounds_every_layer_by_one():
    from ddgan.nets.small import ConvDiscriminator
    torch.manual_seed(0)
    net = ConvDiscriminator(3, 8, (1, 2), spectral_norm=True)
    x, t = torch.randn(4, 3, 8, 8), torch.randint(0, 4, (4,))
    for _ in range(200):                      # each training forward runs one power iteration
        net(x, t, x)
    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 1 + 3 * 2 + 2 + 2 + 1   # input conv, 3 per block, 2 time biases, time MLP, head
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1) < 1e-3
    # R1's double backward runs through the normalised weights
    x = x.requires_grad_()
    (grad,) = torch.autograd.grad(net(x, t, x).sum(), x, create_graph=True)
    grad.pow(2).sum().backward()
    assert net.head.parametrizations.weight.original.grad is not None


def test_small_conv_unet_with_more_blocks_per_level_keeps_the_one_block_layout():
    from ddgan.nets.small import ConvUNet
    one, two = (ConvUNet(8, 3, 8, (1, 2), nz=4, num_res_blocks=n) for n in (1, 2))
    # one block per level: the original parameter names (old checkpoints load), 2 down + 2 up blocks
    assert [k for k in one.state_dict() if k.startswith(("down.", "up."))][-1].startswith("up.1.")
    assert len(one.down) == len(one.up) == 2 and len(two.down) == len(two.up) == 4
    # the extra blocks map width to width: 2 x 2 ResBlocks of 8 and of 16 channels more
    extra = sum(p.numel() for p in two.parameters()) - sum(p.numel() for p in one.parameters())
    per_block = {w: sum(p.numel() for p in two.up[1 if w == 16 else 3].parameters()) for w in (8, 16)}
    assert extra == 2 * (per_block[8] + per_block[16])
    x, t, z = torch.randn(5, 3, 8, 8), torch.randint(0, 4, (5,)), torch.randn(5, 4)
    out = two(x, t, z)
    assert out.shape == x.shape
    out.sum().backward()                      # every block is on the path from input to output
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in two.parameters())


def test_every_architecture_declares_each_key_with_its_constructor_default():
    """`ddgan options` and the config check read network_options; a keyword added to a constructor
    without a declaration, or a default written twice, cannot drift apart."""
    import inspect

    from ddgan.base import registry
    from ddgan.base.options import REQUIRED
    from ddgan.nets.options import network_options
    for arch in registry.ARCHITECTURES.names():
        cls = registry.ARCHITECTURES.get(arch)
        options = network_options(cls)
        parameters = inspect.signature(cls).parameters
        assert [o.name for o in options] == list(parameters), arch
        for option in options:
            default = parameters[option.name].default
            expected = REQUIRED if default is inspect.Parameter.empty else default
            assert option.default == (list(expected) if isinstance(expected, tuple) else expected), (arch, option.name)
            assert option.help, (arch, option.name)


def test_an_undeclared_constructor_keyword_is_refused_by_name():
    from torch import nn

    from ddgan.nets.options import network_options

    class Widened(nn.Module):
        def __init__(self, hidden=8, widening=2):
            super().__init__()

    with pytest.raises(TypeError, match="Widened takes 'widening', which neither"):
        network_options(Widened)
