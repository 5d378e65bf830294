"""Profiles: `paper` runs the paper's settings; `smoke` runs the same pipeline tiny, in minutes on a CPU.

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
"""
import copy
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("paper", "smoke")

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
    def archives(self) -> Path:
        """Where the smoke profile writes its procedural archives."""
        return self.work / "archives"

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
