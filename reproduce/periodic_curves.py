"""The periodic scores of training runs against the step: one CSV and one figure from their log.jsonl.

    python -m reproduce.periodic_curves results/cpu/stackedmnist-long \\
        "A diversity 0.1=~/runs/cpu/stackedmnist/ddgan-T4" "B no diversity=~/runs/cpu-B/stackedmnist/ddgan-T4"

For every run (label=run directory): each `eval/*` row of its log (the trainer's periodic evaluation, every
train.eval_every steps) and the wall-clock seconds of training at that step. Writes <stem>.csv (one row per
run and step), <stem>.json (each run's config.json and the commit that drew the curves) and <stem>.png (one
panel per score, a line per run; the reference line of a panel is the training data's score, when given).
"""
import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ddgan.base.provenance import git_commit, now  # noqa: E402

PANELS = (("eval/modes", "modes (of 1000)"), ("eval/kl", "KL to uniform"),
          ("eval/confident_fraction", "confident fraction"))


def periodic_rows(run_dir: Path) -> list[dict]:
    """The eval rows of a run's log with the training seconds reached at their step."""
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    seconds = {row["step"]: row["seconds"] for row in rows if "seconds" in row}
    return [{**row, "train_seconds": seconds.get(row["step"])} for row in rows if any(k.startswith("eval/") for k in row)]


def write_curves(stem: Path, runs: dict, reference: dict | None = None) -> list[Path]:
    curves = {label: periodic_rows(Path(run_dir).expanduser()) for label, run_dir in runs.items()}
    stem.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted({key for rows in curves.values() for row in rows for key in row if key.startswith("eval/")})
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "step", "train_seconds", *keys])
        for label, rows in curves.items():
            for row in rows:
                writer.writerow([label, row["step"], row["train_seconds"], *(row.get(k, "") for k in keys)])
    provenance = {"drawn_at_commit": git_commit(), "date": now(), "reference": reference,
                  "runs": {label: {"run_dir": str(run_dir), "config": json.loads(
                      (Path(run_dir).expanduser() / "config.json").read_text())} for label, run_dir in runs.items()}}
    stem.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n")
    samples = sorted({run["config"].get("train", {}).get("eval_samples") for run in provenance["runs"].values()} - {None})
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    if samples:
        figure.suptitle(f"scores of {' / '.join(f'{n:,}' for n in samples)} samples per evaluation", fontsize=9)
    for axis, (key, title) in zip(axes, PANELS):
        for label, rows in curves.items():
            points = [(row["step"], row[key]) for row in rows if key in row]
            axis.plot(*zip(*points), marker="o", markersize=3, label=label)
        if reference and key in reference:
            axis.axhline(reference[key], color="grey", linestyle="--", linewidth=1, label="training data")
        axis.set_title(title)
        axis.set_xlabel("training step")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(stem.with_suffix(".png"), dpi=110)
    plt.close(figure)
    return [stem.with_suffix(suffix) for suffix in (".csv", ".json", ".png")]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reproduce.periodic_curves", description=__doc__.splitlines()[0])
    parser.add_argument("stem", type=Path, help="output path without suffix")
    parser.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    parser.add_argument("--reference", type=json.loads, default=None,
                        help='the training data\'s scores, e.g. \'{"eval/modes": 1000, "eval/confident_fraction": 0.94}\'')
    args = parser.parse_args(argv)
    runs = dict(run.split("=", 1) for run in args.runs)
    for path in write_curves(args.stem, runs, args.reference):
        print(path)


if __name__ == "__main__":
    main()
