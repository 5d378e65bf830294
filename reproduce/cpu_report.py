"""What the cpu profile commits: results/cpu/{table3.csv, cifar10.csv, summary.md, figures/*.png}.

Everything here is written from the results rows (results/cpu/<dataset>/metrics.jsonl, each with its
commit, config, profile, sample count and training seconds) and from the prepared data's manifests;
`python -m reproduce.run compare --profile cpu` rewrites the tables and the summary from the rows
alone. The sample grids are drawn by the pipeline from each run's EMA snapshot.

    table3.csv   method, T, nfe, modes, kl, confident_fraction, confident_modes, n_samples, train_seconds,
                 train_steps, commit, row_id (StackedMNIST, 26,000 samples; the training images' own score as
                 method "data"; confident_*: of the samples whose three digits the classifier reads with
                 probability >= CONFIDENT_PROBABILITY, see ddgan.metrics.mode_coverage)
    cifar10.csv  method, T, nfe, fid, n_samples, sample_seconds, train_seconds, train_steps, commit, row_id
                 (the trilemma target; sample_seconds: one batch of 100 images on the device shown)
"""
import csv
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ddgan.core.sample_grids import tile
from ddgan.metrics.images import to_uint8
from ddgan.metrics.mode_coverage import CONFIDENT_PROBABILITY
from ddgan.nets import build_network
from reproduce.profiles import CPU_DDGAN_SETTINGS, CPU_TRAIN, CPU_WIDTH, DDGAN_TO_DDPM_STEP_COST
from reproduce.targets import TRILEMMA_DATASET

TABLE3_FIELDS = ("method", "T", "nfe", "modes", "kl", "confident_fraction", "confident_modes", "n_samples",
                 "train_seconds", "train_steps", "snapshot_step", "training", "commit", "row_id")
CIFAR_FIELDS = ("method", "T", "nfe", "fid", "n_samples", "sample_seconds", "train_seconds", "train_steps",
                "training", "reference_images", "commit", "row_id")
PAPER_TABLE3 = ("DDGAN (paper, Table 3): 1000 modes, KL 0.071 (NCSN++ at full width, 26,000 samples); "
                "n_samples below: the samples scored here")
CONFIDENT_NOTE = (f"The classifier labels blobs too: confident_fraction is the share of samples whose three "
                  f"channels all get a softmax probability of at least {CONFIDENT_PROBABILITY}, confident_modes the "
                  "modes those samples alone hit (empty for rows scored before they were recorded); compare them "
                  "with the data row.")
DATA_CAVEAT = (f"`{TRILEMMA_DATASET}` is prepared from cifar10_jpeg_subset.npz: 10,000 CIFAR-10 training images "
               "decoded from a JPEG copy (quality about 75), NOT bit-identical to CIFAR-10. Every FID here is "
               "against statistics of these training images and is not comparable with the paper's CIFAR-10 FIDs.")
GRID_SIDE, GRID_SCALE = 8, 2
PERIODIC_PANELS = (("eval/modes", "modes covered (of 1000)"), ("eval/kl", "KL to uniform (lower is better)"),
                   ("eval/confident_fraction", f"confident fraction (all 3 channels p >= {CONFIDENT_PROBABILITY})"))


# ------------------------------------------------------------------ rows

def load_profile_rows(results: Path, dataset: str) -> list[dict]:
    path = Path(results) / dataset / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latest_rows(rows: list[dict]) -> list[dict]:
    """The latest row of each (method, variant), in the order they first appear."""
    latest = {}
    for row in rows:
        key = (row["method"], row["variant"])
        if key not in latest or (row.get("date") or "") >= (latest[key].get("date") or ""):
            latest[key] = row
    order = list(dict.fromkeys((row["method"], row["variant"]) for row in rows))
    return [latest[key] for key in order]


def num_timesteps(row: dict):
    method = (row.get("config") or {}).get("method", {})
    return method.get("num_timesteps")


def training_of(row: dict) -> dict:
    return row.get("training") or {}


def training_state(row: dict) -> str | None:
    """'finished', or 'interrupted at S of N steps' for a snapshot of an unfinished training."""
    training = training_of(row)
    if not training:
        return None
    if training.get("finished", True):
        return "finished"
    return f"interrupted at {training['steps']} of {training['of_steps']} steps"


def rounded(value, digits=4):
    return round(value, digits) if isinstance(value, float) else value


def table3_rows(results: Path) -> list[dict]:
    table = []
    for row in latest_rows(load_profile_rows(results, "stackedmnist")):
        metrics = row["metrics"]
        if "modes" not in metrics:
            continue
        table.append({"method": row["method"], "T": num_timesteps(row), "nfe": num_timesteps(row),
                      "modes": metrics["modes"], "kl": rounded(metrics["kl"]),
                      # empty for rows scored before the classifier's confidence was recorded
                      "confident_fraction": rounded(metrics.get("confident_fraction")),
                      "confident_modes": metrics.get("confident_modes"), "n_samples": row["n_samples"],
                      "train_seconds": training_of(row).get("seconds"), "train_steps": training_of(row).get("steps"),
                      "snapshot_step": training_of(row).get("snapshot_step", training_of(row).get("steps")),
                      "training": training_state(row), "commit": row.get("commit"), "row_id": row.get("row_id")})
    return table


def cifar_rows(results: Path) -> list[dict]:
    table = []
    for row in latest_rows(load_profile_rows(results, TRILEMMA_DATASET)):
        metrics = row["metrics"]
        if "fid" not in metrics and "nfe" not in metrics:
            continue
        table.append({"method": f"{row['method']} {row['variant']}", "T": num_timesteps(row), "nfe": metrics.get("nfe"),
                      "fid": rounded(metrics.get("fid"), 2), "n_samples": row["n_samples"],
                      "sample_seconds": rounded(metrics.get("time_s"), 2),
                      "train_seconds": training_of(row).get("seconds"), "train_steps": training_of(row).get("steps"),
                      "training": training_state(row), "reference_images": row.get("reference_images"),
                      "commit": row.get("commit"), "row_id": row.get("row_id")})
    return table


def write_table(rows: list[dict], fields, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# ------------------------------------------------------------------ summary

def network_sizes(config: dict) -> str:
    """'generator conv_unet 8x[1, 2, 4] (0.15M)' for every network of a run config."""
    parts = []
    for name, spec in config["networks"].items():
        count = sum(p.numel() for p in build_network(dict(spec)).parameters())
        parts.append(f"{name} {spec['arch']} {spec.get('base_channels')}x{spec.get('channel_mult')} "
                     f"({count / 1e6:.2f}M parameters)")
    return "; ".join(parts)


def markdown_table(rows: list[dict], fields) -> list[str]:
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in rows:
        lines.append("| " + " | ".join("–" if row.get(f) is None else str(row[f])[:12] if f in ("commit", "row_id")
                                       else str(row[f]) for f in fields) + " |")
    return lines


def run_descriptions(results: Path, dataset: str) -> list[str]:
    lines = []
    for row in latest_rows(load_profile_rows(results, dataset)):
        config = row.get("config")
        if not config:
            continue
        train, optim = config["train"], config["optim"]
        lines.append(f"- {row['method']} {row['variant']}: config `{config['name']}`, {network_sizes(config)}; "
                     f"batch {train['batch_size']}, {train['steps']} steps, lr {optim['lr']}, EMA {optim['ema_decay']}; "
                     f"sampling {row.get('sample_options') or 'default'}; run `{row.get('run_dir')}`; "
                     f"commit `{row.get('commit')}`; device {row.get('device')}")
    return lines


def manifest_line(data_root: Path, name: str) -> str:
    path = Path(data_root) / name / "manifest.json"
    if not path.is_file():
        return f"- {name}: not prepared here"
    manifest = json.loads(path.read_text())
    source = manifest.get("source", {})
    train = manifest["splits"].get("train", {})
    return (f"- {name}: {manifest.get('description')}; source {source.get('archive') or source.get('location')} "
            f"(sha256 {str(source.get('sha256') or source.get('mnist_source_sha256'))[:16]}…); train images.npy "
            f"sha256 {str(train.get('images_sha256'))[:16]}…, {train.get('count')} images")


def stackedmnist_departures() -> str:
    """How the StackedMNIST runs depart from the profile's common width, from CPU_DDGAN_SETTINGS."""
    settings = CPU_DDGAN_SETTINGS["stackedmnist"]
    train = settings.get("train", {})
    parts = [f"generator at base {settings['generator']['base_channels']}" if "generator" in settings else None,
             f"discriminator at base {settings['discriminator']['base_channels']}"
             + (" with a minibatch-stddev channel" if settings["discriminator"].get("minibatch_std") else ""),
             (f"a mode-seeking term on the generator (diversity_weight {settings['method']['diversity_weight']:g}, "
              "a departure)") if settings.get("method", {}).get("diversity_weight") else None,
             (f"each run evaluated at its snapshot with the lowest KL of the periodic scores ({train['eval_samples']:,} "
              f"samples every {train['eval_every']} steps; snapshot_step)") if train.get("eval_every") else None]
    return ", ".join(part for part in parts if part)


def cpu_section(results: Path, data_root: Path | None = None, heading: str = "##") -> list[str]:
    """The 'reduced scale on a CPU' section: both tables, how they were made, the data caveat."""
    table3, cifar = table3_rows(results), cifar_rows(results)
    lines = [f"{heading} Reduced scale on a CPU (cpu profile; never compared with the paper's cells)", "",
             f"Small conv networks (base {CPU_WIDTH['base_channels']} channels, multipliers "
             f"{CPU_WIDTH['channel_mult']}; on StackedMNIST {stackedmnist_departures()}) instead of the paper's NCSN++, "
             f"batch {CPU_TRAIN['batch_size']}, "
             "a budget of minutes on one shared CPU core per run (train_seconds: wall clock of each run). "
             "Rows: results/cpu/<dataset>/metrics.jsonl; configs, parameter counts and data hashes: "
             "results/cpu/summary.md.", ""]
    # the classifiers of the rows shown (older rows scored with another classifier are not in the table)
    digits = list(dict.fromkeys(row["feature_weights"]["digits"]
                                for row in latest_rows(load_profile_rows(results, "stackedmnist"))
                                if (row.get("feature_weights") or {}).get("digits")))
    lines += [f"{heading}# StackedMNIST (Table 3)", "", PAPER_TABLE3 + ".",
              f"Modes are labelled by the {'; by the '.join(digits)}." if digits else "", CONFIDENT_NOTE, ""]
    lines += markdown_table(table3, TABLE3_FIELDS) if table3 else ["Not run yet (`make table3 PROFILE=cpu`)."]
    lines += ["", f"{heading}# Trilemma at equal compute (32x32 natural images)", "", DATA_CAVEAT,
              "FID: clean protocol, n_samples samples against the statistics of the first reference_images "
              "training images; sample_seconds: one batch of 100 images on the device of the row.", ""]
    lines += markdown_table(cifar, CIFAR_FIELDS) if cifar else ["Not run yet (`make trilemma PROFILE=cpu`)."]
    return lines + [""]


def summary_markdown(results: Path, data_root: Path) -> str:
    lines = ["# Reduced-scale runs on a CPU (cpu profile)", "",
             "Written by `reproduce.cpu_report` from the rows in this folder; regenerate with "
             "`python -m reproduce.run compare --profile cpu`.", ""]
    lines += cpu_section(results, data_root)
    lines += ["## Runs", ""]
    for dataset in ("stackedmnist", TRILEMMA_DATASET):
        lines += run_descriptions(results, dataset)
    lines += ["", f"Equal compute in the trilemma target: the DDPM trains {DDGAN_TO_DDPM_STEP_COST:g}x the DDGAN's "
              "steps, the measured ratio of their iteration times at this width; compare their train_seconds.", "",
              "## Data", ""]
    lines += [manifest_line(data_root, name) for name in ("mnist", "stackedmnist", TRILEMMA_DATASET)]
    lines += ["", "## Figures", ""]
    lines += [f"- figures/{path.name}" for path in sorted((Path(results) / "figures").glob("*.png"))]
    return "\n".join(lines) + "\n"


def write_cpu_report(results: Path, data_root: Path, log=print) -> None:
    results = Path(results)
    write_table(table3_rows(results), TABLE3_FIELDS, results / "table3.csv")
    write_table(cifar_rows(results), CIFAR_FIELDS, results / "cifar10.csv")
    curves = periodic_score_figure(results, "stackedmnist")
    if curves:
        log(f"[cpu] {curves}: periodic scores of the StackedMNIST runs")
    (results / "summary.md").write_text(summary_markdown(results, data_root))
    log(f"[cpu] {results}/table3.csv, cifar10.csv and summary.md written from the rows")


# ------------------------------------------------------------------ figures

def periodic_score_figure(results: Path, dataset: str) -> Path | None:
    """Modes, KL and confident fraction of every periodic score of the dataset's runs against the training
    step, the evaluated snapshot circled (figures/<dataset>-periodic-scores.png), from the rows alone."""
    scored = [row for row in latest_rows(load_profile_rows(results, dataset)) if training_of(row).get("periodic_scores")]
    if not scored:
        return None
    runs = [(f"{row['method']} T={num_timesteps(row)}", training_of(row)) for row in scored]
    samples = scored[0]["config"]["train"]["eval_samples"]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PERIODIC_PANELS), figsize=(4.5 * len(PERIODIC_PANELS), 3.4))
    for (label, training), color in zip(runs, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        scores = training["periodic_scores"]
        chosen = next(score for score in scores if score["step"] == training["snapshot_step"])
        for axis, (key, _) in zip(axes, PERIODIC_PANELS):
            scored_here = [score for score in scores if key in score]   # rows from before a score existed lack it
            axis.plot([score["step"] for score in scored_here], [score[key] for score in scored_here], "o-",
                      color=color, label=label, markersize=3)
            if key in chosen:
                axis.plot(chosen["step"], chosen[key], "o", markersize=11, markerfacecolor="none", color=color)
    for axis, (_, title) in zip(axes, PERIODIC_PANELS):
        axis.set_xlabel("training step")
        axis.set_title(title, fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{dataset}: scores of {samples:,} samples during training (circled: the evaluated snapshot)",
                    fontsize=10)
    figure.tight_layout()
    path = Path(results) / "figures" / f"{dataset}-periodic-scores.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def grid_picture(images: np.ndarray) -> Image.Image:
    """GRID_SIDE x GRID_SIDE uint8 NHWC images as one picture, each enlarged GRID_SCALE times, white 2-px gaps."""
    return Image.fromarray(tile(images, GRID_SIDE, rows=GRID_SIDE, scale=GRID_SCALE, fill=255))


def sample_grid(sampler, options: dict, path: Path, seed: int = 0) -> str:
    """An 8x8 grid of EMA samples (sampling `options`) at `path`."""
    generator = torch.Generator(device=sampler.device).manual_seed(seed)
    images = to_uint8(sampler.sample(GRID_SIDE * GRID_SIDE, generator, **options))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_picture(images).save(path)
    return str(path)


def data_grid(images: np.ndarray, path: Path, seed: int = 0) -> str:
    """An 8x8 grid of training images drawn at random."""
    chosen = np.random.default_rng(seed).choice(len(images), min(len(images), GRID_SIDE * GRID_SIDE), replace=False)
    # stored arrays are read in increasing index order, then put back in the random order (prepared
    # sets are often sorted by class, which an index-ordered grid would show in bands)
    ascending = np.sort(chosen)
    drawn = np.asarray(images[ascending])[np.searchsorted(ascending, chosen)]
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_picture(drawn).save(path)
    return str(path)
