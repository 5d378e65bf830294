"""Where one training iteration of the reduced-width networks spends its time, by operator.

    python -m reproduce.profile_training --threads 1      # NCSN++ at 32 channels, small D at 32, batch 64

The cifar10 preset with the widths a CPU-scale run uses (generator base_channels 32, discriminator
ngf 32), one R1 step and one plain step (R1 every 15th) after a warm-up, under torch.profiler. The
table gives each operator's self CPU time summed over both steps (forward and backward ops apart:
backward ops are the autograd nodes, e.g. ConvolutionBackward0), and the groups the operators
belong to (FIR resampling, GroupNorm, convolutions, attention, Adam, EMA). Results:
results/bench/training-profile-<device>.md and .json, with the commit.
"""
import argparse
import json
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from ddgan.core.provenance import git_commit, now
from reproduce.bench import RESULTS, bench_config, machine, make_training_step, slug, time_once

REDUCED_WIDTH = ["networks.generator.base_channels=32", "networks.discriminator.ngf=32"]
GROUPS = {   # operator name fragments -> component, first match wins
    "convolution": "convolutions (incl. FIR resampling, which runs as depthwise conv2d)",
    "conv2d": "convolutions (incl. FIR resampling, which runs as depthwise conv2d)",
    "group_norm": "GroupNorm", "groupnorm": "GroupNorm",
    "attention": "attention", "bmm": "attention", "softmax": "attention",
    "addmm": "linear layers", "linear": "linear layers", "mm": "linear layers",
    "adam": "Adam", "_foreach": "EMA and Adam foreach updates", "lerp": "EMA",
    "silu": "activations", "leaky_relu": "activations", "gelu": "activations",
}


def group_of(name: str) -> str:
    lowered = name.lower()
    return next((group for fragment, group in GROUPS.items() if fragment in lowered), "other elementwise / copies")


def run_profile(batch=64, overrides=REDUCED_WIDTH, warmup=1) -> dict:
    device = torch.device("cpu")
    config = bench_config("cifar10", overrides)
    optimisation, x_0 = make_training_step(config, device, batch)
    for step in range(warmup):
        optimisation.step(x_0, step)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        seconds = {"r1_step": time_once(lambda: optimisation.step(x_0, 0), device),
                   "plain_step": time_once(lambda: optimisation.step(x_0, 1), device)}
    ops = sorted(({"op": e.key, "self_cpu_s": e.self_cpu_time_total / 1e6, "calls": e.count}
                  for e in prof.key_averages()), key=lambda op: -op["self_cpu_s"])
    groups = {}
    for op in ops:
        groups[group_of(op["op"])] = groups.get(group_of(op["op"]), 0.0) + op["self_cpu_s"]
    params = {name: sum(p.numel() for p in net.parameters()) for name, net in optimisation.method.networks.items()}
    return {"what": "self CPU time per operator over one R1 step and one plain training step", "commit": git_commit(),
            "date": now(), **machine(device), "config": config["name"], "overrides": list(overrides), "batch": batch,
            "parameters": params, "seconds": seconds, "groups": dict(sorted(groups.items(), key=lambda g: -g[1])),
            "ops": ops[:40]}


def markdown(results, command) -> str:
    total = sum(results["groups"].values())
    lines = [f"# One training iteration on {results['device']}, by operator", "",
             f"commit `{results['commit']}`, {results['date']}, torch {results['torch']}, {results['threads']} "
             f"thread(s); `{results['config']}` with {' '.join(results['overrides'])}, batch {results['batch']}; "
             f"parameters {results['parameters']}. Wall clock under the profiler: R1 step "
             f"{results['seconds']['r1_step']:.2f} s, plain step {results['seconds']['plain_step']:.2f} s.", "",
             f"Command: `{command}`", "", "| component | self CPU (s) | share |", "|---|---|---|"]
    lines += [f"| {group} | {s:.2f} | {s / total:.0%} |" for group, s in results["groups"].items()]
    lines += ["", "| operator | self CPU (s) | calls |", "|---|---|---|"]
    lines += [f"| `{op['op']}` | {op['self_cpu_s']:.3f} | {op['calls']} |" for op in results["ops"][:20]]
    return "\n".join(lines + [""])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reproduce.profile_training", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = run_profile(args.batch)
    command = "python -m reproduce.profile_training " + " ".join(argv if argv is not None else sys.argv[1:])
    stem = Path(args.out) / f"training-profile-cpu-{slug(results['cpu'])}-{results['threads']}t"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(dict(results, command=command), indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(results, command))
    print(markdown(results, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
