"""Run under `accelerate launch --cpu --num_processes 2`: trains a few steps and records, per rank,
the example indices it was given and its final parameters (read by test_distributed.py)."""
import sys
from pathlib import Path

import torch

from ddgan.core.trainer import Trainer
from ddgan.core.training_data import StepBatches
from ddgan.presets import mixture25_ddgan


class RecordingBatches(StepBatches):
    """The trainer's batches, remembering which examples this process received."""
    seen = []

    def __getitem__(self, step):
        indices, x = super().__getitem__(step)
        self.seen.append(indices)
        return indices, x


out = Path(sys.argv[1])
config = mixture25_ddgan(num_timesteps=2, steps=6)
config["networks"]["generator"].update(hidden=32, depth=2)
config["networks"]["discriminator"].update(hidden=32, depth=2)
config["data"]["size"] = 1024
config["train"].update(batch_size=64, log_every=3, checkpoint_every=3, sample_every=3, eval_every=3, eval_samples=200)
config["method"]["lazy_reg"] = 2

trainer = Trainer(config, out / "run")
trainer.batches.__class__ = RecordingBatches
trainer.run(progress=False)
torch.save({"indices": torch.cat(RecordingBatches.seen), "world_size": trainer.world_size,
            "parameters": {k: v.clone() for k, v in trainer.method.state_dict().items()},
            "ema": {k: v.clone() for k, v in trainer.ema.net.state_dict().items()}},
           out / f"rank{trainer.rank}.pt")
