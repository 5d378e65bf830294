"""Reported against reproduced, cell by cell, with a verdict: `make compare` and the end of every target.

Tolerances (a reproduced number within them of the reported one is "reproduced"):

    FID     max(0.5, 10% of the reported value)   seed-to-seed spread of FID at 50k samples is a few
                                                  tenths; GAN training runs differ by more
    IS      0.2                                   (the paper's IS is the 1-split TF Inception score:
                                                  compared with is_1split)
    recall  0.03
    modes   10 (1% of the 1000 modes)
    KL      0.05                                  (a perfectly uniform sampler scores ~0.02 at 26k samples)
    NFE     exact

Time is never given a verdict: the paper timed a V100, this package times the local device (the
device is shown). FID verdicts use the paper protocol (JPEG round trip, legacy pytorch-fid
resizing); the clean-protocol FID is shown beside it.

Only rows of the paper profile evaluated with the full protocol (50,000 samples; 26,000 for
modes) count. Smoke rows, and rows evaluated on fewer samples, are listed separately and never
counted as reproduced. Of several comparable rows the latest is used.

Verdicts: reproduced, differs, not run yet (this package makes the number, no comparable row has
it yet), not measured here (e.g. bits/dim), not compared (time), no reported number (a row of
ours the source does not have), not in this package (reported rows of other methods).
"""
import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ddgan.datasets import data_root
from ddgan.evaluate import required_samples
from reproduce.report import comparison_markdown
from reproduce.reported import REPORTED_DIR, TABLE_TITLES, load_reported, reproductions
from reproduce.verdicts import (DIFFERS, NO_REPORTED, NOT_COMPARED, NOT_IN_PACKAGE, NOT_MEASURED, NOT_RUN, REPRODUCED,
                                TOLERANCES, VERDICT_PROTOCOL)

# reported metric -> key in a results row's metrics
RESULT_KEYS = {"fid": "fid", "is": "is_1split", "recall": "recall", "nfe": "nfe", "time_s": "time_s",
               "modes": "modes", "kl": "kl"}
# metrics key of a results row -> the ddgan.evaluate metric whose sample count it needs
SAMPLE_METRICS = {"fid": "fid", "is_1split": "is", "recall": "pr", "modes": "modes"}


@dataclass
class ComparedCell:
    table: str
    row: str
    source: str
    metric: str
    reported: str
    status: str
    reproduced: float | None
    difference: float | None
    tolerance: float | None
    verdict: str
    fid_clean: float | None = None
    n_samples: int | None = None
    device: str | None = None
    commit: str | None = None
    date: str | None = None
    row_id: str | None = None


def tolerance(metric: str, reported: float) -> float:
    absolute, relative = TOLERANCES[metric]
    return max(absolute, relative * abs(reported))


def verdict(metric: str, reported: float | None, reproduced: float | None) -> str:
    if metric == "time_s":
        return NOT_COMPARED if reproduced is not None else NOT_RUN
    if metric not in RESULT_KEYS:
        return NOT_MEASURED
    if reproduced is None:
        return NOT_RUN
    if reported is None:
        return NO_REPORTED
    return REPRODUCED if abs(reproduced - reported) <= tolerance(metric, reported) else DIFFERS


# ------------------------------------------------------------------ results rows

def load_rows(results_dir) -> list[dict]:
    """Every results row under results_dir/<dataset>/metrics.jsonl."""
    rows = []
    for path in sorted(Path(results_dir).glob("*/metrics.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def is_comparable(row: dict) -> bool:
    """A paper-profile row evaluated with the full protocol (rows of `ddgan eval` carry no profile)."""
    sampled = [name for key, name in SAMPLE_METRICS.items() if key in row["metrics"]]
    needed = required_samples(sampled, row.get("dataset"))
    return row.get("profile", "paper") == "paper" and (row.get("n_samples") or 0) >= needed


def value_of(row: dict, metric: str):
    if metric == "fid" and row.get("protocol") != VERDICT_PROTOCOL:
        return None
    return row["metrics"].get(RESULT_KEYS.get(metric))


def latest_with(rows, reproduction, metric):
    """The latest row of `reproduction` holding `metric` (FID: under the verdict protocol)."""
    matching = [r for r in rows if (r["dataset"], r["method"], r["variant"]) ==
                (reproduction.dataset, reproduction.method, reproduction.variant) and value_of(r, metric) is not None]
    return max(matching, key=lambda r: r.get("date") or "", default=None)


def clean_fid(rows, reproduction, date):
    """The clean-protocol FID of the same evaluation (rows of one evaluation share its date)."""
    for row in rows:
        if ((row["dataset"], row["method"], row["variant"], row.get("protocol"), row.get("date")) ==
                (reproduction.dataset, reproduction.method, reproduction.variant, "clean", date)):
            return row["metrics"].get("fid")
    return None


# ------------------------------------------------------------------ comparison

def compare(cells, rows) -> list[ComparedCell]:
    """One ComparedCell per reported cell and per reproduction (rows must already be comparable ones)."""
    reported = {(c.table, c.row, c.metric): c for c in cells}
    table_metrics = {}
    for cell in cells:
        table_metrics.setdefault(cell.table, [])
        if cell.metric not in table_metrics[cell.table]:
            table_metrics[cell.table].append(cell.metric)
    compared, covered = [], set()
    for reproduction in reproductions():
        for metric in table_metrics[reproduction.table]:
            cell = reported.get((reproduction.table, reproduction.row, metric))
            covered.add((reproduction.table, reproduction.row))
            row = latest_with(rows, reproduction, metric)
            value = value_of(row, metric) if row else None
            number = cell.value if cell else None
            compared.append(ComparedCell(
                reproduction.table, reproduction.row, reproduction.source, metric,
                cell.text if cell else "", cell.status if cell else "", value,
                value - number if value is not None and number is not None else None,
                tolerance(metric, number) if number is not None and metric in TOLERANCES else None,
                verdict(metric, number, value),
                clean_fid(rows, reproduction, row.get("date")) if row and metric == "fid" else None,
                **({"n_samples": row.get("n_samples"), "device": row.get("device"), "commit": row.get("commit"),
                    "date": row.get("date"), "row_id": row.get("row_id")} if row else {})))
    for cell in cells:
        if (cell.table, cell.row) not in covered:
            compared.append(ComparedCell(cell.table, cell.row, "", cell.metric, cell.text, cell.status, None, None,
                                         None, NOT_IN_PACKAGE))
    return compared


def write_csv(compared: list[ComparedCell], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(ComparedCell.__dataclass_fields__)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(c) for c in compared)


def compare_results(profile, reported_dir=REPORTED_DIR):
    """(compared cells, rows that count, rows that do not) for the results of `profile`."""
    cells = load_reported(reported_dir)
    rows = load_rows(profile.results)
    comparable = [r for r in rows if is_comparable(r)]
    return compare(cells, comparable), comparable, [r for r in rows if not is_comparable(r)]


def cpu_results(profile) -> Path | None:
    """The cpu profile's results folder shown beside this profile's comparison (its own section)."""
    if profile.cpu:
        return profile.results
    folder = profile.results / "cpu"
    return folder if profile.name == "paper" and folder.is_dir() else None


def write_comparison(profile, log=print, reported_dir=REPORTED_DIR) -> Path:
    """comparison.md, comparison.csv, one CSV per table and trilemma.png in <results>/comparison/."""
    from reproduce.figure import trilemma_figure
    from reproduce.cpu_report import write_cpu_report
    compared, comparable, excluded = compare_results(profile, reported_dir)
    folder = profile.comparison_dir()
    write_csv(compared, folder / "comparison.csv")
    for table in TABLE_TITLES:
        write_csv([c for c in compared if c.table == table], folder / f"{table}.csv")
    (folder / "comparison.md").write_text(comparison_markdown(compared, excluded, profile.name,
                                                              cpu_results(profile)))
    if profile.cpu:
        write_cpu_report(profile.results, data_root(profile.data_root), log)
    trilemma_figure(compared, excluded, folder / "trilemma.png")
    counts = {}
    for cell in compared:
        counts[cell.verdict] = counts.get(cell.verdict, 0) + 1
    log(f"[compare] {folder}/comparison.md: " + ", ".join(f"{n} {v}" for v, n in counts.items()
                                                           if v != NOT_IN_PACKAGE)
        + (f"; {len(excluded)} {profile.name if profile.smoke else 'non-comparable'} row(s) listed apart"
           if excluded else ""))
    return folder
