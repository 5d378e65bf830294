"""FIR up/down-sampling by a factor of 2 (StyleGAN2's upfirdn2d, as used by NCSN++ and DDGAN).

The official code runs a generic ``upfirdn2d`` (zero-insertion, padding, a single-channel
convolution over a reshaped batch, decimation), compiled as a CUDA extension at import. For the
factor-2 cases the networks need, each of those is one depthwise (de)convolution:

* ``upsample``: zero-insert, pad, filter with gain 4    == ``conv_transpose2d`` with stride 2
* ``downsample``: pad, filter, keep every second sample  == ``conv2d`` with stride 2
* ``blur`` before a strided 3x3 convolution (``Conv2d(down=True)`` in the official code)
                                                        == ``conv2d`` with stride 1, padding n/2

All three are plain PyTorch ops: nothing is compiled, and they run under ``torch.inference_mode``,
``channels_last`` and autocast. tests/nets/test_networks.py checks them against a literal upfirdn2d.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from ddgan.nets.initializers import fan_avg_uniform_


def fir_kernel_2d(taps):
    """The separable 2-D FIR kernel outer(taps, taps), normalised to sum to 1."""
    taps = torch.as_tensor(taps, dtype=torch.float64)
    if taps.ndim != 1 or len(taps) < 2 or len(taps) % 2 != 0:
        raise ValueError(
            f"FIR taps must be a 1-D sequence of even length such as (1, 3, 3, 1); got {tuple(taps.tolist())}"
        )
    kernel = torch.outer(taps, taps)
    return (kernel / kernel.sum()).to(torch.float32)


def _depthwise(kernel, x):
    """The (1, 1, n, n) kernel repeated for every channel of x, in x's dtype."""
    return kernel.to(dtype=x.dtype).expand(x.shape[1], 1, *kernel.shape[-2:])


class FIRUpsample(nn.Module):
    """x2 upsampling: zero-insertion followed by the FIR filter with gain 4 (keeps a constant image constant)."""

    def __init__(self, taps=(1, 3, 3, 1)):
        super().__init__()
        kernel = fir_kernel_2d(taps) * 4
        # conv_transpose2d scatters each input pixel through the kernel as is (no flip), which is
        # exactly upfirdn2d's true convolution of the zero-inserted image; n/2 - 1 crops to 2H.
        self.register_buffer("kernel", kernel[None, None], persistent=False)
        self.padding = len(taps) // 2 - 1

    def forward(self, x):
        return F.conv_transpose2d(x, _depthwise(self.kernel, x), stride=2, padding=self.padding, groups=x.shape[1])


class FIRDownsample(nn.Module):
    """x2 downsampling: the FIR filter (zero padding) sampled at every second pixel."""

    def __init__(self, taps=(1, 3, 3, 1)):
        super().__init__()
        # conv2d correlates, upfirdn2d convolves: store the kernel flipped.
        self.register_buffer("kernel", fir_kernel_2d(taps).flip(0, 1)[None, None], persistent=False)
        self.padding = len(taps) // 2 - 1

    def forward(self, x):
        return F.conv2d(x, _depthwise(self.kernel, x), stride=2, padding=self.padding, groups=x.shape[1])


class FIRDownsampleConv(nn.Module):
    """FIR blur then a stride-2 3x3 convolution: the official ``Conv2d(down=True)`` (StyleGAN2's
    fused conv_downsample_2d), used here for the residual input pyramid.

    Blurring with padding n/2 grows the image by one pixel, so the unpadded stride-2 3x3 conv lands
    on H/2 exactly as in the official op.
    """

    def __init__(self, in_channels, out_channels, taps=(1, 3, 3, 1)):
        super().__init__()
        self.register_buffer("kernel", fir_kernel_2d(taps).flip(0, 1)[None, None], persistent=False)
        self.padding = len(taps) // 2
        self.conv = fan_avg_uniform_(nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=0))

    def forward(self, x):
        x = F.conv2d(x, _depthwise(self.kernel, x), padding=self.padding, groups=x.shape[1])
        return self.conv(x)
