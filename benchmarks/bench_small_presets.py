"""One training iteration of each small image preset (ddgan.small_presets, the CPU's), interleaved.

    python -m benchmarks.bench_small_presets                       # 2 threads, 10 rounds
    python -m benchmarks.bench_small_presets --variant "small32, conv D=small32:networks.discriminator.arch=..."

The bar of the small presets: at most 1 s per iteration at batch 64 on a 2-core CPU. Each round times one
iteration of every preset in turn (the trainer's own optimisation step on random data, in the precision
the preset's train.mixed_precision "auto" picks here; DDGAN's lazy R1 step amortised over its cycle), so a
change in the machine's load reaches all alike; figures are medians over rounds.
Writes results/bench/small-presets-<cpu>-<threads>t.{json,md}.
"""
import argparse
import statistics

import torch

from benchmarks.bench_cpu_precision import Iteration, interleaved_rounds, parameter_counts, parameter_text
from benchmarks.timing import RESULTS, write_result
from ddgan.base.provenance import cpu_model, git_commit, now, slug
from ddgan.core.config import apply_overrides, validate
from ddgan.core.trainer import resolve_mixed_precision
from ddgan.presets import get_preset
from ddgan.small_presets import SMALL_SIZES

PRESETS = tuple(f"small{size}{suffix}" for size in SMALL_SIZES for suffix in ("", "_ddpm"))
BAR_SECONDS = 1.0


def run(configs, rounds, precision, warmup=2):
    iterations = {name: Iteration(config, precision) for name, config in configs.items()}
    times = interleaved_rounds(iterations, rounds, warmup)
    return [{"configuration": name, "parameters": parameter_counts(iterations[name].method),
             "batch": configs[name]["train"]["batch_size"], "seconds": statistics.median(times[name]),
             "all": times[name]} for name in configs]


def markdown(rows, meta):
    lines = [f"# One training iteration of each small preset ({meta['cpu']}, {meta['threads']} threads, "
             f"{meta['precision']})", "",
             f"commit {meta['commit']}, {meta['date']}, torch {meta['torch']}, {meta['rounds']} interleaved rounds "
             f"(medians). The bar: {BAR_SECONDS:g} s at batch 64. `python -m benchmarks.bench_small_presets`", "",
             "| configuration | parameters | batch | s / iteration | range |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['configuration']} | {parameter_text(row['parameters'])} | {row['batch']} | "
                     f"{row['seconds']:.3f} | {min(row['all']):.3f}-{max(row['all']):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PRESET:KEY=VALUE;...",
                        help="also time a variant of a preset (overrides separated by ';', values as --set)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = {name: validate(get_preset(name)) for name in PRESETS}
    for variant in args.variant:
        name, rest = variant.split("=", 1)
        preset, overrides = rest.split(":", 1)
        configs[name] = validate(apply_overrides(get_preset(preset), overrides.split(";")))
    precision = resolve_mixed_precision("auto")
    rows = run(configs, args.rounds, "bf16" if precision == "bf16" else "float32")
    meta = {"cpu": cpu_model(), "threads": args.threads, "commit": git_commit(), "date": now(),
            "torch": torch.__version__, "rounds": args.rounds, "precision": "bf16" if precision == "bf16" else "float32",
            "variants": args.variant}
    text = markdown(rows, meta)
    print(text)
    if not args.no_write:
        write_result(RESULTS / f"small-presets-{slug(meta['cpu'])}-{args.threads}t", {**meta, "rows": rows}, text,
                     indent=1)
    return rows


if __name__ == "__main__":
    main()
