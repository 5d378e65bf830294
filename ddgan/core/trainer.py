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
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import broadcast_object_list, gather_object
from tqdm.auto import tqdm

from ddgan.base.io import atomic_write_text
from ddgan.core.checkpoint import (STATE_FORMAT, atomic_save, check_same_config, load_file,
                                   load_state_dict_checked, save_snapshot)
from ddgan.core.config import ConfigError, validate
from ddgan.core.interrupts import StopRequest, ignore_stop_signals
from ddgan.core.methods import build_method
from ddgan.core.monitoring import TrainingMonitor, tracker_for
from ddgan.core.optimisation import Optimisation
from ddgan.core.run_dir import EXTENSIONS_FILE, RunLock, append_jsonl, check_run_dir, cut_log
from ddgan.core.training_data import StepBatches, load_training_array

STATE_FILE = "training-state.pt"
SNAPSHOT_FILE = "snapshot.pt"
# several processes agree on stopping every this many steps: reading the agreement waits for the
# device, and doing that every step would stall the queue of GPU work
AGREE_EVERY = 10


def learning_rate(base_lr, optim, step, steps_per_epoch, total_steps):
    """The official schedule: cosine annealing per epoch down to lr_min (or constant), times an
    optional linear warm-up over the first optim.warmup_steps steps (DDPM's schedule).
    `cosine_steps` anneals per step instead: the official per-epoch cosine does not move within a
    run of one or two epochs (the cpu profile's)."""
    warmup = min(1.0, (step + 1) / optim["warmup_steps"]) if optim["warmup_steps"] else 1.0
    schedule = optim["lr_schedule"]
    if schedule == "constant":
        return base_lr * warmup
    if schedule == "cosine":
        progress = (step // steps_per_epoch) / math.ceil(total_steps / steps_per_epoch)
    else:       # cosine_steps: the config's choices were checked where it entered (validate)
        progress = step / total_steps
    cosine = optim["lr_min"] + (base_lr - optim["lr_min"]) * (1 + math.cos(math.pi * progress)) / 2
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


def resolve_mixed_precision(setting):
    """train.mixed_precision "auto" -> "bf16" where this machine computes bf16 natively, else "no"."""
    if setting != "auto":
        return setting
    from ddgan.core.hardware import bf16_support
    return "bf16" if bf16_support("cuda" if torch.cuda.is_available() else "cpu").available else "no"


def new_accelerator(**kwargs):
    """An Accelerator for this run. accelerate keeps one process-wide state: a second run in the same
    process (a notebook comparing float32 and bf16) starts it afresh, keeping the process group."""
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") != kwargs["mixed_precision"]:
        AcceleratorState._reset_state()
    return Accelerator(**kwargs)


class Trainer:
    """Builds everything a run needs from its config; `run()` trains to the configured length."""

    def __init__(self, config, run_dir, accelerator=None):
        # config and run directory: every check that needs no data comes first
        self.config = validate(config)
        self.run_dir = Path(run_dir)
        check_run_dir(self.run_dir, self.config, STATE_FILE)
        train, optim = self.config["train"], self.config["optim"]
        # without a GPU, processes started by `accelerate launch --multi_gpu` form a gloo CPU group
        self.mixed_precision = resolve_mixed_precision(train["mixed_precision"])
        self.accelerator = accelerator or new_accelerator(mixed_precision=self.mixed_precision,
                                                          cpu=not torch.cuda.is_available(),
                                                          log_with=tracker_for(train), project_dir=str(self.run_dir))
        self.device = self.accelerator.device
        self.world_size = self.accelerator.num_processes
        self.rank = self.accelerator.process_index

        # networks: the same seed on every process gives identical initial weights
        seed_everything(train["seed"])
        try:
            self.method = build_method(self.config).to(self.device)
        except ValueError as error:      # a method's own consistency checks (e.g. which networks it needs)
            raise ConfigError(str(error)) from None

        # before the optimisers and the EMA copy exist, so that they share the layout; batches stay as
        # they are, so that noise drawn like them (randn_like) is the same stream in either layout
        self.memory_format = (torch.channels_last if train["channels_last"] and len(self.config["data"]["shape"]) == 3
                              else torch.contiguous_format)
        self.method.to(memory_format=self.memory_format)

        self.base_lr = optim["lr"]
        self.optimisation = Optimisation(self.method, optim, world_size=self.world_size,
                                         backward=self.accelerator.backward, autocast=self.accelerator.autocast)
        self.optimizers, self.ema = self.optimisation.optimizers, self.optimisation.ema

        # data
        array = load_training_array(self.config["data"])
        shape = tuple(array.shape[1:]) if array.dtype != np.uint8 else (array.shape[3], *array.shape[1:3])
        if shape != tuple(self.config["data"]["shape"]):
            raise ConfigError(f"dataset {self.config['data']['dataset']!r} has examples of shape {shape}, "
                              f"but data.shape is {self.config['data']['shape']}")
        self.dataset_size = len(array)
        self.batches = StepBatches(array, train["batch_size"], self.rank, self.world_size, train["seed"],
                                   self.config["data"]["hflip"])
        self.steps_per_epoch = self.batches.steps_per_epoch
        self.total_steps, self.total_epochs = self.run_length(self.config)

        self.step = 0
        self.resumed = False
        self.interrupted = None          # the signal number that stopped the last run()
        self.monitor = TrainingMonitor(self)
        seed_everything(train["seed"] + 7 * self.rank + 1)   # per-process randomness from here on

    def run_length(self, config):
        """(total steps, total epochs) of a config on this dataset and batch size."""
        train = config["train"]
        steps = train["steps"] or train["epochs"] * self.steps_per_epoch
        return steps, math.ceil(steps / self.steps_per_epoch)     # train.steps wins over train.epochs

    # ---------------------------------------------------------------- optimisation
    def learning_rates(self, step, total_steps=None):
        return {name: learning_rate(self.base_lr[name], self.config["optim"], step, self.steps_per_epoch,
                                    total_steps or self.total_steps) for name in self.optimizers}

    def set_learning_rates(self, step):
        for name, lr in self.learning_rates(step).items():
            for group in self.optimizers[name].param_groups:
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
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ConfigError(f"{path} is not a ddgan training state")
        saved = validate(state["config"])
        check_same_config(saved, self.config, path)
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
        self.check_length(saved)

    def check_length(self, saved):
        """A resumed run may be made longer (train.steps / train.epochs grown), never shorter. The change is
        announced, with what it does to a length-dependent (cosine) learning-rate schedule, and recorded
        in extensions.jsonl."""
        old_steps, old_epochs = self.run_length(saved)
        if (old_steps, old_epochs) == (self.total_steps, self.total_epochs):
            return
        if self.total_steps < old_steps:
            raise ConfigError(f"{self.run_dir} is a run of {old_steps} steps (at step {self.step}); a run can be "
                              f"extended but not shortened to {self.total_steps}: keep train.steps/train.epochs "
                              "or choose another --run-dir")
        change = f"extending {self.run_dir} from {old_steps} to {self.total_steps} steps"
        before, after = self.learning_rates(self.step, old_steps), self.learning_rates(self.step)
        if before != after:
            rates = ", ".join(f"{k} {after[k]:.3g} instead of {before[k]:.3g}" for k in after)
            length = (f"{self.total_steps} steps instead of {old_steps}" if self.config["optim"]["lr_schedule"] ==
                      "cosine_steps" else f"{self.total_epochs} epochs instead of {old_epochs}")
            change += (f": the {self.config['optim']['lr_schedule']} learning-rate schedule now decays over {length}, "
                       f"so from step {self.step} on the rates differ from the original run ({rates} now)")
        else:
            change += (f" ({self.config['optim']['lr_schedule']} learning rate: it does not depend on the length "
                       "of the run)")
        self.accelerator.print(change)
        if self.accelerator.is_main_process:
            append_jsonl(self.run_dir / EXTENSIONS_FILE, {
                "at_step": self.step, "from_steps": old_steps, "to_steps": self.total_steps,
                "from_epochs": old_epochs, "to_epochs": self.total_epochs,
                "lr_schedule": self.config["optim"]["lr_schedule"], "message": change,
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    # ---------------------------------------------------------------- run directory
    def lock_run_dir(self):
        """The main process takes the run directory's lock; every process learns whether it could."""
        lock, error = RunLock(self.run_dir), None
        if self.accelerator.is_main_process:
            try:
                lock.acquire()
            except ConfigError as failure:
                error = str(failure)
        if self.world_size > 1:
            error = broadcast_object_list([error])[0]
        if error:
            raise ConfigError(error)
        return lock

    def prepare_run_dir(self, resume):
        state_path = self.run_dir / STATE_FILE
        if state_path.exists() and not resume:
            raise ConfigError(f"{self.run_dir} already holds a training state; resume it or choose a new --run-dir")
        check_run_dir(self.run_dir, self.config, STATE_FILE)   # again, now that the directory is locked
        self.resumed = state_path.exists()
        if self.resumed:
            self.load(state_path)
        if self.accelerator.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.json", json.dumps(self.config, indent=2) + "\n")
            cut_log(self.run_dir / "log.jsonl", self.step)
        self.accelerator.wait_for_everyone()

    def summary(self):
        """What is about to run, printed before the first step (one line per item)."""
        nets = ", ".join(f"{name} {sum(p.numel() for p in net.parameters()):,}"
                         for name, net in self.method.networks.items())
        train, data = self.config["train"], self.config["data"]
        processes = f"{self.world_size} process{'es' if self.world_size > 1 else ''}"
        start = (f"resuming {self.run_dir} at step {self.step} of {self.total_steps}" if self.resumed
                 else f"starting {self.run_dir} fresh at step 0 of {self.total_steps}")
        return [
            f"{self.method.describe()} in {self.run_dir}",
            f"  device: {self.device} x {processes} (mixed precision: {self.mixed_precision})",
            f"  parameters: {nets} (the EMA of {self.method.sampling_network} is sampled)",
            f"  data: {data['dataset']}, {self.dataset_size:,} examples of shape {data['shape']}",
            f"  batch: {train['batch_size']} global, {self.batches.per_process} per process; "
            f"{self.steps_per_epoch} steps per epoch",
            f"  steps: {self.total_steps} ({self.total_epochs} epochs), "
            f"learning rate {self.config['optim']['lr_schedule']}",
            start,
        ]

    # ---------------------------------------------------------------- loop
    def stop_and_save_due(self, stop, last_save):
        """(signal number or 0, wall-clock save due), agreed by all processes (each may see a signal at a
        different step)."""
        minutes = self.config["train"]["checkpoint_minutes"]
        due = minutes is not None and time.monotonic() - last_save >= 60 * minutes
        if self.world_size == 1:
            return stop.signum or 0, due
        if self.step % AGREE_EVERY:
            return 0, False
        flags = torch.tensor([stop.signum or 0, int(due)], device=self.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        return int(flags[0]), bool(flags[1])

    def run(self, resume=True, stop_at=None, progress=True):
        """Train until train.steps (or `stop_at`, to simulate an interruption); returns the last logs.
        SIGINT / SIGTERM end the run after the current step with its state saved (self.interrupted)."""
        lock = self.lock_run_dir()
        try:
            with StopRequest(announce=self.accelerator.is_local_main_process) as stop:
                self.prepare_run_dir(resume)
                for line in self.summary():
                    self.accelerator.print(line)
                self.monitor.on_start(announce=progress)
                return self.train_loop(stop, stop_at, progress)
        finally:
            lock.release()

    def train_loop(self, stop, stop_at, progress):
        train = self.config["train"]
        end = min(self.total_steps, stop_at) if stop_at is not None else self.total_steps
        loader = torch.utils.data.DataLoader(
            self.batches, sampler=range(self.step, end), batch_size=None, num_workers=train["num_workers"],
            pin_memory=self.device.type == "cuda", worker_init_fn=ignore_stop_signals,
            # its own generator: creating the iterator must not draw from the global RNG (exact resume)
            generator=torch.Generator().manual_seed(train["seed"]))
        bar = tqdm(total=end, initial=self.step, desc=self.method.describe(), dynamic_ncols=True,
                   disable=not (progress and self.accelerator.is_main_process))
        log_path = self.run_dir / "log.jsonl"
        logs, started = {}, time.time()
        last_save = time.monotonic()
        self.interrupted = None
        self.method.train()
        step_seconds = None
        for _, x_0 in loader:
            stop.step_started(step_seconds)
            began = time.monotonic()
            self.set_learning_rates(self.step)
            logs = self.optimisation.step(x_0.to(self.device, non_blocking=True), self.step)
            self.step += 1
            step_seconds = time.monotonic() - began
            bar.update(1)
            if self.step % train["log_every"] == 0 or self.step == end:
                logs = self.log(logs, log_path, started)
                bar.set_postfix({**{k: f"{v:.3g}" for k, v in logs.items() if k.startswith("loss")},
                                 "img/s": f"{logs['images_per_second']:.4g}"})
            signum, save_due = self.stop_and_save_due(stop, last_save)
            if self.step % train["checkpoint_every"] == 0 or self.step == end or signum or save_due:
                self.save()
                last_save = time.monotonic()
            if signum:
                self.interrupted = signum
                break
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
