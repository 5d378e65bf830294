"""Speed of DDGAN on this machine: the paper's Time column and one training iteration.

    python -m benchmarks.bench                        # or `make bench`; cuda if present, else the CPU
    python -m benchmarks.bench --quick                # 3 repeats
    python -m benchmarks.bench --bf16 --channels-last --compile      # opt-in speed-ups (for GPUs)

(a) sampling: one batch of 100 CIFAR-10 images with the cifar10 preset at T = 4 (NFE 4) through
    the Sampler used for evaluation (EMA generator, inference mode, channels_last): the paper's
    Time column, 0.21 s on one V100.
(b) training: one iteration of the cifar10 preset through the trainer's own optimisation step
    (ddgan.core.optimisation: D step with real and generated pairs, G step, the Adam updates with the
    trainer's clipping and weight decay, the EMA update) at a small batch. R1 is applied
    every lazy_reg = 15 steps, so an R1 step and a plain step are timed separately and the
    amortised cost (R1 + 14 plain) / 15 is reported as well.

Weights and data are random: the time does not depend on them. Each figure is the median of the
repeats after warm-up, with min, max and the interquartile range; wall clock, with
torch.cuda.synchronize around every call on GPUs. Results go to results/bench/<device>.json and
.md with the commit, date, torch version and thread count.
"""
import argparse
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ddgan.base.provenance import git_commit, now, slug
from ddgan.base.timing import time_once
from benchmarks.timing import (PAPER_TIME_V100, RESULTS, bench_config, machine, make_sampler, make_training_step,
                               summarize, write_result)

# ---------------------------------------------------------------------------------------------
# the benchmark


def run_bench(config, device, *, overrides=(), images=100, batch=8, repeats=5, warmup=1, channels_last=False,
              bf16=False, compile=False, fused_adam=True, progress=True):
    """Time (a) sampling `images` images and (b) the R1 and plain training steps; returns a dict."""
    lazy_reg = config["method"].get("lazy_reg") or 1
    kinds = {"r1_step": 0} if lazy_reg == 1 else {"r1_step": 0, "plain_step": 1}
    sampler = make_sampler(config, device, bf16=bf16, compile=compile)
    optimisation, x_0 = make_training_step(config, device, batch, channels_last=channels_last, bf16=bf16,
                                           compile=compile, fused_adam=fused_adam)
    rng = torch.Generator(device=device).manual_seed(0)
    calls = {"sampling": lambda: sampler.sample(images, rng),
             **{kind: (lambda step=step: optimisation.step(x_0, step)) for kind, step in kinds.items()}}
    seconds = {name: [] for name in calls}
    with tqdm(total=len(calls) * (warmup + repeats), desc="bench", disable=not progress) as bar:
        for round_ in range(warmup + repeats):
            for name, call in calls.items():      # interleaved, so a slow spell of the machine hits all
                elapsed = time_once(call, device)
                if round_ >= warmup:
                    seconds[name].append(elapsed)
                bar.update(1)

    training = {kind: summarize(seconds[kind]) for kind in kinds}
    plain = training.get("plain_step", training["r1_step"])["median"]
    training.update(batch=batch, lazy_reg=lazy_reg,
                    amortised_median=(training["r1_step"]["median"] + (lazy_reg - 1) * plain) / lazy_reg,
                    adam="fused" if fused_adam else "torch default")
    return {
        "what": "DDGAN speed: (a) one batch of images at NFE = T, (b) one training iteration; seconds, wall clock",
        "commit": git_commit(), "date": now(), **machine(device),
        "config": config["name"], "overrides": list(overrides),
        "options": {"channels_last": channels_last, "bf16": bf16, "compile": compile, "fused_adam": fused_adam,
                    "warmup": warmup},
        "sampling": {"images": images, "nfe": sampler.nfe, "method": sampler.describe(), "channels_last": True,
                     **summarize(seconds["sampling"])},
        "training": training,
    }


def result_name(results):
    """File stem: the device, then every option that changes the figures."""
    if results["device_type"] == "cuda":
        name = slug(results["device"])
    else:
        name = f"cpu-{slug(results['cpu'])}-{results['threads']}t"
    if results["config"] != "cifar10-ddgan":
        name += f"-{slug(results['config'])}"
    if results["overrides"]:
        name += "-custom"
    defaults = {"fused_adam": True}   # the trainer's own setting is not named in the file
    name += "".join(f"-{slug(option)}" for option, on in results["options"].items()
                    if on is True and not defaults.get(option))
    if not results["options"].get("fused_adam", True):
        name += "-unfused-adam"
    return name


def _row(label, stats, per=None):
    return (f"| {label} | {stats['median']:.3f} | {stats['min']:.3f} | {stats['max']:.3f} "
            f"| {stats['q1']:.3f}–{stats['q3']:.3f} | {stats['repeats']} | {stats['median'] / per * 1e3:.1f} ms |")


def markdown(results):
    sampling, training = results["sampling"], results["training"]
    options = ", ".join(k for k, v in results["options"].items() if v is True) or "none"
    lines = [
        f"# DDGAN speed on {results['device']}",
        "",
        f"commit `{results['commit']}`, {results['date']}, torch {results['torch']}, "
        f"{results['threads']} thread{'s' if results['threads'] != 1 else ''}, "
        f"CPU {results['cpu']}; config `{results['config']}`"
        + (f" with {' '.join(results['overrides'])}" if results["overrides"] else "")
        + f"; options: {options}; Adam: {training['adam']}; "
        f"warm-up {results['options']['warmup']} round(s). Sampling in channels_last as `ddgan sample` runs it "
        "(the channels_last option is for training). Seconds, wall clock; median of the repeats (interleaved), "
        "min, max, interquartile range. Random weights and data.",
        "",
        "| measurement | median (s) | min | max | IQR | repeats | per image |",
        "|---|---|---|---|---|---|---|",
        _row(f"sample {sampling['images']} images, {sampling['method']} (NFE {sampling['nfe']})", sampling,
             sampling["images"]),
        _row(f"training iteration with R1, batch {training['batch']}", training["r1_step"], training["batch"]),
    ]
    if "plain_step" in training:
        lines.append(_row(f"training iteration without R1, batch {training['batch']}", training["plain_step"],
                          training["batch"]))
        lines.append(f"| amortised iteration, R1 every {training['lazy_reg']} steps | "
                     f"{training['amortised_median']:.3f} | | | | | "
                     f"{training['amortised_median'] / training['batch'] * 1e3:.1f} ms |")
    lines += ["", f"The paper's Time column: {PAPER_TIME_V100} s for 100 CIFAR-10 images at T = 4 on one V100.", ""]
    return "\n".join(lines)


def write_results(results, out_dir=RESULTS):
    return write_result(Path(out_dir) / result_name(results), results, markdown(results))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda if available)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 10 on GPUs, 5 on the CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed rounds first (default 2, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="3 repeats after 1 warm-up round")
    parser.add_argument("--batch", type=int, default=None, help="training batch (default 64 on GPUs, 8 on the CPU)")
    parser.add_argument("--images", type=int, default=100, help="images sampled at once (default 100, as the paper)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the generator")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--channels-last", action="store_true",
                        help="channels_last for training too (sampling always uses it, as `ddgan sample`)")
    parser.add_argument("--no-fused-adam", dest="fused_adam", action="store_false",
                        help="Adam without fused=True (the trainer uses the fused kernel)")
    parser.add_argument("--preset", default="cifar10", help="config to time (default cifar10, the paper's)")
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the JSON and markdown results")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"bench: error: --device {args.device}, but CUDA is not available here", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = device.type == "cuda"
    repeats = args.repeats or (3 if args.quick else 10 if gpu else 5)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    results = run_bench(bench_config(args.preset, args.set), device, overrides=args.set, images=args.images,
                        batch=args.batch or (64 if gpu else 8), repeats=repeats, warmup=warmup,
                        channels_last=args.channels_last, bf16=args.bf16, compile=args.compile,
                        fused_adam=args.fused_adam, progress=not args.quiet)
    json_path, md_path = write_results(results, args.out)
    print(markdown(results))
    print(f"written: {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
