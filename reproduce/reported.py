"""The reported numbers (results/reported/*.csv) and which of their rows this package reproduces."""
import csv
import re
from dataclasses import dataclass
from pathlib import Path

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
TABLE2_ROWS = {
    "T1": "T=1", "T2": "T=2", "T4": "T=4", "T8": "T=8",
    "oneshot_aug": "one-shot GAN with diffusion as data augmentation",
    "direct_xprev": "direct denoising: G outputs x_{t-1}", "eps": "noise generation: G outputs eps",
    "no_z": "without latent variable z",
}
OURS_ONLY = {"vae": "VAE (this package's baseline)", "ldm": "Latent diffusion (this package's baseline)",
             "vdm": "VDM (this package's baseline)"}


def ddgan_rows(table: str, row: str, dataset: str, variant: str) -> list[Reproduction]:
    return [Reproduction(table, row, dataset, "ddgan", variant, TRAINED),
            Reproduction(table, row, dataset, "official", variant, RELEASED)]


def ddim_reproductions(cells) -> list[Reproduction]:
    out = []
    for cell in cells:
        match = re.fullmatch(r"DDIM, S=(\d+), eta=([\d.]+)", cell.row) if cell.table == "ddim" else None
        if match and cell.metric == "fid":
            variant = f"S{match[1]}_eta{float(match[2])}"
            out.append(Reproduction("ddim", cell.row, "cifar10", "ddim", variant, TRAINED))
    return out


def reproductions(cells) -> list[Reproduction]:
    """Every (table, row) this package produces numbers for."""
    rows = ddgan_rows("table1", "Denoising Diffusion GAN, T=4", "cifar10", "T4")
    rows += [Reproduction("table1", "DDPM", "cifar10", "ddpm", "T1000", TRAINED),
             Reproduction("table1", "DDIM, T=50", "cifar10", "ddim", "S50_eta0.0", TRAINED)]
    rows += [Reproduction("table1", name, "cifar10", method, method, TRAINED) for method, name in OURS_ONLY.items()]
    rows += [Reproduction("table2", name, "cifar10", "ddgan", variant, TRAINED) for variant, name in TABLE2_ROWS.items()]
    rows += [Reproduction("table2", "T=4", "cifar10", "official", "T4", RELEASED)]
    rows += ddgan_rows("table3", "Denoising Diffusion GAN", "stackedmnist", "T4")
    rows += ddgan_rows("table4", "Denoising Diffusion GAN", "celeba_256", "T2")
    rows += ddgan_rows("table5", "Denoising Diffusion GAN", "lsun_church", "T4")
    rows += [Reproduction("ddpm", "DDPM (Ho et al.)", "cifar10", "ddpm", "T1000", TRAINED),
             Reproduction("vdm", "VDM (Kingma et al.)", "cifar10", "vdm", "vdm", TRAINED)]
    return rows + ddim_reproductions(cells)
