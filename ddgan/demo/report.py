"""The demo's tables (CSV), checks of the paper's expectations, and summary.md."""
import csv
import json

COLUMNS = {
    "mixture25": ["method", "T", "nfe", "n_samples", "modes", "high_quality", "kl", "sample_seconds",
                  "train_steps", "train_seconds"],
    "stacked_digits": ["method", "T", "nfe", "n_samples", "modes", "kl", "sample_seconds", "train_steps",
                       "train_seconds"],
}
MODES = {"mixture25": 25, "stacked_digits": 1000}


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


def expectation_checks(rows):
    """The paper's claims at this scale, checked on the 25-Gaussians (and reported, not asserted)."""
    ddgan, gaussian = find(rows, "DDGAN T=4"), find(rows, "Gaussian denoiser T=4")
    ddpm4, ddpm1000 = find(rows, "DDPM 4 steps"), find(rows, "DDPM 1000 steps")
    checks = []
    if ddgan:
        checks.append((f"DDGAN T=4 covers >= 24 of 25 modes (covers {ddgan['modes']})", ddgan["modes"] >= 24))
        checks.append((f"DDGAN T=4 mode-histogram KL <= 0.2 (KL {ddgan['kl']:.3f})", ddgan["kl"] <= 0.2))
    for other in (gaussian, ddpm4):
        if ddgan and other:
            checks.append((f"{other['method']} KL >= 3x DDGAN T=4's ({other['kl']:.3f} vs {ddgan['kl']:.3f})",
                           other["kl"] >= 3 * ddgan["kl"]))
    if ddgan and ddpm1000:
        checks.append((f"DDGAN T=4 coverage within 1 mode of DDPM 1000 steps ({ddgan['modes']} vs "
                       f"{ddpm1000['modes']}) with {ddpm1000['nfe'] // ddgan['nfe']}x fewer network calls",
                       ddgan["modes"] >= ddpm1000["modes"] - 1))
    return checks


def write_summary(path, profile, rows_by_dataset, meta, notes):
    lines = [f"# Demo: the generative learning trilemma at CPU scale (profile `{profile}`)", "",
             f"Produced by `python -m ddgan.demo --profile {profile}` at commit `{meta['commit']}` on "
             f"{meta['device']}, {meta['date']}; {meta['jobs']} worker process(es), total {meta['seconds']:.0f} s. "
             "Every run's full config is in `configs.json`.", ""]
    for dataset, rows in rows_by_dataset.items():
        lines += [f"## {dataset} ({MODES[dataset]} modes)", "", markdown_table(rows, COLUMNS[dataset]), ""]
        lines += [f"Figures: `{dataset}_samples.png`, `trilemma.png`.", ""]
    checks = expectation_checks(rows_by_dataset.get("mixture25", []))
    if checks:
        lines += ["## The paper's expectations on the 25-Gaussians", ""]
        lines += [f"- [{'x' if ok else ' '}] {text}" for text, ok in checks] + [""]
    lines += ["## How to read these numbers", ""] + [f"- {note}" for note in notes] + [""]
    path.write_text("\n".join(lines))
    return checks


def write_configs(path, runs):
    path.write_text(json.dumps({f"{r.dataset}/{r.key}": r.config for r in runs}, indent=1) + "\n")
