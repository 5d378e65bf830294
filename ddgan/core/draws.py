"""Where a method's training step takes its random numbers from.

A step draws through `method.draws` rather than calling torch directly, so that a test can replay the
exact draws of another implementation (tests/ddgan/test_official_training_parity.py replays the official
training loop's). The default draws from torch's global generator, call for call as torch itself.
"""
import torch


class TorchDraws:
    """torch's global random stream (or `generator`, where given)."""

    def randint(self, high, size, device):
        return torch.randint(0, high, size, device=device)

    def randn_like(self, x):
        return torch.randn_like(x)

    def randn(self, *shape, generator=None, device=None):
        return torch.randn(*shape, generator=generator, device=device)


GLOBAL_DRAWS = TorchDraws()

