"""One training iteration of each cpu-profile network pair in float32 and under bf16 autocast, interleaved.

    python -m benchmarks.bench_cpu_precision                 # 2 threads, 20 rounds
    python -m benchmarks.bench_cpu_precision --rounds 5 --extra-generator stackedmnist:base_channels=32

Each round times one iteration of every (configuration, precision) in turn, so a change in the machine's
load reaches both precisions alike; figures are medians over rounds. An iteration is the trainer's own
optimisation step (ddgan.core.optimisation: D step, G step, Adam updates, EMA) on random data at the
profile's batch; for DDGAN, the lazy R1 step and a plain step are timed apart and combined as
(R1 + (lazy_reg - 1) plain) / lazy_reg. Writes results/bench/cpu-precision-<cpu>-<threads>t.{json,md}.
"""
import argparse
import statistics

import torch

from ddgan.core.config import apply_overrides, validate
from ddgan.core.hardware import bf16_support
from ddgan.base.provenance import cpu_model, git_commit, now, slug
from ddgan.base.timing import time_once
from benchmarks.timing import RESULTS, make_training_step, write_result
from reproduce.profiles import make_profile
from reproduce.targets import TRILEMMA_DATASET, get_target

PRECISIONS = ("float32", "bf16")


def cpu_profile_configs():
    """name -> run config of every training the cpu profile's targets run (float32 as written)."""
    profile = make_profile("cpu")
    configs = {}
    for target in ("table3", "trilemma"):
        for training in get_target(target, "cpu").trainings:
            config = profile.scale_config(training.config())
            # the iterations run on random batches: a built-in dataset of the same shape stands in for the user's
            # images, which need not be prepared on the machine that times them
            if config["data"]["dataset"] == TRILEMMA_DATASET:
                config["data"]["dataset"] = "cifar10"
            configs[f"{training.dataset} {training.run}"] = validate(config)
    return configs


class Iteration:
    """One configuration's optimisation step on random data, ready to be timed repeatedly."""

    def __init__(self, config, precision):
        self.optimisation, self.batch = make_training_step(config, torch.device("cpu"), config["train"]["batch_size"],
                                                           bf16=precision == "bf16")
        self.method = self.optimisation.method
        self.lazy_reg = config["method"].get("lazy_reg") or 1

    def seconds(self, step):
        return time_once(lambda: self.optimisation.step(self.batch, step))

    def amortised(self):
        """Seconds of one iteration averaged over the lazy-R1 cycle (an R1 step at 0, plain steps after)."""
        if self.lazy_reg == 1:
            return self.seconds(0)
        return (self.seconds(0) + (self.lazy_reg - 1) * self.seconds(1)) / self.lazy_reg


def interleaved_rounds(iterations, rounds, warmup=2):
    """key -> the amortised seconds of each round, every Iteration timed once per round in turn, so that a
    change in the machine's load reaches them all alike (after `warmup` untimed plain steps each)."""
    for iteration in iterations.values():
        for _ in range(warmup):
            iteration.seconds(1)
    times = {key: [] for key in iterations}
    for _ in range(rounds):
        for key, iteration in iterations.items():
            times[key].append(iteration.amortised())
    return times


def parameter_counts(method):
    return {name: sum(p.numel() for p in net.parameters()) for name, net in method.networks.items()}


def parameter_text(parameters):
    """{network: count} as a table cell: "generator 0.67M, discriminator 0.80M"."""
    return ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in parameters.items())


def run(configs, rounds, warmup=2):
    iterations = {(name, precision): Iteration(config, precision)
                  for name, config in configs.items() for precision in PRECISIONS}
    times = interleaved_rounds(iterations, rounds, warmup)
    rows = []
    for name, config in configs.items():
        f32, bf16 = (statistics.median(times[(name, p)]) for p in PRECISIONS)
        rows.append({"configuration": name, "parameters": parameter_counts(iterations[(name, "float32")].method),
                     "batch": config["train"]["batch_size"], "float32_s": f32, "bf16_s": bf16, "speedup": f32 / bf16,
                     "float32_all": times[(name, "float32")], "bf16_all": times[(name, "bf16")]})
    return rows


def markdown(rows, meta):
    lines = [f"# One training iteration, float32 against bf16 autocast ({meta['cpu']}, {meta['threads']} threads)", "",
             f"commit {meta['commit']}, {meta['date']}, torch {meta['torch']}, {meta['rounds']} interleaved rounds "
             f"(medians), bf16: {meta['bf16']}. `python -m benchmarks.bench_cpu_precision`", "",
             "| configuration | parameters | batch | float32 s | bf16 s | speed-up |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['configuration']} | {parameter_text(row['parameters'])} | {row['batch']} | "
                     f"{row['float32_s']:.3f} | {row['bf16_s']:.3f} | {row['speedup']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", action="append", default=[], help="time only configurations containing this")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=BASE:KEY=VALUE,...",
                        help="also time a variant of a configuration, e.g. 'wide=stackedmnist ddgan-T4:"
                             "networks.generator.base_channels=32'")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    support = bf16_support()
    if not support.available:
        raise SystemExit(f"bf16 is not available here: {support.reason}")
    configs = {name: c for name, c in cpu_profile_configs().items() if not args.only or any(o in name for o in args.only)}
    for extra in args.extra:
        name, rest = extra.split("=", 1)
        base, overrides = rest.split(":", 1)
        configs[name] = validate(apply_overrides(cpu_profile_configs()[base], overrides.split(",")))
    rows = run(configs, args.rounds)
    meta = {"cpu": cpu_model(), "threads": args.threads, "commit": git_commit(), "date": now(),
            "torch": torch.__version__, "rounds": args.rounds, "bf16": support.reason}
    text = markdown(rows, meta)
    print(text)
    if not args.no_write:
        stem = RESULTS / f"cpu-precision-{slug(meta['cpu'])}-{args.threads}t"
        write_result(stem, {**meta, "rows": rows}, text, indent=1)


if __name__ == "__main__":
    main()
