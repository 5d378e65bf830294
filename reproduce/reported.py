"""The reported numbers (results/reported/*.csv) and which of their rows this package reproduces."""
import csv
from dataclasses import dataclass, replace
from pathlib import Path

from ddgan.core.methods import method_class
from ddgan.presets import PAPER_TRAINING, TABLE2_VARIANTS
from reproduce.targets import get_target

REPORTED_DIR = Path(__file__).resolve().parent.parent / "results" / "reported"
TABLE_FILES = ("table1", "table2", "table3", "table4", "table5", "comparators")
TABLE_TITLES = {
    "table1": "Table 1: CIFAR-10",
    "table2": "Table 2: CIFAR-10 ablations",
    "table3": "Table 3: StackedMNIST (1000 modes)",
    "table4": "Table 4: CelebA-HQ 256",
    "table5": "Table 5: LSUN Church 256",
    "ddpm": "Comparator: DDPM (Ho et al. 2020)",
    "ddim": "Comparator: the DDIM paper's CIFAR-10 table (FID)",
    "vdm": "Comparator: VDM (Kingma et al. 2021)",
    "lsgm": "Comparator: LSGM (Vahdat et al. 2021)",
}


@dataclass(frozen=True)
class ReportedCell:
    table: str
    row: str
    metric: str
    value: float | None     # None when the source gives no single number (e.g. "1000 or 2000")
    text: str               # the value as printed
    status: str             # C or U
    source: str
    note: str


def as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def load_reported(folder=REPORTED_DIR) -> list[ReportedCell]:
    cells = []
    for name in TABLE_FILES:
        with open(Path(folder) / f"{name}.csv", newline="") as file:
            for line in csv.DictReader(file):
                cells.append(ReportedCell(line["table"], line["row"], line["metric"], as_number(line["value"]),
                                          line["value"], line["status"], line["source"], line["note"]))
    return cells


@dataclass(frozen=True)
class Reproduction:
    """Rows of results that reproduce one reported row: same dataset, method and variant."""
    table: str
    row: str                # the reported row's name, or a row of ours that the source does not have
    dataset: str
    method: str
    variant: str
    source: str             # "trained here" or "released checkpoint"


TRAINED, RELEASED = "trained here", "released checkpoint"
RELEASED_METHOD = "official"    # the result label of a released DDGAN checkpoint (ddgan/core/catalog.py)

# The targets (reproduce/targets.py) say which runs and evaluations this package makes; these say which
# reported row each one reproduces. Target -> the source's table it reproduces:
TARGET_TABLES = {"table1": "table1", "table2": "table2", "table3": "table3", "celebahq": "table4", "lsun": "table5"}
# (table, method of the evaluation) -> the row the source names; an evaluation with no row is a row of
# ours (e.g. the VAE baseline in Table 1), named by its method's title
ROWS = {
    ("table1", "ddgan"): "Denoising Diffusion GAN, T=4", ("table1", "ddpm"): "DDPM", ("table1", "ddim"): "DDIM, T=50",
    ("table3", "ddgan"): "Denoising Diffusion GAN", ("table4", "ddgan"): "Denoising Diffusion GAN",
    ("table5", "ddgan"): "Denoising Diffusion GAN",
}
# Table 2's ablations by their variant (ddgan.presets.TABLE2_VARIANTS); the others are named T=N
TABLE2_ROWS = {
    "oneshot_aug": "one-shot GAN with diffusion as data augmentation",
    "direct_xprev": "direct denoising: G outputs x_{t-1}", "eps": "noise generation: G outputs eps",
    "no_z": "without latent variable z",
}
# comparator table (named as the method) -> its row, reproduced by Table 1's evaluation of that method
COMPARATOR_ROWS = {"ddpm": "DDPM (Ho et al.)", "vdm": "VDM (Kingma et al.)"}


def paper_variant(dataset: str) -> str:
    """The variant of the paper's DDGAN run on `dataset` (its T), the run a released checkpoint holds."""
    return f"T{PAPER_TRAINING[dataset][0]}"


def row_name(table: str, evaluation) -> str:
    if table == "table2":
        steps = TABLE2_VARIANTS[evaluation.label].get("num_timesteps", PAPER_TRAINING["cifar10"][0])
        return TABLE2_ROWS.get(evaluation.label, f"T={steps}")
    if (table, evaluation.method) in ROWS:
        return ROWS[table, evaluation.method]
    return f"{method_class(evaluation.method).title or evaluation.method} (this package's baseline)"


def target_reproductions(target: str) -> list[Reproduction]:
    """The rows of `target`'s evaluations, the released checkpoint's row after the DDGAN rows."""
    table = TARGET_TABLES[target]
    rows = [Reproduction(table, row_name(table, evaluation), training.dataset, evaluation.method, evaluation.label,
                         TRAINED)
            for training in get_target(target).trainings for evaluation in training.evaluations]
    released = [replace(r, method=RELEASED_METHOD, source=RELEASED) for r in rows
                if r.method == "ddgan" and r.variant == paper_variant(r.dataset)]
    after = max(i for i, r in enumerate(rows) if r.method == "ddgan") + 1
    return rows[:after] + released + rows[after:]


def ddim_reproductions() -> list[Reproduction]:
    """The DDIM paper's grid, as the ddim-table target samples it."""
    return [Reproduction("ddim", "DDIM, S={steps}, eta={eta}".format(**e.sample_options), training.dataset, e.method,
                         e.label, TRAINED)
            for training in get_target("ddim-table").trainings for e in training.evaluations]


def reproductions() -> list[Reproduction]:
    """Every (table, row) this package produces numbers for."""
    rows = [row for target in TARGET_TABLES for row in target_reproductions(target)]
    rows += [replace(r, table=r.method, row=COMPARATOR_ROWS[r.method]) for r in rows
             if r.table == "table1" and r.method in COMPARATOR_ROWS]
    return rows + ddim_reproductions()
