"""Where one training iteration of the CPU-scale networks spends its time, by component, and what a
memory format changes: before/after tables.

    python -m benchmarks.profile_training --threads 1                  # the cpu profile's StackedMNIST run
    python -m benchmarks.profile_training --networks ncsnpp-32 --threads 1   # NCSN++ at 32, small D at 32

Networks: `cpu` is the run `make table3 PROFILE=cpu` trains (the small conv U-Net generator and conv
discriminator, base 16 channels, 3x32x32, DDGAN T=4, batch 64); `ncsnpp-32` the cifar10 preset with
the paper's NCSN++ and small D at 32 base channels. Each variant (`contiguous`, the trainer's
default, and `channels_last`) runs the trainer's own optimisation step on the same initial weights
and batch: interleaved timed rounds of one R1 step and one plain step (R1 every lazy_reg-th), and one
round under torch.profiler, whose operators are grouped into components (forward and backward ops
apart: backward ops are the autograd nodes, e.g. ConvolutionBackward0). Results:
results/bench/training-profile-<networks>-<device>-<threads>t.md and .json, with the commit.
"""
import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from ddgan.base.provenance import git_commit, now, slug
from ddgan.base.timing import time_once
from benchmarks.timing import RESULTS, bench_config, machine, make_training_step, summarize, write_result
from reproduce.profiles import cpu_config

NETWORKS = {
    "cpu": lambda: cpu_config(bench_config("stackedmnist")),
    "ncsnpp-32": lambda: bench_config("cifar10", ["networks.generator.base_channels=32",
                                                  "networks.discriminator.ngf=32"]),
}
VARIANTS = {"contiguous": {"channels_last": False}, "channels_last": {"channels_last": True}}
GROUPS = {   # operator name fragments -> component, first match wins
    "convolution": "convolutions (incl. FIR resampling, which runs as depthwise conv2d)",
    "conv2d": "convolutions (incl. FIR resampling, which runs as depthwise conv2d)",
    "group_norm": "GroupNorm", "groupnorm": "GroupNorm",
    "attention": "attention", "bmm": "attention", "softmax": "attention",
    "addmm": "linear layers", "linear": "linear layers", "mm": "linear layers",
    "adam": "Adam", "_foreach": "EMA and Adam foreach updates", "lerp": "EMA",
    "silu": "activations", "leaky_relu": "activations", "gelu": "activations",
    "copy_": "copies and layout changes", "contiguous": "copies and layout changes", "clone": "copies and layout changes",
}


def group_of(name: str) -> str:
    lowered = name.lower()
    return next((group for fragment, group in GROUPS.items() if fragment in lowered), "other elementwise")


def operator_profile(optimisation, x_0) -> tuple[dict, list]:
    """Self CPU seconds per component and the top operators, over one R1 step and one plain step."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        optimisation.step(x_0, 0)
        optimisation.step(x_0, 1)
    ops = sorted(({"op": e.key, "self_cpu_s": e.self_cpu_time_total / 1e6, "calls": e.count}
                  for e in prof.key_averages()), key=lambda op: -op["self_cpu_s"])
    groups = {}
    for op in ops:
        groups[group_of(op["op"])] = groups.get(group_of(op["op"]), 0.0) + op["self_cpu_s"]
    return dict(sorted(groups.items(), key=lambda g: -g[1])), ops[:25]


def run_profile(networks="cpu", batch=64, variants=tuple(VARIANTS), repeats=5, warmup=2, progress=print) -> dict:
    device = torch.device("cpu")
    config = NETWORKS[networks]()
    lazy_reg = config["method"].get("lazy_reg") or 1
    steps = {name: make_training_step(config, device, batch, **VARIANTS[name]) for name in variants}
    for name, (optimisation, x_0) in steps.items():
        for step in range(warmup):
            optimisation.step(x_0, step)
    seconds = {f"{kind}/{name}": [] for kind in ("r1_step", "plain_step") for name in variants}
    for round_ in range(repeats):   # interleaved, so a slow spell of a shared machine hits every variant
        for name, (optimisation, x_0) in steps.items():
            seconds[f"r1_step/{name}"].append(time_once(lambda: optimisation.step(x_0, 0), device))
            seconds[f"plain_step/{name}"].append(time_once(lambda: optimisation.step(x_0, 1), device))
        progress(f"round {round_ + 1}/{repeats}: " + ", ".join(
            f"{name} {seconds[f'r1_step/{name}'][-1]:.3f} + {seconds[f'plain_step/{name}'][-1]:.3f} s" for name in variants))
    profiles = {}
    for name, (optimisation, x_0) in steps.items():
        groups, ops = operator_profile(optimisation, x_0)
        profiles[name] = {"groups": groups, "ops": ops}
    timings = {key: summarize(value) for key, value in seconds.items()}
    for name in variants:   # the iteration a run pays on average: one R1 step per lazy_reg steps
        timings[f"amortised/{name}"] = {"median": (timings[f"r1_step/{name}"]["median"]
                                                   + (lazy_reg - 1) * timings[f"plain_step/{name}"]["median"]) / lazy_reg}
    optimisation = steps[variants[0]][0]
    params = {name: sum(p.numel() for p in net.parameters()) for name, net in optimisation.method.networks.items()}
    return {"what": "one training iteration by component; interleaved timed rounds per memory format",
            "commit": git_commit(), "date": now(), **machine(device), "networks": networks, "config": config,
            "batch": batch, "lazy_reg": lazy_reg, "parameters": params, "variants": list(variants),
            "timings": timings, "profiles": profiles}


def markdown(results, command) -> str:
    variants, t = results["variants"], results["timings"]
    base = variants[0]
    nets = ", ".join(f"{name} {spec['arch']}" + (f" base {spec.get('base_channels') or spec.get('ngf')}"
                                                 if spec.get("base_channels") or spec.get("ngf") else "")
                     for name, spec in results["config"]["networks"].items())
    lines = [f"# One training iteration on {results['device']}: `{results['networks']}` networks", "",
             f"commit `{results['commit']}`, {results['date']}, torch {results['torch']}, {results['threads']} "
             f"thread(s); `{results['config']['name']}` ({nets}), data {results['config']['data']['shape']}, "
             f"batch {results['batch']}, R1 every {results['lazy_reg']} steps; parameters {results['parameters']}.", "",
             f"Command: `{command}`", "",
             "Wall clock, interleaved rounds: median (min–max) over "
             f"{t[f'r1_step/{base}']['repeats']} rounds; amortised = (R1 step + {results['lazy_reg'] - 1} plain "
             f"steps) / {results['lazy_reg']}.", "",
             "| step | " + " | ".join(variants) + " | " + " | ".join(f"{v} vs {base}" for v in variants[1:]) + " |",
             "|---" * (2 * len(variants)) + "|"]
    for kind, label in (("r1_step", "with R1 (s)"), ("plain_step", "without R1 (s)")):
        cells = [f"{t[f'{kind}/{v}']['median']:.3f} ({t[f'{kind}/{v}']['min']:.3f}–{t[f'{kind}/{v}']['max']:.3f})"
                 for v in variants]
        ratios = []
        for v in variants[1:]:
            per_round = [b / a for a, b in zip(t[f"{kind}/{v}"]["seconds"], t[f"{kind}/{base}"]["seconds"])]
            ratios.append(f"{sorted(per_round)[len(per_round) // 2]:.2f}x ({min(per_round):.2f}–{max(per_round):.2f})")
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    lines.append("| amortised (s) | " + " | ".join(f"{t[f'amortised/{v}']['median']:.3f}" for v in variants) + " | "
                 + " | ".join(f"{t[f'amortised/{base}']['median'] / t[f'amortised/{v}']['median']:.2f}x"
                              for v in variants[1:]) + " |")
    components = list(results["profiles"][base]["groups"])
    for v in variants[1:]:
        components += [c for c in results["profiles"][v]["groups"] if c not in components]
    lines += ["", "Self CPU seconds by component over one R1 step and one plain step, under torch.profiler:", "",
              "| component | " + " | ".join(variants) + " |", "|---" * (len(variants) + 1) + "|"]
    for component in components:
        lines.append(f"| {component} | " + " | ".join(
            f"{results['profiles'][v]['groups'].get(component, 0.0):.3f}" for v in variants) + " |")
    lines += ["", f"Top operators ({base}):", "", "| operator | self CPU (s) | calls |", "|---|---|---|"]
    lines += [f"| `{op['op']}` | {op['self_cpu_s']:.3f} | {op['calls']} |" for op in results["profiles"][base]["ops"][:15]]
    return "\n".join(lines + [""])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_training", description=__doc__.splitlines()[0])
    parser.add_argument("--networks", choices=sorted(NETWORKS), default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed rounds (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = run_profile(args.networks, args.batch, repeats=args.repeats)
    command = "python -m benchmarks.profile_training " + " ".join(argv if argv is not None else sys.argv[1:])
    stem = Path(args.out) / f"training-profile-{args.networks}-cpu-{slug(results['cpu'])}-{results['threads']}t"
    write_result(stem, dict(results, command=command), markdown(results, command))
    print(markdown(results, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
