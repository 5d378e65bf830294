"""What an image run looks like along the way: its sample grids at chosen steps beside its training images,
each with the training time it took and the FID-N of that step's snapshot.

    ddgan eval --checkpoint RUN/snapshot.pt --dataset mine --metrics fid --n-samples 2000 --out fid.jsonl
    python -m reproduce.run_progress results/small-presets/own-images-small32 ~/runs/own/small32 \\
        --steps 500,1000,2000,4000 --dataset mine --evals fid.jsonl

The grids are the trainer's (RUN/samples/step-*.png: the EMA network, one fixed seed, so the frames show
the same draws evolving); a panel shows a grid's top-left 4 x 4 images. FID-N values are the `ddgan eval`
records (any number of JSON-lines files) whose `step` is the panel's step and whose config computes what
the run's does (a snapshot taken before the run was resumed with more steps counts).
Writes <stem>.csv (step, training seconds, FID), <stem>.json (the run's config, the eval records'
commits and the commit that drew the figure) and <stem>.png.
"""
import argparse
import csv
import json
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ddgan.base.provenance import git_commit, now  # noqa: E402
from ddgan.core.config import config_differences  # noqa: E402
from ddgan.core.sample_grids import GRID_GAP, grid_columns, grid_sample_count, tile, upscale_factor  # noqa: E402
from ddgan.datasets import open_prepared  # noqa: E402
from reproduce.evaluation import logged_training_seconds  # noqa: E402

PANEL_SIDE = 4          # a panel shows PANEL_SIDE^2 images


def grid_path(run_dir: Path, step: int) -> Path:
    return run_dir / "samples" / f"step-{step:08d}.png"


def grid_corner(path: Path, columns: int) -> np.ndarray:
    """The top-left PANEL_SIDE x PANEL_SIDE images of a trainer's grid of `columns` columns, with their gaps."""
    grid = np.asarray(Image.open(path).convert("RGB"))
    cell = (grid.shape[1] - GRID_GAP) // columns
    side = GRID_GAP + PANEL_SIDE * cell
    return grid[:side, :side]


def training_panel(dataset: str, data_root=None) -> np.ndarray:
    """PANEL_SIDE^2 training images evenly spaced through the set (a folder's files are often grouped by
    kind), enlarged and spaced as the trainer's grids."""
    train = open_prepared(dataset, data_root, "train").images
    images = np.asarray(train[np.linspace(0, len(train) - 1, PANEL_SIDE ** 2).round().astype(int)])
    return tile(images, PANEL_SIDE, scale=upscale_factor(images.shape[1:3]), fill=128)


def fid_by_step(eval_files, config: dict) -> dict:
    """step -> the last FID record at that step of a snapshot of this run's computation (its length and
    bookkeeping keys may differ, as those of a resumed run do), from `ddgan eval` JSON-lines files."""
    found = {}
    for path in eval_files:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            if (record.get("step") is not None and record.get("config") is not None and "fid" in record["metrics"]
                    and not config_differences(record["config"], config)):
                found[record["step"]] = record
    return found


def progress_rows(run_dir: Path, steps, evals: dict) -> list[dict]:
    rows = []
    for step in steps:
        if not grid_path(run_dir, step).is_file():
            raise SystemExit(f"{grid_path(run_dir, step)} does not exist: choose steps the trainer drew a grid at "
                             f"(train.sample_every)")
        record = evals.get(step)
        fid = {"fid_label": record["fid_label"], "fid": record["metrics"]["fid"],
               "checkpoint_sha256": record["checkpoint_sha256"], "eval_commit": record["commit"]} if record else {}
        rows.append({"step": step, "train_seconds": logged_training_seconds(run_dir / "log.jsonl", up_to_step=step),
                     **{key: fid.get(key, "") for key in ("fid_label", "fid", "checkpoint_sha256", "eval_commit")}})
    return rows


def panel_title(row: dict, minutes: bool = True) -> str:
    minutes = f", {row['train_seconds'] / 60:.0f} min" if minutes and row["train_seconds"] is not None else ""
    fid = f"\n{row['fid_label']} {row['fid']:.1f}" if row["fid_label"] else ""
    return f"step {row['step']:,}{minutes}{fid}"


def write_progress(stem: Path, run_dir: Path, steps, dataset: str, eval_files=(), data_root=None,
                   minutes: bool = True) -> list[Path]:
    """minutes: the training time in the panels' titles (always in the CSV)."""
    run_dir = Path(run_dir).expanduser()
    config = json.loads((run_dir / "config.json").read_text())
    evals = fid_by_step(eval_files, config)
    rows = progress_rows(run_dir, steps, evals)
    stem.parent.mkdir(parents=True, exist_ok=True)
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    stem.with_suffix(".json").write_text(json.dumps(
        {"drawn_at_commit": git_commit(), "date": now(), "run_dir": str(run_dir), "dataset": dataset,
         "config": config, "evaluations": {str(step): {k: evals[step][k] for k in ("commit", "n_samples", "protocol",
                                                                                    "date", "checkpoint")}
                                           for step in steps if step in evals}}, indent=1) + "\n")

    columns = grid_columns(grid_sample_count(config["data"]["shape"]))
    panels = [("training images", training_panel(dataset, data_root))]
    panels += [(panel_title(row, minutes), grid_corner(grid_path(run_dir, row["step"]), columns)) for row in rows]
    figure, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.75))
    for axis, (title, image) in zip(np.atleast_1d(axes), panels):
        axis.imshow(image, interpolation="nearest")
        axis.set_title(title, fontsize=8)
        axis.axis("off")
    figure.suptitle(f"{config.get('name')} on {dataset}: EMA samples, one fixed seed", fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.94))      # room for the title above two-line panel titles
    figure.savefig(stem.with_suffix(".png"), dpi=110)
    plt.close(figure)
    return [stem.with_suffix(suffix) for suffix in (".csv", ".json", ".png")]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reproduce.run_progress", description=__doc__.splitlines()[0])
    parser.add_argument("stem", type=Path, help="output path without suffix")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--steps", required=True, type=lambda s: [int(x) for x in s.split(",")],
                        help="comma list of steps with a grid, e.g. 500,1000,2000")
    parser.add_argument("--dataset", required=True, help="the prepared dataset the run trained on")
    parser.add_argument("--evals", nargs="*", default=(), help="`ddgan eval` JSON-lines files")
    parser.add_argument("--data-root", default=None, help="prepared-data folder (default: $DDGAN_DATA, else ./data)")
    parser.add_argument("--no-minutes", action="store_true",
                        help="leave the training time out of the titles (e.g. when part of the run shared the machine)")
    args = parser.parse_args(argv)
    for path in write_progress(args.stem, args.run_dir, args.steps, args.dataset, args.evals, args.data_root,
                               minutes=not args.no_minutes):
        print(path)


if __name__ == "__main__":
    main()
