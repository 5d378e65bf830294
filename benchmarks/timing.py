"""What every benchmark shares: timing and summaries of repeats, the machine the figures were taken on,
the result files, and the two things most of them time (the evaluation sampler and the trainer's
optimisation step) around freshly initialised networks. Weights and data are random: the time does not
depend on them."""
import json
import platform
import statistics
from functools import partial
from pathlib import Path

import torch

from ddgan.base.provenance import cpu_model, device_name
from ddgan.base.timing import time_once
from ddgan.core.config import apply_overrides, validate
from ddgan.core.methods import build_method
from ddgan.core.optimisation import Optimisation
from ddgan.core.sampler import Sampler
from ddgan.presets import get_preset

PAPER_TIME_V100 = 0.21   # seconds for 100 CIFAR-10 images at T = 4 (Table 1)
RESULTS = Path(__file__).resolve().parent.parent / "results" / "bench"


# ---------------------------------------------------------------------------------------------
# timing


def summarize(seconds):
    """Median, spread and the raw repeats (seconds)."""
    q1, _, q3 = statistics.quantiles(seconds, n=4, method="inclusive") if len(seconds) > 1 else seconds * 3
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds), "q1": q1, "q3": q3,
            "repeats": len(seconds), "seconds": list(seconds)}


def timed(fn, device, warmup, repeats):
    """summarize() of `repeats` timed calls of fn() after `warmup` untimed ones."""
    for _ in range(warmup):
        time_once(fn, device)
    return summarize([time_once(fn, device) for _ in range(repeats)])


# ---------------------------------------------------------------------------------------------
# where the figures were taken and where they go


def machine(device):
    """Where the figures were taken."""
    name = device_name(device) if device.type == "cuda" else f"{cpu_model()} CPU"
    info = {"device": name, "device_type": device.type, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu": cpu_model(), "python": platform.python_version()}
    if device.type == "cuda":
        info["cuda"] = torch.version.cuda
    return info


def write_result(stem, results, markdown, indent=2):
    """<stem>.json (the results) and <stem>.md (their table); returns the two paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=indent) + "\n")
    stem.with_suffix(".md").write_text(markdown)
    return stem.with_suffix(".json"), stem.with_suffix(".md")


# ---------------------------------------------------------------------------------------------
# what is timed


def bench_config(preset="cifar10", overrides=()):
    return validate(apply_overrides(get_preset(preset), list(overrides)))


def make_sampler(config, device, *, channels_last=True, bf16=False, compile=False):
    """The evaluation Sampler around a freshly initialised generator (standing in for the EMA copy),
    channels_last by default as ddgan.sampling.load_sampler builds it."""
    method = build_method(config, sampling_only=True).to(device)
    net = method.networks[method.sampling_network]
    return Sampler(method, torch.compile(net) if compile else net, config, "random weights",
                   channels_last=channels_last, bf16=bf16)


def make_training_step(config, device, batch, *, channels_last=False, bf16=False, compile=False, fused_adam=True,
                       seed=0):
    """The trainer's own optimisation step (ddgan.core.optimisation: the method's training step, the Adam
    updates with the trainer's clipping and weight decay, the EMA update) around freshly initialised
    networks, and a random batch to run it on: `optimisation.step(x_0, step)`, where `step` chooses
    whether R1 applies (step % lazy_reg == 0)."""
    torch.manual_seed(seed)
    method = build_method(config).to(device)
    # the layout first, so that the EMA copy shares it (as train.channels_last does in the trainer)
    method.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    optimisation = Optimisation(method, config["optim"], fused=fused_adam,
                                autocast=partial(torch.autocast, device.type, dtype=torch.bfloat16, enabled=bf16))
    x_0 = torch.rand(batch, *config["data"]["shape"], device=device) * 2 - 1   # as the trainer: batches as loaded
    if compile:
        # the generator only: R1 differentiates D twice, which compiled graphs do not support
        method.networks[method.sampling_network] = torch.compile(method.networks[method.sampling_network])
    return optimisation, x_0
