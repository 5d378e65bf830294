"""The trilemma at a glance: FID against sampling time (log scale), marker area growing with recall.

Reported points are Table 1's rows with both a FID and a time (one V100); reproduced points are
the comparable rows of this package (local device, named in the legend). Smoke rows are not drawn:
they time other batch sizes and are never results; the figure says how many were left out.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reproduce.reported import as_number  # noqa: E402

NO_RECALL_AREA = 40
FID_TICKS = (2, 3, 4, 6, 10, 20, 40, 70)


def recall_area(recall) -> float:
    return NO_RECALL_AREA if recall is None else max(NO_RECALL_AREA, 900 * (recall - 0.35))


def table1_points(compared, reported: bool) -> dict:
    """{label: {metric: value}} of Table 1, from the reported numbers or the reproduced ones."""
    points = {}
    for cell in compared:
        if cell.table != "table1" or cell.metric not in ("fid", "time_s", "recall"):
            continue
        value = as_number(cell.reported) if reported else cell.reproduced
        if reported and cell.source not in ("", "trained here"):
            continue           # each reported row once
        label = cell.row if reported else f"{cell.row} ({cell.source})"
        if value is not None:
            points.setdefault(label, {"device": cell.device})[cell.metric] = value
    return {label: p for label, p in points.items() if "fid" in p and "time_s" in p}


def draw(axes, points: dict, style: dict) -> None:
    # labels alternate above and below their points, which keeps neighbours on the time axis legible
    ordered = sorted(points.items(), key=lambda item: (item[1]["time_s"], item[1]["fid"]))
    for index, (label, p) in enumerate(ordered):
        recall = p.get("recall")
        filled = recall is not None
        axes.scatter(p["time_s"], p["fid"], s=recall_area(recall), marker=style["marker"], zorder=3,
                     facecolors=style["color"] if filled else "none", edgecolors=style["color"], alpha=0.8)
        axes.annotate(label, (p["time_s"], p["fid"]), fontsize=7, xytext=(5, 4 if index % 2 else -9),
                      textcoords="offset points")


def trilemma_figure(compared, excluded_rows, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(10, 7))
    reported = table1_points(compared, reported=True)
    reproduced = table1_points(compared, reported=False)
    draw(axes, reported, {"marker": "o", "color": "tab:blue"})
    draw(axes, reproduced, {"marker": "*", "color": "tab:red"})
    devices = sorted({str(p["device"]) for p in reproduced.values()})
    handles = [plt.Line2D([], [], marker="o", ls="", color="tab:blue", label="reported (Table 1, one V100)")]
    if reproduced:
        handles.append(plt.Line2D([], [], marker="*", ls="", color="tab:red", markersize=12,
                                  label=f"reproduced here ({', '.join(devices)})"))
    if excluded_rows:
        handles.append(plt.Line2D([], [], ls="", label=f"{len(excluded_rows)} smoke or reduced row(s) not drawn"))
    handles.append(plt.Line2D([], [], marker="o", ls="", mfc="none", color="tab:blue", label="recall not reported"))
    axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, fontsize=8)
    axes.set_xscale("log")
    axes.set_yscale("log")
    low, high = axes.get_ylim()
    ticks = [t for t in FID_TICKS if low <= t <= high]
    axes.set_yticks(ticks, [str(t) for t in ticks])
    axes.minorticks_off()
    axes.set_xlabel("seconds to sample a batch of 100 images (log scale)")
    axes.set_ylabel("FID (CIFAR-10, lower is better; log scale)")
    axes.set_title("Sample quality, speed and coverage: marker area grows with recall")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150)
    plt.close(figure)
    return path
