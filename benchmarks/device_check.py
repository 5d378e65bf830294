"""The check to run the first time a GPU is at hand: the paper's Time column and training speed.

    make device-check                  # or: python -m benchmarks.device_check   (one CUDA GPU, < 8 minutes)

From a clean checkout, with no dataset (random weights and data: the time does not depend on them):
  sampling     100 CIFAR-10 images at T = 4 with the paper's generator (cifar10 preset, EMA-style
               eval Sampler, channels_last): float32, bf16 autocast, torch.compile (float32);
               warm-up, then >= 20 timed repeats, each between torch.cuda.synchronize calls. The
               paper's Time column: 0.21 s on one V100.
  ddpm         the DDPM baseline's 100 images (1000 steps, cifar10_ddpm): a few respaced runs of
               `steps` network evaluations are timed and the time per evaluation is scaled to 1000.
  training     one iteration of the cifar10 preset at batch 64 (D step, G step, Adam, EMA), float32
               and bf16, the R1 step and a plain step: seconds, images/s, peak GPU memory.
Every stage is guarded: a failure (an out-of-memory, a torch.compile error) is written down with its
message and the next stage runs; a time budget (--budget) skips what would start too late.
Results: results/bench/device-check-<gpu>.json and .md, with the commit, torch and CUDA versions.

Without a GPU it says so and runs a tiny version of the same stages (tiny networks, few repeats),
written to runs/device-check/ unless --out is given: it checks the plumbing, not the speed
(torch.compile is left out there unless --compile-on-cpu: compiling on a CPU takes minutes).
"""
import argparse
import sys
import time
import traceback
from pathlib import Path

import torch

from ddgan.base.provenance import git_commit, now, slug
from ddgan.base.timing import time_once
from ddgan.core.config import validate
from benchmarks.timing import (PAPER_TIME_V100, RESULTS, bench_config, machine, make_sampler, make_training_step,
                               timed, write_result)
from reproduce.profiles import tiny_network

DDPM_STEPS = 1000


class GuardedStages:
    """Runs named stages under a time budget, recording each one's result or its failure."""

    def __init__(self, budget_s: float, log=print):
        self.start, self.budget_s, self.log = time.perf_counter(), budget_s, log
        self.results = {}

    def run(self, name, fn):
        elapsed = time.perf_counter() - self.start
        if elapsed > self.budget_s:
            self.results[name] = {"status": "skipped", "reason": f"time budget of {self.budget_s:.0f} s spent"}
        else:
            try:
                self.results[name] = {"status": "ok", **fn()}
            except Exception as error:      # report and go on: a rare GPU session should yield what it can
                self.results[name] = {"status": "failed", "error": f"{type(error).__name__}: {error}",
                                      "traceback": traceback.format_exc(limit=4)}
        self.log(f"{name}: {self.results[name]['status']}"
                 + (f" ({self.results[name].get('error') or self.results[name].get('reason')})"
                    if self.results[name]["status"] != "ok" else ""))
        return self.results[name]


def reset_peak_memory(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device):
    return torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else None


def sampling_stage(config, device, images, warmup, repeats, *, bf16=False, compile=False):
    reset_peak_memory(device)
    sampler = make_sampler(config, device, bf16=bf16, compile=compile)
    rng = torch.Generator(device=device).manual_seed(0)
    first_call = time_once(lambda: sampler.sample(images, rng), device)    # compiles, if asked to
    stats = timed(lambda: sampler.sample(images, rng), device, warmup, repeats)
    return {"images": images, "nfe": sampler.nfe, "first_call_s": first_call, "peak_memory_gib": peak_memory_gib(device),
            **stats}


def ddpm_stage(config, device, images, steps, warmup, repeats):
    """DDPM's chain costs one network evaluation per step: time `steps` of them and scale to 1000."""
    reset_peak_memory(device)
    sampler = make_sampler(config, device)
    rng = torch.Generator(device=device).manual_seed(0)
    stats = timed(lambda: sampler.sample(images, rng, steps=steps), device, warmup, repeats)
    return {"images": images, "timed_steps": steps, "steps": DDPM_STEPS,
            "extrapolated_s": stats["median"] / steps * DDPM_STEPS, "peak_memory_gib": peak_memory_gib(device),
            **stats}


def training_stage(config, device, batch, warmup, repeats, *, bf16=False):
    reset_peak_memory(device)
    optimisation, x_0 = make_training_step(config, device, batch, bf16=bf16)
    r1 = timed(lambda: optimisation.step(x_0, 0), device, warmup, repeats)
    plain = timed(lambda: optimisation.step(x_0, 1), device, warmup, repeats)
    lazy_reg = config["method"].get("lazy_reg") or 1
    amortised = (r1["median"] + (lazy_reg - 1) * plain["median"]) / lazy_reg
    return {"batch": batch, "lazy_reg": lazy_reg, "r1_step": r1, "plain_step": plain, "amortised_s": amortised,
            "images_per_s": batch / amortised, "peak_memory_gib": peak_memory_gib(device)}


def tiny(config):
    """The same architectures at a few channels: the CPU version checks the plumbing only."""
    return dict(config, networks={name: tiny_network(spec) for name, spec in config["networks"].items()})


def ddpm_config():
    from baselines.presets import cifar10_config
    return validate(cifar10_config("ddpm"))


def run_check(device, *, gpu: bool, budget_s: float, compile_on_cpu: bool = False, log=print) -> dict:
    scale = (lambda config: config) if gpu else tiny
    images, batch = (100, 64) if gpu else (4, 4)
    warmup, repeats = (3, 20) if gpu else (1, 2)
    ddgan, ddpm = scale(bench_config("cifar10")), scale(ddpm_config())
    stages = GuardedStages(budget_s, log)
    stages.run("sampling_float32", lambda: sampling_stage(ddgan, device, images, warmup, repeats))
    stages.run("sampling_bf16", lambda: sampling_stage(ddgan, device, images, warmup, repeats, bf16=True))
    train_repeats = 10 if gpu else repeats
    stages.run("training_float32", lambda: training_stage(ddgan, device, batch, warmup, train_repeats))
    stages.run("training_bf16", lambda: training_stage(ddgan, device, batch, warmup, train_repeats, bf16=True))
    stages.run("ddpm_float32", lambda: ddpm_stage(ddpm, device, images, 20 if gpu else 2, 1, 3 if gpu else 1))
    # last: compiling can take minutes or fail, and must not cost the figures above
    if gpu or compile_on_cpu:
        stages.run("sampling_compile", lambda: sampling_stage(ddgan, device, images, warmup, repeats, compile=True))
    else:
        stages.results["sampling_compile"] = {"status": "skipped", "reason": "no GPU (on the CPU compiling takes "
                                              "minutes; --compile-on-cpu runs it)"}
    return {"what": "device check: DDGAN sampling (the paper's Time column), DDPM's 1000 steps, one training "
                    "iteration; seconds, wall clock, synchronised", "gpu_found": gpu,
            "commit": git_commit(), "date": now(), **machine(device), "config": ddgan["name"],
            "scale": "paper networks" if gpu else "tiny networks (no GPU found: plumbing only)",
            "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
            "budget_s": budget_s, "total_s": time.perf_counter() - stages.start, "stages": stages.results}


def markdown(results) -> str:
    s = results["stages"]
    lines = [f"# Device check on {results['device']}", "",
             f"commit `{results['commit']}`, {results['date']}, torch {results['torch']}"
             + (f", CUDA {results['cuda']}" if results.get("cuda") else "")
             + f"; {results['scale']}; total {results['total_s']:.0f} s; TF32 matmul {results['tf32']['matmul']}, "
             f"cuDNN {results['tf32']['cudnn']} (torch's defaults). Random weights and data; seconds, "
             "wall clock with synchronisation; median (min–max) of the timed repeats after warm-up.", ""]
    if not results["gpu_found"]:
        lines += ["**No GPU was found**: these figures come from tiny networks on the CPU and say nothing about "
                  "speed.", ""]
    lines += ["| stage | median (s) | min–max | repeats | per image / note | peak memory (GiB) |",
              "|---|---|---|---|---|---|"]
    for name, stage in s.items():
        if stage["status"] != "ok":
            lines.append(f"| {name} | {stage['status']} | | | {stage.get('error') or stage.get('reason')} | |")
            continue
        memory = f"{stage['peak_memory_gib']:.2f}" if stage.get("peak_memory_gib") is not None else "–"
        if name.startswith("training"):
            for kind in ("r1_step", "plain_step"):
                k = stage[kind]
                lines.append(f"| {name} {kind}, batch {stage['batch']} | {k['median']:.3f} | {k['min']:.3f}–"
                             f"{k['max']:.3f} | {k['repeats']} | {stage['batch'] / k['median']:.1f} images/s | "
                             f"{memory} |")
            lines.append(f"| {name} amortised (R1 every {stage['lazy_reg']}) | {stage['amortised_s']:.3f} | | | "
                         f"{stage['images_per_s']:.1f} images/s | |")
        elif name.startswith("ddpm"):
            lines.append(f"| {name}: {stage['images']} images, {stage['timed_steps']} steps | {stage['median']:.3f} "
                         f"| {stage['min']:.3f}–{stage['max']:.3f} | {stage['repeats']} | "
                         f"{stage['steps']} steps: {stage['extrapolated_s']:.2f} s | {memory} |")
        else:
            lines.append(f"| {name}: {stage['images']} images, NFE {stage['nfe']} | {stage['median']:.3f} | "
                         f"{stage['min']:.3f}–{stage['max']:.3f} | {stage['repeats']} | "
                         f"{stage['median'] / stage['images'] * 1e3:.2f} ms | {memory} |")
    lines += ["", f"The paper's Time column: {PAPER_TIME_V100} s for 100 CIFAR-10 images at T = 4 on one V100.", ""]
    return "\n".join(lines)


def write(results, out_dir) -> Path:
    name = slug(results["device"]) if results["gpu_found"] else f"cpu-{slug(results['cpu'])}-tiny"
    stem = Path(out_dir) / f"device-check-{name}"
    write_result(stem, results, markdown(results))
    return stem


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device_check", description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds after which the remaining stages are skipped (default 420)")
    parser.add_argument("--out", help=f"folder for the results (default {RESULTS} on a GPU, runs/device-check "
                                      "on the CPU)")
    parser.add_argument("--compile-on-cpu", action="store_true", help="without a GPU, time torch.compile too")
    args = parser.parse_args(argv)
    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    if not gpu:
        print("device check: no GPU found (torch.cuda.is_available() is False); running the tiny CPU version, "
              "which checks the plumbing and measures nothing of interest")
    else:
        torch.backends.cudnn.benchmark = True
    results = run_check(device, gpu=gpu, budget_s=args.budget, compile_on_cpu=args.compile_on_cpu)
    stem = write(results, args.out or (RESULTS if gpu else Path("runs") / "device-check"))
    print(markdown(results))
    print(f"written: {stem}.json and {stem}.md")
    failed = [name for name, stage in results["stages"].items() if stage["status"] != "ok"]
    if failed:
        print(f"device check: {len(failed)} stage(s) did not finish: {', '.join(failed)} (see the files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
