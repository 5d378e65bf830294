"""NFE from counted network calls, and timing of one sampling batch."""
import pytest
import torch
from torch import nn

from ddgan.metrics.timing import NetworkCallCounter, count_nfe, device_name, time_sampling


class ToySampler:
    """Calls its network `steps` times per batch, like a T-step reverse process."""

    def __init__(self, steps):
        self.network = nn.Linear(4, 4)
        self.steps = steps
        self.batches = 0

    def sample(self, n, generator):
        self.batches += 1
        x = torch.randn(n, 4, generator=generator)
        for _ in range(self.steps):
            x = self.network(x)
        return x


@pytest.mark.parametrize("steps", [1, 4])
def test_nfe_counts_actual_network_calls(steps):
    sampler = ToySampler(steps)
    assert count_nfe(sampler.sample, sampler.network, batch_size=100) == steps
    with NetworkCallCounter(sampler.network) as calls:
        sampler.sample(3, torch.Generator().manual_seed(0))
        sampler.sample(3, torch.Generator().manual_seed(0))
    assert calls.count == 2 * steps
    sampler.network(torch.zeros(1, 4))
    assert calls.count == 2 * steps  # the hook is gone once the context closes


def test_time_sampling_warms_up_then_repeats():
    sampler = ToySampler(2)
    timing = time_sampling(sampler.sample, batch_size=100, warmup=2, repeats=3)
    assert sampler.batches == 5 and len(timing.times_s) == 3 and timing.batch_size == 100
    assert min(timing.times_s) <= timing.time_s <= max(timing.times_s)
    assert timing.device == device_name("cpu") and timing.device.startswith("CPU")
