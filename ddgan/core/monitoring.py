"""Watching a run: sample grids, the periodic score and the best snapshot, throughput, trackers.

Everything here runs beside training and never changes what it computes: samples come from the EMA
network with their own seeded generators (the run's RNG is untouched, so resume stays exact), and
only the main process samples, scores and writes. log.jsonl stays the always-on record; TensorBoard
or W&B (train.log_with, through accelerate's trackers) receive the same scalars plus the grids.

Cost: one grid is one sampling pass of GRID_IMAGES images; at the default train.sample_every it
adds 0.09% to the paper cifar10 run on one CPU thread (results/monitoring/).
"""
import importlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import gather_object

from ddgan.core.checkpoint import load_snapshot, save_snapshot
from ddgan.core.config import ConfigError, flatten, validate
from ddgan.core.hardware import memory_use
from ddgan.core.sample_grids import grid_sample_count, save_sample_picture
from ddgan.core.sampler import Sampler
from ddgan.core.training_scores import build_periodic_score

TRACKER_PROJECT = "tensorboard"       # accelerate writes TensorBoard events into <run_dir>/<project>/
BEST_SNAPSHOT_FILE = "snapshot-best.pt"
SAMPLES_DIR = "samples"
GRID_SEED_OFFSET = 12345              # the grid's generator seed is train.seed + this, every time
EVAL_SEED_OFFSET = 54321
GRID_COST_WARNING = 0.05
# the early warning about a run too large for the machine: measured over the first PACE_STEPS steps (or
# the first, when it is slower than PACE_SLOW_STEP seconds), given when the rest would take longer than
# PACE_WARNING_HOURS, or when the run already holds more than MEMORY_WARNING_SHARE of the device's memory
# (after its first steps a run holds what it will hold: weights, optimiser state and one step's activations);
# the preset it names has at most SMALLER_PRESET_SHARE of the run's parameters
PACE_STEPS = 3
PACE_SLOW_STEP = 60.0
PACE_WARNING_HOURS = 24
MEMORY_WARNING_SHARE = 0.75
SMALLER_PRESET_SHARE = 0.25


def tracker_for(train):
    """The `log_with` of accelerate's Accelerator for train.log_with (None for none), once its package
    is known to be there, so a missing extra stops the run before any work starts (the values are
    checked by the train section's schema, ddgan.core.config)."""
    name = train["log_with"]
    if name == "none":
        return None
    try:
        module = importlib.import_module(name)
    except ImportError:
        raise ConfigError(f"train.log_with={name} needs the {name} package: pip install 'ddgan[{name}]'") from None
    if name == "wandb" and os.environ.get("WANDB_MODE") not in ("offline", "disabled") \
            and not module.login(prompt=False):
        raise ConfigError("train.log_with=wandb: not logged in to Weights & Biases; run `wandb login`, "
                          "or set WANDB_MODE=offline to keep the run on disk (`wandb sync` uploads it later)")
    return name


def run_layout_lines(run_dir, train):
    """Where this run's grids, logs, trackers and snapshots go, one line each (for the start-up summary)."""
    run_dir = Path(run_dir)
    lines = [f"log:        {run_dir / 'log.jsonl'} (losses every {train['log_every']} steps"
             f"{', eval/* rows every ' + str(train['eval_every']) if train['eval_every'] else ''})",
             f"snapshots:  {run_dir / 'snapshot.pt'} (latest EMA)"
             + (f", {run_dir / BEST_SNAPSHOT_FILE} (best periodic score)" if train["eval_every"] else "")]
    if train["sample_every"]:
        lines.append(f"samples:    {run_dir / SAMPLES_DIR}/step-<step>.png every {train['sample_every']} steps "
                     "and at the end")
    if train["log_with"] == "tensorboard":
        lines.append(f"tensorboard: tensorboard --logdir {run_dir.parent}   (events in {run_dir / TRACKER_PROJECT})")
    elif train["log_with"] == "wandb":
        lines.append(f"wandb:      project {run_dir.name!r}, files in {run_dir / 'wandb'}")
    return lines


def duration(seconds):
    """'3.2 days', '5.1 hours', '12 minutes'."""
    for unit, length in (("years", 365 * 86400), ("days", 86400), ("hours", 3600)):
        if seconds >= 2 * length:
            return f"{seconds / length:.3g} {unit}"
    return f"{seconds / 60:.0f} minutes"


def smaller_preset(config, method):
    """The registered preset with the same method and data shape as `config` and the fewest parameters,
    when it has at most SMALLER_PRESET_SHARE of `method`'s (networks built on the meta device), else None."""
    from ddgan.base import registry
    from ddgan.core.methods import build_method
    own = sum(p.numel() for p in method.parameters())
    best = None
    for name, factory in registry.presets().items():
        candidate = factory()
        if (candidate["method"]["name"] != config["method"]["name"]
                or list(candidate["data"]["shape"]) != list(config["data"]["shape"])):
            continue
        with torch.device("meta"):
            count = sum(p.numel() for p in build_method(validate(candidate)).parameters())
        if count <= SMALLER_PRESET_SHARE * own and (best is None or count < best[1]):
            best = (name, count)
    return best[0] if best else None


def tracker_config(config):
    """The flat config as tracker hyper-parameters: scalars as they are, anything else as JSON text."""
    return {k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v) for k, v in flatten(config).items()}


class TrainingMonitor:
    """Built from a Trainer; the trainer calls on_start() after resuming, after_step() after every
    step, throughput()/log_scalars() when it logs, and on_end() when the loop ends."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.train = trainer.config["train"]
        self.accelerator = trainer.accelerator
        self.main = trainer.accelerator.is_main_process
        self.run_dir = Path(trainer.run_dir)
        self.log_path = self.run_dir / "log.jsonl"
        self.sampler = None
        self.score = None
        self.best = None                   # {"name", "value", "lower_is_better"} of snapshot-best.pt
        self.watch_seconds = 0.0           # time spent sampling and scoring (not training) since started
        self.started = self.start_step = None
        self.grid_cost_checked = False
        self.pace_checked = False

    # ---------------------------------------------------------------- start
    def on_start(self, announce=False):
        step = self.trainer.step
        error = None
        if self.main:
            self.sampler = Sampler(self.trainer.method, self.trainer.ema.net, self.trainer.config, str(self.run_dir))
            try:
                self.start_score()
            except ConfigError as raised:
                error = str(raised)
        # the score is set up on the main process only; a failure there stops every process
        errors = gather_object([error]) if self.accelerator.num_processes > 1 else [error]
        if any(errors):
            raise ConfigError(next(e for e in errors if e))
        if self.accelerator.log_with:
            self.start_trackers(step)
        if announce and self.main:
            for line in run_layout_lines(self.run_dir, self.train):
                print(line)
            if self.score is not None:
                print(f"eval:       {self.score.description}; best kept by {self.score.primary} "
                      f"({'lower' if self.score.lower_is_better else 'higher'} is better)")
        self.accelerator.wait_for_everyone()
        self.started, self.start_step, self.watch_seconds = time.time(), step, 0.0

    def start_score(self):
        if not self.train["eval_every"]:
            return
        self.score = build_periodic_score(self.trainer.config, self.trainer.batches.array, self.run_dir,
                                          self.trainer.device, batch_size=self.sample_batch())
        path = self.run_dir / BEST_SNAPSHOT_FILE
        stored = load_snapshot(path).get("score") if path.exists() else None
        if stored and stored["name"] == self.score.primary:
            self.best = stored
        elif stored:       # e.g. FID-2000 then FID-5000: not comparable, so the best starts again
            print(f"{path} holds the best {stored['name']}; this run keeps the best {self.score.primary}")

    def start_trackers(self, step):
        if self.train["log_with"] == "tensorboard":
            # purge_step hides the events logged after the checkpoint this run resumes from
            self.accelerator.init_trackers(TRACKER_PROJECT, init_kwargs={"tensorboard": {"purge_step": step + 1}
                                                                         if step else {}})
            if self.main:       # the config as text: TensorBoard's hparams would add a "run" per start-up
                self.accelerator.get_tracker("tensorboard").writer.add_text(
                    "config", "```\n" + json.dumps(self.trainer.config, indent=2) + "\n```", global_step=step)
        else:
            init = {"dir": str(self.run_dir), "name": self.trainer.config.get("name"), "resume": "allow",
                    "id": self.wandb_run_id()}
            self.accelerator.init_trackers(self.run_dir.name, config=tracker_config(self.trainer.config),
                                           init_kwargs={"wandb": init})

    def wandb_run_id(self):
        """One W&B run per run directory, so a resumed run continues its W&B run."""
        path = self.run_dir / "wandb-run-id.txt"
        if self.main and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{self.run_dir.name}-{int(time.time())}\n")
        return path.read_text().strip() if path.exists() else None

    # ---------------------------------------------------------------- every step
    def after_step(self, step, end):
        self.check_pace(step)
        every = self.train["sample_every"]
        # at the end too, whatever the length of the run
        sample_now = every and (step % every == 0 or step == end)
        eval_now = self.train["eval_every"] and step % self.train["eval_every"] == 0
        if not (sample_now or eval_now) or not self.trainer.method.can_sample(self.trainer.ema.net):
            return
        began = time.time()
        if self.main and sample_now:
            self.sample_grid(step)
            self.warn_if_grids_are_costly(step, time.time() - began)
        if self.main and eval_now:
            self.evaluate(step)
        self.accelerator.wait_for_everyone()
        self.watch_seconds += time.time() - began

    def check_pace(self, step):
        """Once, after PACE_STEPS steps (or a first step slower than PACE_SLOW_STEP seconds): a CPU run
        projected to take more than PACE_WARNING_HOURS, or a run holding more than MEMORY_WARNING_SHARE
        of its device's memory, says so in one line, with the measured pace and memory and a preset of
        the same method and data shape with far fewer parameters, if there is one."""
        steps = step - self.start_step
        seconds = time.time() - self.started - self.watch_seconds
        if self.pace_checked or not (steps >= PACE_STEPS or seconds >= PACE_SLOW_STEP):
            return
        self.pace_checked = True
        device = self.trainer.device
        remaining = (self.trainer.total_steps - step) * seconds / steps
        used, total = memory_use(device)
        too_slow = device.type == "cpu" and remaining >= 3600 * PACE_WARNING_HOURS
        too_big = used > MEMORY_WARNING_SHARE * total
        if not (too_slow or too_big) or not self.main:
            return
        problems = [f"the remaining {self.trainer.total_steps - step:,} steps would take {duration(remaining)}"
                    ] if too_slow else []
        if too_big:
            problems.append(f"it holds {used / 2**30:.1f} GiB of the {total / 2**30:.1f} GiB here")
        preset = smaller_preset(self.trainer.config, self.trainer.method)
        instead = f"; for this machine use a smaller preset: --preset {preset}" if preset else ""
        print(f"warning: {seconds / steps:.3g} s/step on this {device.type}: {' and '.join(problems)}{instead} "
              "(`ddgan presets` lists each preset's size and hardware)", flush=True)

    def warn_if_grids_are_costly(self, step, grid_seconds):
        """Once: a grid costing more than GRID_COST_WARNING of the training between two grids (e.g. a
        1000-step sampler on a small network) says so, with the fix."""
        steps = step - self.start_step
        if self.grid_cost_checked or steps < self.train["sample_every"]:
            return
        self.grid_cost_checked = True
        training = (time.time() - self.started - self.watch_seconds - grid_seconds) / steps
        cost = grid_seconds / (training * self.train["sample_every"])
        if cost > GRID_COST_WARNING:
            print(f"warning: one sample grid takes {grid_seconds:.1f} s, {100 * cost:.0f}% of the training time "
                  f"between grids; raise train.sample_every (or set it to null) to train faster")

    def sample_batch(self):
        """Samples per sampling call: the per-process training batch, which is known to fit in memory."""
        return self.trainer.batches.per_process

    def draw(self, n, seed):
        return torch.cat([x for _, x in self.sampler.batches(n, self.sample_batch(), seed)])

    def sample_grid(self, step):
        x = self.draw(grid_sample_count(self.trainer.method.data_shape), self.train["seed"] + GRID_SEED_OFFSET)
        path = self.run_dir / SAMPLES_DIR / f"step-{step:08d}.png"
        save_sample_picture(x, path, self.trainer.config["data"], title=f"step {step}")
        if self.accelerator.log_with:
            self.log_image("samples", path, step)

    def log_image(self, tag, path, step):
        from PIL import Image
        image = np.asarray(Image.open(path).convert("RGB"))
        for tracker in self.accelerator.trackers:
            if tracker.name == "tensorboard":
                tracker.writer.add_image(tag, image, global_step=step, dataformats="HWC")
            elif tracker.name == "wandb":
                import wandb
                tracker.run.log({tag: wandb.Image(image)}, step=step)

    def evaluate(self, step):
        began = time.time()
        values = self.score.score(self.draw(self.train["eval_samples"], self.train["seed"] + EVAL_SEED_OFFSET))
        row = {"step": step, **values, "eval_seconds": round(time.time() - began, 3)}
        with open(self.log_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        self.accelerator.log(values, step=step)
        value = values[self.score.primary]
        if self.score.better(value, self.best["value"] if self.best else None):
            self.best = {"name": self.score.primary, "value": value, "lower_is_better": self.score.lower_is_better}
            save_snapshot(self.run_dir / BEST_SNAPSHOT_FILE, self.trainer.config, step,
                          self.trainer.ema.net.state_dict(), score=self.best)

    # ---------------------------------------------------------------- logging
    def throughput(self, step):
        """images/s of training (sampling and scoring excluded) and the ETA (everything included)."""
        elapsed = time.time() - self.started
        steps = step - self.start_step
        training = max(elapsed - self.watch_seconds, 1e-9)
        remaining = self.trainer.total_steps - step
        return {"images_per_second": round(steps * self.trainer.batches.global_batch / training, 2),
                "eta_seconds": round(remaining * elapsed / steps, 3) if steps else None}

    def log_scalars(self, record):
        """Every number of a log row to the trackers (learning rates as lr/<optimiser>)."""
        if not self.accelerator.log_with:
            return
        scalars = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
        scalars.update({f"lr/{name}": lr for name, lr in record["lr"].items()})
        self.accelerator.log(scalars, step=record["step"])

    def on_end(self):
        if self.accelerator.log_with:
            self.accelerator.end_training()
