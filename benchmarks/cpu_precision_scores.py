"""Do float32 and bf16 training reach the same scores? One short run of a preset in each precision.

    python -m benchmarks.cpu_precision_scores                      # stacked_digits, 1500 steps, 2 threads
    python -m benchmarks.cpu_precision_scores --steps 500 --threads 1

Both runs start from the same seed (same initial weights and batches) and score their EMA generator every
--eval-every steps through the trainer's periodic evaluation (modes, KL, confident_fraction of
--eval-samples samples for stacked digits). Trajectories of two precisions part after a few steps, so the
question is whether the scores agree within the spread of one run's own scores, not bit for bit. Each run
goes in its own process (a process holds one precision setting). Writes
results/bench/cpu-precision-scores-<preset>-<cpu>.{json,md}.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.timing import RESULTS, write_result
from ddgan.base.provenance import cpu_model, git_commit, now, slug

PRECISIONS = ("no", "bf16")


def train(preset, precision, steps, eval_every, eval_samples, threads, run_dir):
    """Trains in a subprocess; returns (the periodic eval rows, wall-clock seconds)."""
    command = [sys.executable, "-m", "ddgan", "train", "--preset", preset, "--run-dir", str(run_dir), "--set",
               f"train.steps={steps}", f"train.mixed_precision={precision}", f"train.eval_every={eval_every}",
               f"train.eval_samples={eval_samples}", "train.sample_every=null"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    seconds = time.perf_counter() - started
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [row for row in rows if any(key.startswith("eval/") for key in row)], seconds


def markdown(preset, results, meta):
    lines = [f"# {preset}: float32 against bf16 training, the same seed ({meta['cpu']})", "",
             f"commit {meta['commit']}, {meta['date']}, {meta['steps']} steps, scores of {meta['eval_samples']} samples "
             f"every {meta['eval_every']} steps. `python -m benchmarks.cpu_precision_scores`", "",
             "| step | " + " | ".join(f"{p} {k}" for k in ("modes", "KL", "confident") for p in ("float32", "bf16")) + " |",
             "|---" * 7 + "|"]
    by_step = {p: {row["step"]: row for row in results[p]["rows"]} for p in PRECISIONS}
    for step in sorted(by_step["no"]):
        cells = [f"{by_step[p][step][key]:.{digits}f}" if step in by_step[p] else "-"
                 for key, digits in (("eval/modes", 0), ("eval/kl", 3), ("eval/confident_fraction", 3))
                 for p in PRECISIONS]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", f"wall clock: float32 {results['no']['seconds']:.0f} s, bf16 {results['bf16']['seconds']:.0f} s "
              "(whole runs, evaluations included)"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="stacked_digits")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-samples", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for precision in PRECISIONS:
            rows, seconds = train(args.preset, precision, args.steps, args.eval_every, args.eval_samples,
                                  args.threads, Path(work) / precision)
            results[precision] = {"rows": rows, "seconds": seconds}
    meta = {"cpu": f"{cpu_model()}, {args.threads} threads", "commit": git_commit(), "date": now(), "steps": args.steps,
            "eval_every": args.eval_every, "eval_samples": args.eval_samples, "preset": args.preset}
    text = markdown(args.preset, results, meta)
    print(text)
    if not args.no_write:
        write_result(RESULTS / f"cpu-precision-scores-{slug(args.preset)}-{slug(meta['cpu'])}",
                     {**meta, "results": results}, text, indent=1)


if __name__ == "__main__":
    main()
