"""Profiles: `paper` runs the paper's settings; `smoke` runs the same pipeline tiny, in minutes on a CPU;
`cpu` trains real data at reduced scale on a CPU (tens of minutes per run).

paper  the presets as they are (ddgan.presets, baselines.presets), real datasets (Kaggle / LSUN, or
       --archive), 50,000 samples (26,000 for modes), FID under both protocols, IS, recall, NFE, time.
       Runs in runs/, results in results/, data in $DDGAN_DATA or data/.
smoke  tiny networks of the same architectures, a few training steps on tiny procedural datasets
       written in the real archive formats (reproduce.smoke_data) and imported with --archive, a few
       samples. Everything lives under runs/smoke/ (results in runs/smoke/results/), never in results/.
       FID is computed everywhere (paper protocol, real offline Inception, a second per distance).
       What the smoke profile leaves out, and says so when it runs:
       - IS and recall: their weights (pytorch-fid's TF Inception port, VGG-16) cannot be fetched offline.
       - NFE and time are measured on batches of SMOKE_TIME_BATCH, not the paper's 100.
cpu    real data (MNIST from its IDX archive -> StackedMNIST; a folder / .npz of 32x32 images for the
       trilemma target), the package's small conv networks instead of the paper's (NCSN++ at 32 base
       channels costs 5 s per batch-64 iteration on a 2-core CPU), bf16 where the CPU has it,
       budgets of about an hour per run on both cores (StackedMNIST: 10,000 steps), full-protocol mode counts (26,000 samples),
       FID on CPU_FID_SAMPLES samples against every training image. Runs in runs/cpu/, results in results/cpu/, data in $DDGAN_DATA
       or data/. Its rows are never compared with the paper's cells (`make compare` lists them apart).
"""
import copy
from dataclasses import dataclass
from pathlib import Path

from ddgan.datasets.specs import dataset_kind

PROFILES = ("paper", "smoke", "cpu")

SMOKE_TRAIN = {"batch_size": 4, "steps": 3, "epochs": None, "log_every": 1, "checkpoint_every": 3,
               "snapshot_every": None, "num_workers": 0}
SMOKE_SAMPLES = {"fid": 10, "modes": 60}
SMOKE_TIME_BATCH = 4
SMOKE_FID_PROTOCOLS = ("paper",)
SMOKE_SAMPLING_STEPS = 4          # many-step samplers (DDPM, DDIM, VDM, LDM) sample with at most this
SMOKE_METHOD = {"sample_steps": SMOKE_SAMPLING_STEPS, "autoencoder_steps": 1}
# the digit classifier: 99.4% on MNIST's test set in the paper profile, ~75% on the smoke digits
PAPER_CLASSIFIER = {"epochs": 3, "batch_size": 128}
SMOKE_CLASSIFIER = {"epochs": 5, "batch_size": 32}
# the cpu profile scores with the paper profile's classifier: the blurred digits of reduced-scale generators
# are where classifiers disagree (docs/cpu-profile-trials.md, "classifier")
CPU_CLASSIFIER = PAPER_CLASSIFIER


# ---- cpu profile: the networks, budgets and sample counts of reduced-scale runs on real data
# The measurements behind these numbers, and every StackedMNIST configuration tried, are in
# docs/cpu-profile-trials.md; the bf16 timings in results/bench/cpu-precision-*.md.
# One width for every network of the profile: base 16 channels at 32x32, x2 at 16x16, x4 at 8x8 (at base 8
# StackedMNIST collapsed to one image; NCSN++ costs seconds per iteration here).
CPU_WIDTH = {"base_channels": 16, "channel_mult": [1, 2, 4]}
CPU_TRAIN = {"batch_size": 64, "epochs": None, "log_every": 100, "checkpoint_every": 500,
             "snapshot_every": None, "num_workers": 0}
# training steps by (dataset, method); the DDPM's are set for the DDGAN's wall-clock budget (equal compute):
# DDGAN_TO_DDPM_STEP_COST is the measured ratio of their iteration times at this width.
CPU_DDGAN_STEPS = {"stackedmnist": 10_000, "cifar10": 4000}
DDGAN_TO_DDPM_STEP_COST = 2.25
# Per-dataset departures of DDGAN runs from the common width and the paper's learning rates. StackedMNIST:
# a base-32 generator (1.5M parameters: the base-16 one drew blobs that the classifier labels as digits),
# the base-32 discriminator, lr 2e-4 for both, the mode-seeking term (method.diversity_weight) that the
# 1000-step trials found best, the paper's lazy R1 (the preset's) and EMA 0.999 (the official EMA, LSUN's
# decay: 0.9999 would average over the whole run); 10,000 steps scored every 500 on 5,000 samples and
# evaluated at the snapshot with the lowest KL.
CPU_DDGAN_SETTINGS = {"stackedmnist": {"method": {"diversity_weight": 0.1},
                                       "generator": {"base_channels": 32},
                                       "discriminator": {"base_channels": 32},
                                       "lr": {"generator": 2e-4, "discriminator": 2e-4},
                                       "optim": {"ema_decay": 0.999},
                                       "train": {"eval_every": 500, "eval_samples": 5000}}}
CPU_OPTIM = {"lr_schedule": "constant", "ema_decay": 0.995}
CPU_DDPM_OPTIM = {"lr": {"denoiser": 5e-4}, "warmup_steps": 100}
# a monitoring grid of the DDPM's 1000-step sampler costs minutes here: the pipeline draws its grids after
# training instead
CPU_DDPM_TRAIN = {"sample_every": None}
CPU_FID_SAMPLES = 2000
# samples scored for modes and KL: the paper's 26,000 (a few minutes per model on one core)
CPU_MODE_SAMPLES = 26_000
CPU_FID_PROTOCOLS = ("clean",)
# FID's reference: the first N prepared training images (None: all, the 10,000 of the trilemma's set;
# their statistics are computed once and cached)
CPU_FID_REFERENCE = None


def cpu_mixed_precision(announce=print):
    """bf16 where the CPU computes it natively (AVX512_BF16 or AMX: a training iteration 1.3-1.7x faster,
    results/bench/cpu-precision-*.md), else float32, saying why in one line."""
    from ddgan.core.hardware import bf16_support
    support = bf16_support("cpu")
    if support.available:
        return "bf16"
    announce(f"cpu profile: training in float32, not bf16: {support.reason}")
    return "no"


class ProfileError(ValueError):
    """An unknown profile or a profile setting that cannot apply."""


@dataclass(frozen=True)
class Profile:
    """Where a profile's runs, data and results go, and how it scales a run config."""
    name: str
    work: Path                 # run directories, stage markers
    results: Path              # metrics.jsonl per dataset, comparison/
    data_root: Path | None     # prepared datasets (None: $DDGAN_DATA or ./data)
    cache_dir: Path | None     # reference statistics (None: the metrics package's default)

    @property
    def smoke(self) -> bool:
        return self.name == "smoke"

    @property
    def cpu(self) -> bool:
        return self.name == "cpu"

    @property
    def archives(self) -> Path:
        """Where the smoke profile writes its procedural archives."""
        return self.work / "archives"

    @property
    def digit_classifier(self) -> Path:
        """StackedMNIST's digit classifier, trained by the pipeline before any StackedMNIST run."""
        return self.work / "stackedmnist" / "digit_classifier.pt"

    def run_dir(self, dataset: str, run: str) -> Path:
        return self.work / dataset / run

    def results_file(self, dataset: str) -> Path:
        return self.results / dataset / "metrics.jsonl"

    def comparison_dir(self) -> Path:
        return self.results / "comparison"

    def scale_config(self, config: dict) -> dict:
        """The run config this profile trains: unchanged (paper), or tiny (smoke)."""
        config = copy.deepcopy(config)
        if self.data_root is not None:
            config["data"]["root"] = str(self.data_root)
        if self.cpu:
            config = cpu_config(config)
            if config["train"].get("eval_every") and dataset_kind(config["data"]["dataset"]) == "digits":
                config["train"]["eval_classifier"] = str(self.digit_classifier)
            return config
        if not self.smoke:
            return config
        config["networks"] = {name: tiny_network(spec) for name, spec in config["networks"].items()}
        config["method"] = {k: (min(v, SMOKE_METHOD[k]) if k in SMOKE_METHOD and v else v)
                            for k, v in config["method"].items()}
        config["train"] = {**config["train"], **SMOKE_TRAIN}
        config["name"] = f"{config.get('name', 'run')}-smoke"
        return config

    def sampling_options(self, options: dict) -> dict:
        if self.smoke and "steps" in options:
            return {**options, "steps": min(options["steps"], SMOKE_SAMPLING_STEPS)}
        return dict(options)


def make_profile(name: str, work=None, results=None, data_root=None) -> Profile:
    """The profile `name` with its default folders, each replaceable (tests use temporary ones)."""
    if name not in PROFILES:
        raise ProfileError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)} "
                           "(paper: the paper's settings; smoke: tiny, minutes on a CPU)")
    if name == "paper":
        return Profile(name, Path(work or "runs"), Path(results or "results"),
                       Path(data_root) if data_root else None, None)
    if name == "cpu":
        return Profile(name, Path(work or "runs/cpu"), Path(results or "results/cpu"),
                       Path(data_root) if data_root else None, None)
    work = Path(work or "runs/smoke")
    return Profile(name, work, Path(results or work / "results"), Path(data_root or work / "data"),
                   work / "cache")


# ------------------------------------------------------------------ tiny networks (smoke)

def attention_levels(image_size: int) -> list:
    """Channel multipliers of a tiny U-Net that still reaches 16x16 (where the paper's attention is)."""
    levels = max(2, (image_size // 16).bit_length())
    return [1] * (levels - 1) + [2]


def tiny_ncsnpp(spec):
    size = spec["image_size"]
    return {**spec, "base_channels": 8 if size <= 64 else 4, "channel_mult": attention_levels(size),
            "num_res_blocks": 1, "attn_resolutions": [16], "z_emb_dim": 16, "n_mlp": 1}


def tiny_ddpm_unet(spec):
    return {**spec, "ch": 8, "ch_mult": [1] * len(spec["ch_mult"]), "num_res_blocks": 1,
            "attn_resolutions": [spec["image_size"] // 2], "dropout": 0.0, "norm_groups": 4}


def tiny_autoencoder(spec):
    # the number of levels sets the latent size, which the latent denoiser depends on: keep it
    return {**spec, "base_channels": 8, "channel_mult": [1] * len(spec["channel_mult"]),
            "num_res_blocks": 1}


TINY_NETWORKS = {
    "ncsnpp": tiny_ncsnpp,
    "small_discriminator": lambda spec: {**spec, "ngf": 4, "t_emb_dim": 16},
    "large_discriminator": lambda spec: {**spec, "ngf": 2, "t_emb_dim": 16},
    "ddpm_unet": tiny_ddpm_unet,
    "conv_encoder": tiny_autoencoder,
    "conv_decoder": tiny_autoencoder,
}


def tiny_network(spec: dict) -> dict:
    """The same architecture with few channels and blocks; nested network specs shrink too."""
    spec = {key: tiny_network(value) if isinstance(value, dict) and "arch" in value else value
            for key, value in spec.items()}
    shrink = TINY_NETWORKS.get(spec["arch"])
    return shrink(spec) if shrink else spec


# ------------------------------------------------------------------ small networks (cpu)

def cpu_generator(spec):
    """The paper's NCSN++ generator -> the small conv U-Net, same image size and latent size."""
    return {"arch": "conv_unet", "image_size": spec["image_size"], "in_channels": spec["in_channels"],
            **CPU_WIDTH, "nz": spec["nz"], "z_emb_dim": 64, "output": "tanh"}


def cpu_denoiser(spec):
    """DDPM's U-Net -> the same small conv U-Net as the DDGAN generator, without z (an eps-model)."""
    return {"arch": "conv_unet", "image_size": spec["image_size"], "in_channels": spec["in_channels"],
            **CPU_WIDTH, "output": "linear"}


def cpu_discriminator(spec):
    return {"arch": "conv_discriminator", "in_channels": 3, **CPU_WIDTH}


CPU_NETWORKS = {
    "ncsnpp": cpu_generator,
    "small_discriminator": cpu_discriminator,
    "large_discriminator": cpu_discriminator,
    "ddpm_unet": cpu_denoiser,
}


def cpu_steps(config: dict) -> int:
    dataset, method = config["data"]["dataset"], config["method"]["name"]
    key = "cifar10" if dataset not in CPU_DDGAN_STEPS else dataset
    steps = CPU_DDGAN_STEPS[key]
    return round(steps * DDGAN_TO_DDPM_STEP_COST) if method == "ddpm" else steps


def cpu_config(config: dict) -> dict:
    """A paper config at CPU scale: small conv networks of one width, a ~20-minute budget, constant
    learning rates and a short EMA (the paper's 0.9999 would average over more steps than are run)."""
    unknown = sorted({spec["arch"] for spec in config["networks"].values()} - set(CPU_NETWORKS))
    if unknown:
        raise ProfileError(f"the cpu profile has no small network for {', '.join(unknown)}; it trains DDGAN and "
                           "DDPM runs only (see reproduce.profiles.CPU_NETWORKS)")
    config["networks"] = {name: CPU_NETWORKS[spec["arch"]](spec) for name, spec in config["networks"].items()}
    config["train"] = {**config["train"], **CPU_TRAIN, "steps": cpu_steps(config),
                       "mixed_precision": cpu_mixed_precision()}
    ddpm = config["method"]["name"] == "ddpm"
    config["train"].update(CPU_DDPM_TRAIN if ddpm else {})
    config["optim"] = {**config["optim"], **CPU_OPTIM, **(CPU_DDPM_OPTIM if ddpm else {})}
    settings = CPU_DDGAN_SETTINGS.get(config["data"]["dataset"]) if config["method"]["name"] == "ddgan" else None
    if settings:
        for network in ("generator", "discriminator"):
            config["networks"][network].update(settings.get(network, {}))
        config["method"].update(settings.get("method", {}))
        config["optim"].update(settings.get("optim", {}))
        config["optim"]["lr"] = dict(settings["lr"])
        config["train"].update(settings.get("train", {}))
    config["name"] = f"{config.get('name', 'run')}-cpu"
    return config
