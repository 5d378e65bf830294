"""The demo's tables (CSV), checks of the paper's expectations, and summary.md."""
import csv
import json
import re

COLUMNS = {
    "mixture25": ["method", "T", "nfe", "n_samples", "modes", "high_quality", "kl", "sample_seconds",
                  "train_steps", "train_seconds"],
    "stacked_digits": ["method", "T", "nfe", "n_samples", "modes", "kl", "confident_fraction", "confident_modes",
                       "sample_seconds", "train_steps", "train_seconds"],
}
MODES = {"mixture25": 25, "stacked_digits": 1000}
# the loss that says how far training got: the generator's for GANs, the training objective otherwise
# (for latent diffusion, the latent denoiser's: the stage that trains last)
PROGRESS_LOSS = ("loss_g", "loss", "loss_denoiser")


def write_csv(rows, columns, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: format_value(row.get(k)) for k in columns})


def format_value(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else value


def markdown_table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(format_value(r.get(c))) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def find(rows, method):
    return next((r for r in rows if r["method"] == method), None)


# what DDGAN T=4 should reach on the 25-Gaussians, per profile: (modes, high_quality, kl)
DDGAN_BARS = {"quick": (24, 0.60, None), "full": (25, 0.80, 0.05)}
DDPM_1000_QUALITY = 0.80     # many small Gaussian steps: sharp
FEW_STEP_GAUSSIAN_QUALITY = 0.30   # 4 large Gaussian steps: blurred (the paper's point)


def expectation_checks(rows, profile="full"):
    """The paper's claims at this scale, checked on the 25-Gaussians (and reported, not asserted)."""
    ddgan, gaussian = find(rows, "DDGAN T=4"), find(rows, "Gaussian denoiser T=4")
    ddpm4, ddpm1000 = find(rows, "DDPM 4 steps"), find(rows, "DDPM 1000 steps")
    checks = []
    if ddgan:
        modes, quality, kl = DDGAN_BARS.get(profile, DDGAN_BARS["quick"])
        checks.append((f"DDGAN T=4 covers >= {modes} of 25 modes (covers {ddgan['modes']})", ddgan["modes"] >= modes))
        checks.append((f"DDGAN T=4 high-quality fraction >= {quality:.2f} ({ddgan['high_quality']:.3f})",
                       ddgan["high_quality"] >= quality))
        if kl is not None:
            checks.append((f"DDGAN T=4 mode-histogram KL <= {kl} (KL {ddgan['kl']:.3f})", ddgan["kl"] <= kl))
    if ddpm1000:
        checks.append((f"DDPM 1000 steps high-quality fraction >= {DDPM_1000_QUALITY:.2f} "
                       f"({ddpm1000['high_quality']:.3f})", ddpm1000["high_quality"] >= DDPM_1000_QUALITY))
    for other in (gaussian, ddpm4):
        if ddgan and other:
            checks.append((f"{other['method']} KL >= 3x DDGAN T=4's ({other['kl']:.3f} vs {ddgan['kl']:.3f})",
                           other["kl"] >= 3 * ddgan["kl"]))
            checks.append((f"{other['method']} high-quality fraction <= {FEW_STEP_GAUSSIAN_QUALITY:.2f} "
                           f"({other['high_quality']:.3f})", other["high_quality"] <= FEW_STEP_GAUSSIAN_QUALITY))
    if ddgan and ddpm1000:
        checks.append((f"DDGAN T=4 coverage within 1 mode of DDPM 1000 steps ({ddgan['modes']} vs "
                       f"{ddpm1000['modes']}) with {ddpm1000['nfe'] // ddgan['nfe']}x fewer network calls",
                       ddgan["modes"] >= ddpm1000["modes"] - 1))
    return checks


def digits_checks(rows):
    """The same claims on stacked digits, where coverage is harder: reported, not asserted."""
    ddgan, one_step = find(rows, "DDGAN T=4"), find(rows, "DDGAN T=1")
    checks = []
    if ddgan and one_step:
        checks.append((f"DDGAN T=4 covers more modes than the one-step GAN, T=1 ({ddgan['modes']} vs "
                       f"{one_step['modes']})", ddgan["modes"] > one_step["modes"]))
    for label in ("Gaussian denoiser T=4", "DDPM 4 steps", "DDIM 4 steps"):
        other = find(rows, label)
        if ddgan and other:
            checks.append((f"DDGAN T=4 has a lower KL than {label} at the same NFE ({ddgan['kl']:.3f} vs "
                           f"{other['kl']:.3f})", ddgan["kl"] < other["kl"]))
    return checks


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def loss_progress(log):
    """(loss name, first logged value, mean over the last quarter, its change from the third quarter's mean)."""
    name = next(k for k in PROGRESS_LOSS if k in log[-1])
    values = [entry[name] for entry in log if name in entry]
    quarter = max(1, len(values) // 4)
    last, before = values[-quarter:], values[-2 * quarter:-quarter] or values[:1]
    mean_last, mean_before = sum(last) / len(last), sum(before) / len(before)
    return name, values[0], mean_last, mean_last - mean_before


def network_summary(networks):
    parts = []
    for role, spec in networks.items():
        size = spec.get("hidden") or spec.get("base_channels") or spec.get("denoiser", {}).get("hidden") \
            or spec.get("denoiser", {}).get("base_channels")
        parts.append(f"{role}: {spec['arch']}" + (f" ({size})" if size else ""))
    return "; ".join(parts)


def training_table(runs, work):
    """How each demo model was trained, and how far its loss still moved at the end."""
    lines = ["| dataset | run | method | networks (width) | steps | batch | lr | loss | first | last quarter "
             "| change vs third quarter |", "|" + "---|" * 11]
    for run in runs:
        config = run.config
        log_path = work / run.dataset / run.key / "log.jsonl"
        log = read_log(log_path) if log_path.exists() else []
        name, first, last, change = loss_progress(log) if log else ("", None, None, None)
        rates = ", ".join(f"{k} {v:g}" for k, v in config["optim"]["lr"].items())
        cells = [run.dataset, run.key, config["method"]["name"], network_summary(config["networks"]),
                 config["train"]["steps"], config["train"]["batch_size"], rates, name,
                 format_value(first), format_value(last), "" if change is None else f"{change:+.3g}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def read_previous(out):
    """The results a demo output folder held before this invocation: {dataset: rows}, and their commit."""
    previous = {}
    for dataset in COLUMNS:
        path = out / f"{dataset}.csv"
        if path.exists():
            with open(path, newline="") as f:
                previous[dataset] = list(csv.DictReader(f))
    summary = out / "summary.md"
    match = re.search(r"at commit `([0-9a-f]+)`", summary.read_text()) if summary.exists() else None
    return previous, match.group(1) if match else None


def change_lines(previous, previous_commit, rows_by_dataset, changes):
    """What changed from the results this folder held before: the settings (`changes`) and, per row
    present in both tables, the numbers before -> now."""
    if not previous:
        return []
    lines = ["## Changes from the previous results in this folder", "",
             f"The previous tables here came from commit `{previous_commit or 'unknown'}`."]
    lines += [f"- {change}" for change in changes] + [""]
    for dataset, rows in rows_by_dataset.items():
        before = {r["method"]: r for r in previous.get(dataset, [])}
        keys = [k for k in ("modes", "high_quality", "kl") if k in COLUMNS[dataset]]
        table = ["| method | " + " | ".join(f"{k} before -> now" for k in keys) + " |", "|" + "---|" * (len(keys) + 1)]
        for row in rows:
            old = before.get(row["method"])
            if old is not None:
                cells = [f"{old[k] or '-'} -> {format_value(row.get(k))}" for k in keys]
                table.append(f"| {row['method']} | " + " | ".join(cells) + " |")
        if len(table) > 2:
            lines += [f"{dataset}:", "", *table, ""]
    return lines


def write_summary(path, profile, rows_by_dataset, meta, notes, training="", changes=()):
    lines = [f"# Demo: the generative learning trilemma at CPU scale (profile `{profile}`)", "",
             f"Produced by `python -m ddgan.demo --profile {profile}` at commit `{meta['commit']}` on "
             f"{meta['device']}, {meta['date']}; {meta['jobs']} worker process(es) of {meta.get('threads', 1)} thread(s); this invocation took {meta['seconds']:.0f} s "
             "(train_seconds are per run, summed over resumes; finished runs and scores are reused). "
             "Every run's full config is in `configs.json`.", ""]
    for dataset, rows in rows_by_dataset.items():
        lines += [f"## {dataset} ({MODES[dataset]} modes)", "", markdown_table(rows, COLUMNS[dataset]), ""]
        lines += [f"Figures: `{dataset}_samples.png`, `trilemma.png`.", ""]
    checks = expectation_checks(rows_by_dataset.get("mixture25", []), profile)
    if checks:
        lines += ["## The paper's expectations on the 25-Gaussians", ""]
        lines += [f"- [{'x' if ok else ' '}] {text}" for text, ok in checks] + [""]
    more = digits_checks(rows_by_dataset.get("stacked_digits", []))
    if more:
        lines += ["## The same claims on stacked digits", ""]
        lines += [f"- [{'x' if ok else ' '}] {text}" for text, ok in more] + [""]
    checks = checks + more
    if training:
        lines += ["## How each model was trained", "",
                  "All runs use the one trainer (Adam, EMA of the weights for sampling, one CPU thread). `loss` is "
                  "the generator's non-saturating loss for GANs and the training objective otherwise; a GAN's loss "
                  "does not fall as it converges, so for GANs the change only shows whether training had settled.",
                  "", training, ""]
    lines += ["## How to read these numbers", ""] + [f"- {note}" for note in notes] + [""]
    lines += changes
    path.write_text("\n".join(lines))
    return checks


def write_configs(path, runs):
    path.write_text(json.dumps({f"{r.dataset}/{r.key}": r.config for r in runs}, indent=1) + "\n")
