"""Adversarial losses of DDGAN (paper eq. 4-5): non-saturating softplus losses and R1.

D(x_t, t, x_{t+1}) returns logits; D maximises log D(real) + log(1 - D(fake)), G maximises
log D(fake). With logits, -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l).
"""
import torch
import torch.nn.functional as F


def _full_precision(logits):
    """Logits in at least float32: under bf16 autocast D's head returns bf16, whose 8-bit mantissa would
    round the losses (and their gradients) to about 3 digits; float64 stays float64."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def discriminator_loss(logits_real, logits_fake):
    """Returns (loss on real pairs, loss on fake pairs); D minimises their sum."""
    return F.softplus(-_full_precision(logits_real)).mean(), F.softplus(_full_precision(logits_fake)).mean()


def generator_loss(logits_fake):
    """Non-saturating generator loss: -log D(x_t^fake, t, x_{t+1})."""
    return F.softplus(-_full_precision(logits_fake)).mean()


def r1_penalty(logits_real, x_real, gamma):
    """R1 = gamma/2 E ||grad_{x_t} D(x_t, t, x_{t+1})||^2 on real pairs (Mescheder et al. 2018).

    `x_real` must require grad and be the input `logits_real` was computed from. The graph is kept
    (create_graph) so the penalty can be differentiated w.r.t. D's parameters.
    """
    (grad,) = torch.autograd.grad(logits_real.sum(), x_real, create_graph=True)
    return gamma / 2 * grad.flatten(1).pow(2).sum(1).mean()


def r1_weight(step, lazy_reg, rescale=False):
    """Multiplier of R1 at `step`: lazy R1 is applied every `lazy_reg` steps.

    The official code applies it unscaled (weight 1 on those steps); `rescale=True` multiplies by
    the interval instead, as StyleGAN2's lazy regularisation does, keeping the average strength.
    """
    if not lazy_reg:
        return 1.0
    if step % lazy_reg:
        return 0.0
    return float(lazy_reg) if rescale else 1.0
