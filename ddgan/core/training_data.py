"""Training batches for the trainer: deterministic per step, disjoint across processes, resumable.

The batch of global step s is a fixed function of (seed, s): epoch e = s // steps_per_epoch reads a
seeded permutation of the dataset, the global batch is cut into equal contiguous slices per process,
and horizontal flips come from a generator seeded by (seed, s). Resuming at step k therefore sees
exactly the batches an uninterrupted run would.
"""
import numpy as np
import torch

from ddgan.base import registry
from ddgan.base.options import ConfigError


def load_training_array(data_config):
    """The training set as an array: float32 (a registered in-memory dataset: digits in [-1, 1], the
    25-Gaussians in units of data.scale) or uint8 NHWC (a prepared image dataset)."""
    name = data_config["dataset"]
    if name in registry.DATASETS:
        return registry.DATASETS.get(name)(data_config)
    from ddgan.datasets import open_prepared
    return open_prepared(name, data_config.get("root"), split=data_config.get("split", "train")).images


def to_model_space(batch):
    """uint8 NHWC -> float NCHW in [-1, 1]; float arrays are already in model space."""
    batch = torch.from_numpy(np.ascontiguousarray(batch))
    if batch.dtype == torch.uint8:
        return batch.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    return batch


class StepBatches(torch.utils.data.Dataset):
    """Map-style dataset indexed by global step: item s is this process's slice of batch s."""

    def __init__(self, array, global_batch, rank=0, world_size=1, seed=0, hflip=False):
        if global_batch % world_size:
            raise ConfigError(f"train.batch_size {global_batch} is not divisible by the {world_size} processes")
        if len(array) < global_batch:
            raise ConfigError(f"the dataset has {len(array)} examples, fewer than one batch of {global_batch}")
        self.array, self.seed, self.hflip = array, seed, hflip
        self.per_process = global_batch // world_size
        self.offset = rank * self.per_process
        self.steps_per_epoch = len(array) // global_batch   # the last incomplete batch is dropped
        self.global_batch = global_batch
        self._epoch, self._order = None, None

    def indices(self, step):
        epoch, within = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(len(self.array), generator=generator).numpy()
        start = within * self.global_batch + self.offset
        return self._order[start:start + self.per_process]

    def __len__(self):
        return 2**62   # indexed by step; the sampler decides which steps are drawn

    def __getitem__(self, step):
        indices = self.indices(step)
        order = np.argsort(indices)     # sorted reads are faster on memory-mapped files
        batch = np.empty((len(indices),) + self.array.shape[1:], dtype=self.array.dtype)
        batch[order] = self.array[indices[order]]
        x = to_model_space(batch)
        if self.hflip:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + 7919 * step + 1)
            # drawn for the whole global batch, so flips do not depend on the number of processes
            flip = (torch.rand(self.global_batch, generator=generator) < 0.5)[self.offset:self.offset + len(x)]
            x[flip] = x[flip].flip(-1)
        return torch.from_numpy(indices.copy()), x
