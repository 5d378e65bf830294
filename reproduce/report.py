"""comparison.md: per table, reported and reproduced side by side, then the rows that are never compared.

A cell reads `reported (status) -> reproduced (difference): verdict`, e.g. `3.75 (C) -> 3.91 (+0.16)
[clean 3.85]: reproduced`; comparison.csv holds the same cells one per line, with tolerances,
sample counts, devices, commits and dates.
"""
from reproduce.cpu_report import cpu_section
from reproduce.reported import TABLE_TITLES
from reproduce.verdicts import NOT_IN_PACKAGE, TOLERANCES, VERDICT_PROTOCOL

def number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def signed(value) -> str:
    return ("+" if value >= 0 else "") + number(value)


def cell_text(cell) -> str:
    """'reported (status) -> reproduced (difference): verdict' for one metric of one row."""
    text = f"{cell.reported} ({cell.status})" if cell.reported else "–"
    if cell.reproduced is not None:
        text += f" → {number(cell.reproduced)}"
        if cell.difference is not None and cell.metric != "time_s":
            text += f" ({signed(cell.difference)})"
        if cell.metric == "time_s":
            text += f" s on {cell.device}"
        if cell.fid_clean is not None:
            text += f" [clean {number(cell.fid_clean)}]"
    return f"{text}: {cell.verdict}"


def table_section(title: str, cells) -> list[str]:
    """One line per reproduced row and source, one column per metric of the table."""
    lines = [f"## {title}", ""]
    metrics = list(dict.fromkeys(c.metric for c in cells))
    attempted = {}
    for cell in cells:
        if cell.verdict != NOT_IN_PACKAGE:
            attempted.setdefault((cell.row, cell.source), {})[cell.metric] = cell
    if attempted:
        lines += ["| row | source | " + " | ".join(metrics) + " |", "|" + "---|" * (len(metrics) + 2)]
        lines += [f"| {row} | {source} | " + " | ".join(cell_text(by_metric[m]) if m in by_metric else "–"
                                                    for m in metrics) + " |"
                  for (row, source), by_metric in attempted.items()]
        lines.append("")
    others = list(dict.fromkeys(c.row for c in cells if c.verdict == NOT_IN_PACKAGE))
    if others:
        lines += [f"Reported, not in this package: {', '.join(others)} (all numbers in results/reported/).", ""]
    return lines


def excluded_section(rows) -> list[str]:
    lines = ["## Rows never compared (smoke profile, or fewer samples than the paper's protocol)", ""]
    if not rows:
        return lines + ["None.", ""]
    lines += ["| dataset | method | variant | profile | protocol | samples | metrics | time batch | device | date |",
              "|" + "---|" * 10]
    for row in rows:
        metrics = ", ".join(f"{k} {number(v)}" for k, v in row["metrics"].items())
        lines.append(f"| {row['dataset']} | {row['method']} | {row['variant']} | {row.get('profile', '–')} | "
                     f"{row.get('protocol') or '–'} | {row.get('n_samples')} | {metrics} | {row.get('time_batch') or '–'} | "
                     f"{row.get('device')} | "
                     f"{row.get('date')} |")
    return lines + [""]


def comparison_markdown(compared, excluded_rows, profile_name: str, cpu_results=None) -> str:
    tolerances = ", ".join(f"{metric} {absolute}" + (f" or {relative:.0%} of the reported value" if relative else "")
                           for metric, (absolute, relative) in TOLERANCES.items())
    lines = ["# Reported and reproduced numbers", "",
             "Written by `make compare` (and at the end of every target) from the rows in "
             "`<results>/<dataset>/metrics.jsonl` and the reported numbers in `results/reported/`; "
             "every cell, with tolerance, sample count, device, commit and date, is in `comparison.csv`.", ""]
    if profile_name == "smoke":
        lines += ["**Smoke profile**: tiny networks, a few training steps, a few samples. It checks that the "
                  "pipeline runs from archive to this table; none of its rows is compared with the paper, so "
                  "every cell the package produces reads *not run yet*. Its rows are listed at the end.", ""]
    if profile_name == "cpu":
        lines += ["**cpu profile**: real data at reduced scale (small networks, minutes of training on a CPU). "
                  "None of its rows is compared with the paper; they are shown in their own section below.", ""]
    lines += [f"Verdict tolerances (absolute, or relative where larger): {tolerances}. FID verdicts use the "
              f"`{VERDICT_PROTOCOL}` protocol (the clean-protocol FID is shown in brackets); IS is the 1-split "
              "score. Time is measured on the local device and not given a verdict (the paper used one V100). "
              "Reported numbers and their status (C: confirmed, U: uncertain) come from results/reported/.", ""]
    counts = {}
    for cell in compared:
        if cell.verdict != NOT_IN_PACKAGE:
            counts[cell.verdict] = counts.get(cell.verdict, 0) + 1
    lines += ["Cells: " + ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())), ""]
    for table, title in TABLE_TITLES.items():
        lines += table_section(title, [c for c in compared if c.table == table])
    if cpu_results is not None:
        lines += cpu_section(cpu_results)
    lines += excluded_section(excluded_rows)
    return "\n".join(lines)
