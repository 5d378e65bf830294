"""Training batches for the trainer: deterministic per step, disjoint across processes, resumable.

The batch of global step s is a fixed function of (seed, s): epoch e = s // steps_per_epoch reads a
seeded permutation of the dataset, the global batch is cut into equal contiguous slices per process,
and horizontal flips come from a generator seeded by (seed, s). Resuming at step k therefore sees
exactly the batches an uninterrupted run would.
"""
import numpy as np
import torch

from ddgan.base import registry
from ddgan.base.options import ConfigError, Option, suggestion
from ddgan.datasets.specs import DATASETS

TOY_SIZES = {"mixture25": 100_000, "stacked_digits": 60_000}
PREPARED_DATASETS = tuple(DATASETS)
PREPARED_SPLITS = tuple(sorted({split for spec in DATASETS.values() for split in spec.splits}, reverse=True))

# The data section. Every key applies to every dataset, so that `--set data.dataset=...` can switch a
# preset to another dataset; size and seed only shape the procedural datasets, split the prepared ones.
DATA_OPTIONS = (
    Option("dataset", str, help="procedural (generated on the fly), built in (`ddgan data prepare NAME`) or your own "
                                "images (`ddgan data prepare folder PATH --name NAME`)"),
    Option("shape", list, items=int, min=1, help="the shape of one example: [C, H, W] for images, [2] for points"),
    Option("size", int, lambda data: TOY_SIZES.get(data["dataset"]), min=1, allow_none=True,
           help="examples a procedural dataset generates (mixture25: 100000, stacked_digits: 60000; "
                "prepared datasets are used whole)"),
    Option("seed", int, 0, min=0, help="the seed a procedural dataset is generated from"),
    Option("scale", float, None, above=0, allow_none=True,
           help="mixture25: training units = original units / scale (null: 4, the grid in [-1, 1]); "
                "scores are always in the original units"),
    Option("root", str, None, allow_none=True, bookkeeping=True,
           help="where prepared datasets live (null: $DDGAN_DATA or ./data)"),
    Option("split", str, "train", choices=PREPARED_SPLITS, help="the split of a prepared dataset to train on"),
    Option("hflip", bool, False, help="random horizontal flips (decided per step, so they resume exactly)"),
)


def check_dataset(data_config):
    """ConfigError unless data.dataset is procedural, built in, or prepared under data.root (your own images)."""
    from ddgan.datasets import data_root
    name, known = data_config["dataset"], registry.DATASETS.names() + PREPARED_DATASETS
    root = data_root(data_config.get("root"))
    if name in known or (root / name / "manifest.json").is_file():
        return data_config
    raise ConfigError(f"data.dataset {name!r} is neither built in nor prepared in {root}; "
                      f"{suggestion(name, list(known))}built in: {', '.join(known)}; for your own images: "
                      f"ddgan data prepare folder PATH --name {name}")


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
