"""Sampling cost: NFE counted from actual network calls, and wall-clock time of one batch.

The paper's Table 1 reports the time to generate one batch of 100 images on one V100; here the
time is the median over repeats after warm-up calls, synchronising CUDA around each, and is
reported with the name of the device it ran on.
"""
import statistics
from dataclasses import dataclass

import torch

from ddgan.base.provenance import device_name
from ddgan.base.timing import time_once


class NetworkCallCounter:
    """Counts forward calls of a module (a forward hook) while the context is open: the NFE."""

    def __init__(self, module: torch.nn.Module):
        self.module = module
        self.count = 0

    def __enter__(self):
        self.handle = self.module.register_forward_hook(self.hook)
        return self

    def hook(self, module, inputs, output):
        self.count += 1

    def __exit__(self, *exc_info):
        self.handle.remove()


@dataclass
class Timing:
    time_s: float  # median over repeats
    times_s: list
    batch_size: int
    device: str


@torch.no_grad()
def time_sampling(sample_batch, batch_size: int = 100, warmup: int = 2, repeats: int = 5, seed: int = 0,
                  device="cpu") -> Timing:
    """Wall-clock seconds of sample_batch(batch_size, generator), after warm-up calls."""
    generator = torch.Generator(device=device).manual_seed(seed)
    times = []
    for call in range(warmup + repeats):
        elapsed = time_once(lambda: sample_batch(batch_size, generator), device)
        if call >= warmup:
            times.append(elapsed)
    return Timing(statistics.median(times), times, batch_size, device_name(device))


@torch.no_grad()
def count_nfe(sample_batch, network: torch.nn.Module, batch_size: int = 100, seed: int = 0, device="cpu") -> int:
    """Network evaluations made to generate one batch (each call processes the whole batch)."""
    with NetworkCallCounter(network) as calls:
        sample_batch(batch_size, torch.Generator(device=device).manual_seed(seed))
    return calls.count
