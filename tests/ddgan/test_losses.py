"""Adversarial losses and R1 against direct computations and the official update order."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ddgan.denoising_gan import discriminator_loss, generator_loss, r1_penalty, r1_weight


def test_softplus_losses_are_the_non_saturating_gan_losses():
    logits_real, logits_fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    loss_real, loss_fake = discriminator_loss(logits_real, logits_fake)
    sigmoid = lambda v: 1 / (1 + math.exp(-v))
    assert loss_real.item() == pytest.approx(-(math.log(sigmoid(2.0)) + math.log(sigmoid(-1.0))) / 2, rel=1e-6)
    assert loss_fake.item() == pytest.approx(-(math.log(1 - sigmoid(0.5)) + math.log(1 - sigmoid(-3.0))) / 2,
                                             rel=1e-6)
    assert generator_loss(logits_fake).item() == pytest.approx(
        -(math.log(sigmoid(0.5)) + math.log(sigmoid(-3.0))) / 2, rel=1e-6)


def test_r1_of_a_linear_discriminator():
    """D(x) = <w, x> has gradient w everywhere, so R1 = gamma/2 ||w||^2."""
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    x = torch.randn(5, 2, 2, requires_grad=True)
    logits = (x * w).sum(dim=(1, 2))
    assert r1_penalty(logits, x, gamma=0.02).item() == pytest.approx(0.01 * (w**2).sum().item(), rel=1e-6)


def test_r1_is_per_sample_squared_norm_averaged():
    x = torch.randn(4, 3, requires_grad=True)
    logits = (x**2).sum(1)                           # grad = 2x per sample
    expected = 0.5 * (2 * x.detach()).pow(2).sum(1).mean()
    assert r1_penalty(logits, x, gamma=1.0).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("step,lazy,rescale,expected", [
    (0, 15, False, 1.0), (15, 15, False, 1.0), (7, 15, False, 0.0), (30, 15, True, 15.0),
    (3, None, False, 1.0), (3, 1, True, 1.0)])
def test_lazy_r1_weight(step, lazy, rescale, expected):
    assert r1_weight(step, lazy, rescale) == expected


def test_one_combined_backward_equals_the_official_three_backwards():
    """The official code backpropagates real loss, R1 and fake loss separately; we sum them."""
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    x_real, x_fake, cond = torch.randn(3, 8, 3).unbind(0)
    score = lambda x: D(torch.cat([x, cond], 1)).view(-1)

    x = x_real.clone().requires_grad_(True)
    d_real = score(x)
    F.softplus(-d_real).mean().backward(retain_graph=True)
    grad, = torch.autograd.grad(d_real.sum(), x, create_graph=True)
    (0.05 / 2 * grad.view(8, -1).norm(2, dim=1).pow(2).mean()).backward()
    F.softplus(score(x_fake)).mean().backward()
    official = [p.grad.clone() for p in D.parameters()]

    D.zero_grad()
    x = x_real.clone().requires_grad_(True)
    d_real = score(x)
    loss_real, loss_fake = discriminator_loss(d_real, score(x_fake))
    (loss_real + loss_fake + r1_penalty(d_real, x, 0.05)).backward()
    for ours, theirs in zip((p.grad for p in D.parameters()), official):
        torch.testing.assert_close(ours, theirs, atol=1e-7, rtol=1e-6)
