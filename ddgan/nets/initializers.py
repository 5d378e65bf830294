"""The official code's two weight initialisations, so fresh networks start from the same distributions.

Both draw uniformly from [-b, b] with b = sqrt(3 * scale / fan) and zero the bias; they differ in the fan:

* ``fan_avg_uniform_`` (NCSN++'s ``default_init``, from DDPM): fan = (fan_in + fan_out) / 2. Used for
  every generator convolution and linear layer except the z path.
* ``fan_out_uniform_`` (the official ``dense``/``conv2d`` helpers): these ask PyTorch for "fan_avg" but
  receive fan_out (PyTorch only knows fan_in and fan_out), with fan floored at 1. Used for the z
  mapping network, the adaptive-norm style layers and everything in the discriminators.

In both, a scale of 0 means 1e-10 (an almost-zero but not exactly zero layer): the last layer of each
residual branch starts near zero, so a fresh residual block is close to its skip path.
"""

import math

import torch


def _effective_scale(scale):
    return 1e-10 if scale == 0 else scale


def _fans(weight):
    receptive_field = weight[0][0].numel() if weight.ndim > 2 else 1
    return weight.shape[1] * receptive_field, weight.shape[0] * receptive_field


def _uniform_(layer, fan, scale):
    bound = math.sqrt(3.0 * _effective_scale(scale) / fan)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def fan_avg_uniform_(layer, scale=1.0):
    """Initialise a Linear/Conv2d layer in place like the official ``default_init(scale)``; returns it."""
    fan_in, fan_out = _fans(layer.weight)
    return _uniform_(layer, (fan_in + fan_out) / 2, scale)


def fan_out_uniform_(layer, scale=1.0):
    """Initialise a Linear/Conv2d layer in place like the official ``dense``/``conv2d``; returns it."""
    _, fan_out = _fans(layer.weight)
    return _uniform_(layer, max(1.0, fan_out), scale)
