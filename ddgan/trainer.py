"""One training loop for every method, on one CPU, one GPU, or many GPUs/nodes.

Single process:   python -m ddgan train --preset cifar10 --run-dir runs/cifar10
Several GPUs:     accelerate launch --multi_gpu --num_processes 4 -m ddgan train --preset cifar10 --run-dir runs/cifar10
Several nodes:    accelerate launch --multi_gpu --num_machines 2 --machine_rank R --main_process_ip HOST \
                      --main_process_port 29500 --num_processes 16 -m ddgan train ...
CPU processes:    accelerate launch --multi_gpu --num_processes 2 -m ddgan train ...   (no GPU: gloo on CPU)

Gradients are averaged over processes explicitly after each backward (rather than through DDP),
because the R1 penalty differentiates through D twice, which DDP does not support. Every process
holds the same parameters: they start from the same seed and receive the same averaged gradients.
"""
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from accelerate import Accelerator
from accelerate.utils import gather_object
from tqdm.auto import tqdm

from ddgan.checkpoint import (STATE_FORMAT, atomic_save, check_same_config, load_file,
                              load_state_dict_checked, save_snapshot)
from ddgan.config import ConfigError, validate, with_defaults
from ddgan.ema import EMA
from ddgan.methods import build_method
from ddgan.monitoring import TrainingMonitor, tracker_for
from ddgan.training_data import StepBatches, load_training_array

STATE_FILE = "training-state.pt"
SNAPSHOT_FILE = "snapshot.pt"


def learning_rate(base_lr, optim, step, steps_per_epoch, total_epochs):
    """The official schedule: cosine annealing per epoch down to lr_min (or constant), times an
    optional linear warm-up over the first optim.warmup_steps steps (DDPM's schedule)."""
    warmup = min(1.0, (step + 1) / optim["warmup_steps"]) if optim["warmup_steps"] else 1.0
    if optim["lr_schedule"] == "constant":
        return base_lr * warmup
    if optim["lr_schedule"] != "cosine":
        raise ConfigError(f"optim.lr_schedule must be 'constant' or 'cosine', got {optim['lr_schedule']!r}")
    epoch = step // steps_per_epoch
    cosine = optim["lr_min"] + (base_lr - optim["lr_min"]) * (1 + math.cos(math.pi * epoch / total_epochs)) / 2
    return cosine * warmup


def rng_state():
    # numpy's key array is stored as a tensor so the checkpoint loads with torch.load(weights_only=True)
    kind, key, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": (kind, torch.from_numpy(key.astype(np.int64)), pos,
                                                        has_gauss, cached), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def average_gradients(params, world_size):
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat.div_(world_size)
    for grad, averaged in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
        grad.copy_(averaged)


class Trainer:
    """Builds everything a run needs from its config; `run()` trains to the configured length."""

    def __init__(self, config, run_dir, accelerator=None):
        self.config = validate(with_defaults(config))
        self.run_dir = Path(run_dir)
        train, optim = self.config["train"], self.config["optim"]
        # without a GPU, processes started by `accelerate launch --multi_gpu` form a gloo CPU group
        self.accelerator = accelerator or Accelerator(mixed_precision=train["mixed_precision"],
                                                      cpu=not torch.cuda.is_available(),
                                                      log_with=tracker_for(train), project_dir=str(self.run_dir))
        self.device = self.accelerator.device
        self.world_size = self.accelerator.num_processes
        self.rank = self.accelerator.process_index

        # data
        array = load_training_array(self.config["data"])
        shape = tuple(array.shape[1:]) if array.dtype != np.uint8 else (array.shape[3], *array.shape[1:3])
        if shape != tuple(self.config["data"]["shape"]):
            raise ConfigError(f"dataset {self.config['data']['dataset']!r} has examples of shape {shape}, "
                              f"but data.shape is {self.config['data']['shape']}")
        self.batches = StepBatches(array, train["batch_size"], self.rank, self.world_size, train["seed"],
                                   self.config["data"].get("hflip", False))
        self.steps_per_epoch = self.batches.steps_per_epoch
        self.total_steps = train["steps"] or train["epochs"] * self.steps_per_epoch
        self.total_epochs = train["epochs"] or math.ceil(self.total_steps / self.steps_per_epoch)

        # networks: the same seed on every process gives identical initial weights
        seed_everything(train["seed"])
        self.method = build_method(self.config).to(self.device)
        self.base_lr = optim["lr"]
        self.optimizers = {}
        for name, nets in self.method.optimizer_groups().items():
            if name not in self.base_lr:
                raise ConfigError(f"optim.lr has no learning rate for optimiser {name!r} (has {sorted(self.base_lr)})")
            # a name may be dotted to select part of a network (e.g. "generator.decoder")
            params = [p for net in nets for p in self.method.networks.get_submodule(net).parameters()]
            # Adam as the paper; decoupled weight decay (AdamW) only when a config asks for it
            adam = torch.optim.AdamW if optim["weight_decay"] else torch.optim.Adam
            extra = {"weight_decay": optim["weight_decay"]} if optim["weight_decay"] else {}
            # fused: one kernel for all parameters (several times faster per step on CPU and GPU)
            self.optimizers[name] = adam(params, lr=self.base_lr[name], betas=tuple(optim["betas"]), fused=True,
                                         **extra)
        self.ema = EMA(self.method.networks[self.method.sampling_network], optim["ema_decay"])
        self.step = 0
        self.monitor = TrainingMonitor(self)
        seed_everything(train["seed"] + 7 * self.rank + 1)   # per-process randomness from here on

    # ---------------------------------------------------------------- optimisation
    def update(self, name, loss):
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.world_size > 1:
            average_gradients(params, self.world_size)
        if self.config["optim"]["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(params, self.config["optim"]["grad_clip"])
        optimizer.step()

    def set_learning_rates(self, step):
        for name, optimizer in self.optimizers.items():
            lr = learning_rate(self.base_lr[name], self.config["optim"], step, self.steps_per_epoch,
                               self.total_epochs)
            for group in optimizer.param_groups:
                group["lr"] = lr

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self):
        return {
            "format": STATE_FORMAT, "config": self.config, "step": self.step, "world_size": self.world_size,
            "networks": {k: v.state_dict() for k, v in self.method.networks.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "ema": self.ema.state_dict(),
        }

    def save(self):
        """Training state (all ranks' RNG states included) and the EMA snapshot, atomically."""
        rng_states = gather_object([rng_state()])
        if self.accelerator.is_main_process:
            atomic_save({**self.state_dict(), "rng": rng_states}, self.run_dir / STATE_FILE)
            save_snapshot(self.run_dir / SNAPSHOT_FILE, self.config, self.step, self.ema.net.state_dict())
            every = self.config["train"]["snapshot_every"]
            if every and self.step % every == 0:
                save_snapshot(self.run_dir / f"snapshot-{self.step:08d}.pt", self.config, self.step,
                              self.ema.net.state_dict())
        self.accelerator.wait_for_everyone()

    def load(self, path):
        state = load_file(path, "training state")
        if state.get("format") != STATE_FORMAT:
            raise ConfigError(f"{path} is not a ddgan training state")
        check_same_config(state["config"], self.config, path)
        for name, net in self.method.networks.items():
            load_state_dict_checked(net, state["networks"][name], f"{path} network {name!r}")
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.ema.load_state_dict(state["ema"])
        self.step = state["step"]
        if state["world_size"] == self.world_size:
            set_rng_state(state["rng"][self.rank])
        else:
            self.accelerator.print(f"warning: {path} was written by {state['world_size']} processes and is resumed "
                                   f"by {self.world_size}; training continues but not bit for bit")
            seed_everything(self.config["train"]["seed"] + 7 * self.rank + 1 + self.step)

    # ---------------------------------------------------------------- loop
    def prepare_run_dir(self, resume):
        state_path = self.run_dir / STATE_FILE
        if resume and state_path.exists():
            self.load(state_path)
        elif state_path.exists():
            raise ConfigError(f"{self.run_dir} already holds a training state; resume it or choose a new --run-dir")
        if self.accelerator.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(json.dumps(self.config, indent=2) + "\n")
        self.accelerator.wait_for_everyone()

    def run(self, resume=True, stop_at=None, progress=True):
        """Train until train.steps (or `stop_at`, to simulate an interruption); returns the last logs."""
        self.prepare_run_dir(resume)
        self.monitor.on_start(announce=progress)
        train = self.config["train"]
        end = min(self.total_steps, stop_at) if stop_at is not None else self.total_steps
        loader = torch.utils.data.DataLoader(
            self.batches, sampler=range(self.step, end), batch_size=None, num_workers=train["num_workers"],
            pin_memory=self.device.type == "cuda",
            # its own generator: creating the iterator must not draw from the global RNG (exact resume)
            generator=torch.Generator().manual_seed(train["seed"]))
        bar = tqdm(total=end, initial=self.step, desc=self.method.describe(), dynamic_ncols=True,
                   disable=not (progress and self.accelerator.is_main_process))
        log_path = self.run_dir / "log.jsonl"
        logs, started = {}, time.time()
        self.method.train()
        for _, x_0 in loader:
            self.set_learning_rates(self.step)
            with self.accelerator.autocast():
                logs = self.method.training_step(x_0.to(self.device, non_blocking=True), self.step, self.update)
            self.ema.update(self.method.networks[self.method.sampling_network])
            self.step += 1
            bar.update(1)
            if self.step % train["log_every"] == 0 or self.step == end:
                logs = self.log(logs, log_path, started)
                bar.set_postfix({**{k: f"{v:.3g}" for k, v in logs.items() if k.startswith("loss")},
                                 "img/s": f"{logs['images_per_second']:.4g}"})
            if self.step % train["checkpoint_every"] == 0 or self.step == end:
                self.save()
            self.monitor.after_step(self.step, end)
        bar.close()
        self.monitor.on_end()
        return logs

    def log(self, logs, path, started):
        values = torch.stack([v.float() for v in logs.values()])
        values = self.accelerator.reduce(values, "mean") if self.world_size > 1 else values
        record = {"step": self.step, **{k: v.item() for k, v in zip(logs, values)},
                  "lr": {k: o.param_groups[0]["lr"] for k, o in self.optimizers.items()},
                  "seconds": round(time.time() - started, 3), **self.monitor.throughput(self.step)}
        if self.accelerator.is_main_process:
            with open(path, "a") as f:
                f.write(json.dumps(record) + "\n")
        self.monitor.log_scalars(record)
        return {k: v for k, v in record.items() if k not in ("lr", "step", "seconds", "eta_seconds")}


def train(config, run_dir, resume=True, stop_at=None, progress=True):
    trainer = Trainer(config, run_dir)
    trainer.run(resume=resume, stop_at=stop_at, progress=progress)
    return trainer
