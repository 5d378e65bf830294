"""What watching a run costs: one sample grid against train.sample_every training iterations.

    python -m benchmarks.monitoring_cost                  # the paper cifar10 preset, one thread
    python -m benchmarks.monitoring_cost --threads 2 --repeats 3

Times (a) one training iteration of the preset at its per-process batch (R1 and plain steps, amortised
over lazy_reg as benchmarks.bench does) and (b) one grid as ddgan.core.monitoring draws it (the EMA
generator samples the grid's images through the Sampler, then the PNG is written). The overhead at
the default interval is grid / (sample_every x iteration). Random weights and data: the time does not
depend on them. Writes results/monitoring/<device>.json with the commit, date and thread count.
"""
import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

from ddgan.base.options import check_section
from ddgan.core.config import TRAIN_OPTIONS
from ddgan.base.provenance import git_commit, now, slug
from ddgan.base.timing import time_once
from ddgan.core.sample_grids import grid_sample_count, save_sample_picture
from ddgan.core.sampler import Sampler
from benchmarks.timing import bench_config, machine, make_training_step

RESULTS = Path(__file__).resolve().parent.parent / "results" / "monitoring"


def measure(preset, device, repeats, warmup, processes):
    commit = git_commit()        # before the minutes of timing, while the code that runs is checked out
    config = bench_config(preset)
    per_process = config["train"]["batch_size"] // processes
    optimisation, x_0 = make_training_step(config, device, per_process)
    sampler = Sampler(optimisation.method, optimisation.ema.net, config, "random weights")
    n = grid_sample_count(config["data"]["shape"])
    folder = Path(tempfile.mkdtemp(prefix="ddgan-grid-"))

    def grid():
        x = sampler.sample(n, torch.Generator(device).manual_seed(0))
        save_sample_picture(x, folder / "grid.png", config["data"])

    lazy_reg = config["method"].get("lazy_reg") or 1
    calls = {"r1_step": lambda: optimisation.step(x_0, 0), "plain_step": lambda: optimisation.step(x_0, 1),
             "grid": grid}
    seconds = {name: [] for name in calls}
    for round_ in range(warmup + repeats):
        for name, call in calls.items():
            elapsed = time_once(call, device)
            if round_ >= warmup:
                seconds[name].append(elapsed)
            print(f"round {round_}: {name} {elapsed:.2f} s", flush=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    step = (median["r1_step"] + (lazy_reg - 1) * median["plain_step"]) / lazy_reg
    every = check_section(TRAIN_OPTIONS, {}, "train.")["sample_every"]     # the option's default
    return {"what": "cost of one sample grid vs train.sample_every training iterations; seconds, wall clock",
            "commit": commit, "date": now(), **machine(device), "config": config["name"],
            "per_process_batch": per_process, "lazy_reg": lazy_reg, "grid_images": n, "sample_every": every,
            "seconds": seconds, "median": median, "amortised_step": step,
            "overhead_fraction": median["grid"] / (every * step)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cifar10")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--processes", type=int, default=4,
                        help="processes sharing the preset's global batch (the official cifar10 run: 4 GPUs x 64)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    result = measure(args.preset, device, args.repeats, args.warmup, args.processes)
    name = slug(result["device"]) if device.type == "cuda" else f"cpu-{slug(result['cpu'])}-{result['threads']}t"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{slug(result['config'])}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"grid {result['median']['grid']:.2f} s, iteration {result['amortised_step']:.2f} s (batch "
          f"{result['per_process_batch']}): overhead {100 * result['overhead_fraction']:.3f}% at sample_every="
          f"{result['sample_every']}; written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
