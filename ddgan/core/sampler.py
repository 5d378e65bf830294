"""The sampler interface every method shares: `Sampler` (a method with its EMA network, ready to
generate; ddgan.sampling loads one from a file), the one sampling loop of every discrete-time
method (DDGAN, DDPM, DDIM, ...) and the one seeded loop that draws many samples in batches.

A method supplies its reverse step p_theta(x_prev | x, t); the loop walks the given steps from
x_T. One network evaluation per step, so NFE = len(timesteps) for DDGAN.
"""
import torch

# the seed of every evaluation's samples unless one is given: the official evaluation scripts' 42
EVAL_SEED = 42


@torch.no_grad()
def run_reverse_chain(reverse_step, x_T, timesteps):
    """x_T -> x_0 by x <- reverse_step(x, t) for t in `timesteps` (given from noisiest to cleanest)."""
    x = x_T
    for step in timesteps:
        t = torch.full((len(x),), int(step), dtype=torch.long, device=x.device)
        x = reverse_step(x, t)
    return x


def seeded_batches(sample, n, batch_size, seed, device=None):
    """Yield (start index, batch) for n samples drawn by sample(count, generator), batch_size at a time.

    One torch.Generator on `device`, seeded once, drives the batches in turn (the last one is
    smaller when batch_size does not divide n), so the samples depend on the seed, the batch size
    and the device only.
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    for start in range(0, n, batch_size):
        yield start, sample(min(batch_size, n - start), generator)


class Sampler:
    """A method with its EMA sampling network, ready to generate."""

    def __init__(self, method, net, config, source, step=None, channels_last=False, bf16=False):
        self.method, self.net, self.config, self.source, self.step = method, net.eval(), config, source, step
        self.bf16 = bf16
        if channels_last and self.is_image:
            self.net.to(memory_format=torch.channels_last)

    @property
    def nfe(self):
        """Network evaluations per sample with the default sampling options."""
        return self.method.nfe()

    @property
    def network(self):
        """The module called once per sampling step (its forward calls are the NFE)."""
        return self.method.step_network(self.net)

    @property
    def device(self):
        return next(self.net.parameters()).device

    def describe(self):
        return self.method.describe()

    @property
    def is_image(self):
        return len(self.method.data_shape) == 3

    @torch.inference_mode()
    def sample(self, n, generator=None, **options):
        """n samples in training units; `options` go to the method's sampler (e.g. steps=50 for DDPM).
        Images are clamped to their pixel range [-1, 1]; other data (2-D points) is returned as generated."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            x = self.method.sample(n, rng=generator, net=self.net, **options).float()
        return x.clamp_(-1.0, 1.0) if self.is_image else x

    def batches(self, n, batch_size, seed, **options):
        """(start index, batch) for n samples, batch_size at a time, from one generator seeded once
        on the sampler's device (`seeded_batches`); `options` go to `sample`."""
        return seeded_batches(lambda count, generator: self.sample(count, generator, **options), n, batch_size,
                              seed, self.device)
