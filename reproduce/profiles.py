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
       channels costs 5 s per batch-64 iteration on a 2-core CPU, ~500 updates in a 45-minute budget),
       budgets of about 45 minutes per run on one core, full-protocol mode counts (26,000 samples),
       FID on CPU_FID_SAMPLES samples against every training image. Runs in runs/cpu/, results in results/cpu/, data in $DDGAN_DATA
       or data/. Its rows are never compared with the paper's cells (`make compare` lists them apart).
"""
import copy
from dataclasses import dataclass
from pathlib import Path

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
# are where classifiers disagree. One draw of 26,000 samples of a step-500 T=4 snapshot: 877 modes, KL 1.009
# with one epoch of training (98.87% on the test set), 903 / 0.857 with three (99.39%); the real digits score
# 1000 / 0.025 with both.
CPU_CLASSIFIER = PAPER_CLASSIFIER


# ---- cpu profile: the networks, budgets and sample counts of reduced-scale runs on real data
# One width for every network of the profile: base 16 channels at 32x32, x2 at 16x16, x4 at 8x8.
# Measured here (1 free thread, batch 64): a DDGAN iteration with this generator and discriminator
# takes 0.64 s (base 8: 0.33 s, base 32: 1.9 s). At base 8 (G 0.15M, D 0.03M parameters) StackedMNIST
# collapsed to one image within 500 steps; at base 16 the samples stay diverse.
CPU_WIDTH = {"base_channels": 16, "channel_mult": [1, 2, 4]}
CPU_TRAIN = {"batch_size": 64, "epochs": None, "log_every": 100, "checkpoint_every": 500,
             "snapshot_every": None, "num_workers": 0}
# training steps by (dataset, method); the DDPM's are set for the DDGAN's wall-clock budget (equal
# compute): DDGAN_TO_DDPM_STEP_COST is the ratio of their iteration times at this width, each run sharing
# the 2 cores with one other training. The trilemma's DDGAN T=4 (R1 every 15 steps) took 3469.5 s for
# its 4000 steps, 0.867 s each; the DDPM 0.43 s per step beside it (median of 100-step intervals) and
# 0.36 s beside a StackedMNIST training: ratios 2.0-2.4. 2.25 keeps the DDPM's wall clock within the
# 60 minutes at the slower pace. (The first DDPM run, at 2.1, spent a sixth of its wall clock on
# 1000-step monitoring grids: the cpu DDPM draws none, CPU_DDPM_TRAIN.)
# StackedMNIST: 1000 steps, since every configuration measured peaked by step 750 and lost modes after it
# (below); the committed 2500-step runs peaked at 500.
CPU_DDGAN_STEPS = {"stackedmnist": 1000, "cifar10": 4000}
# Per-dataset departures of DDGAN runs from the common width and the paper's learning rates.
# StackedMNIST: with base-16 networks both D losses sat at log 2 from step ~1300 on (D at chance) and
# 4000 steps reached 481 modes, KL 2.09. A base-32 D (lr 2e-4 for both) covers far more: measured here
# with scores every 250-500 steps, every configuration peaks early and then loses modes (GAN mode
# dropping), so runs are scored every 250 steps and evaluated at their best score (snapshot-best.pt).
# Measured (T=4, one thread each, two runs side by side; modes / KL of 26,000 samples unless stated):
# - base-16 G, base-32 D: 869 / 1.02 at step 500 (its best), 481 / 1.58 of 5,000 samples at step 1000;
# - the same with lr 1e-4 for both: 433 / 1.46 of 2,000 samples at 750, 326 / 1.79 at 1000; with R1
#   gamma 0.5: 429 / 1.44 at 750, 358 / 1.61 at 1000 (the base-16 G at lr 2e-4: 502 / 1.16 of 2,000
#   at 500);
# - base-16 G, base-32 D with a minibatch-stddev channel, 3000 steps: 734 / 1.41 (2,000 samples: 303
#   at 500, 302 at 750);
# - base-32 G (1.5M parameters, 2.2 s per iteration) and that D, 1500 steps in 3409 s: 628 / 1.51,
#   its scores flat at 310-335 of 2,000 from step 500 on.
# Of the KL of 1.07 at the best snapshot (5,000 samples), 0.875 is the skew of each channel's digit
# histogram (7s at 25%, 6s, 8s, 9s at 1-3%: loops are drawn as blobs) and little is dependence between
# channels (mutual information 0.04-0.05 per pair): the bar needs sharper digits, not more mixing.
# Measured later (same pair unless stated; modes / KL of 2,000 samples): none clearly above its 502 / 1.16
# at 500 (two reached 518 and 522 with a higher KL, about two standard deviations of a 2,000-sample count,
# and fell after it as the rest did):
# - base-32 G: 110 at step 250, 182 at 500; base-48 D: 5 at 250, 149 at 500, 518 / 1.10 at 750, 463 at 1000,
#   377 at 1250; base-64 D: 2 at 250, 288 at 500, 466 / 1.27 at 750 (a wider D starts later, peaks no higher);
# - Adam betas (0, 0.99): 17 at 250, 522 / 1.20 at 500, 437 at 750; D lr 4e-4 (G 2e-4): 14 at 250, 221 at 500,
#   226 at 750;
# - lr 1e-4 for G, 4e-4 for D: 1 mode at 250 (D won); batch 128: 286 at 400, 401 / 1.57 at 600, 373 at 800;
# - EMA decay 0.999: 1 mode at 250 and 500 (the average still weighs the first steps' weights); run on to step
#   3000: 79 at 1000, 254 at 1500, 390 / 1.56 at 2000 (its best), 339 at 3000; 0.9995: 1 until 1000, 94 at 2000,
#   304 / 2.16 at 3000 (the EMA changes no training step: these average the same generators as the 0.995 run,
#   and no longer average of them reaches its 476-502 at step 500); shorter EMAs
#   (on the AVX2 host, so not the same trajectory as the rest): 0.98: 196 at 250, 216 / 2.30 at 500; 0.9: 228 at
#   250, 189 / 2.48 at 500 (the 0.995's 20 at 250 and 476-502 at 500): averaging helps at the peak;
# - scored every 100 steps (one-epoch classifier): 217 at 300, 526 / 1.24 at 400, 478 / 1.20 at 500 (the lowest
#   KL), 416-449 at 600-800; R1 off (r1_gamma 0): 364 at 400, 482 / 1.28 at 500, 493 / 1.22 at 700, 447 at 800;
# - optim.lr_schedule=cosine_steps over 1000 steps: 427 at 500, 483 / 1.20 at 750, 344 / 1.64 at 1000, so the
#   fall goes on with the learning rate near 1e-5;
# - R1 gamma 0.2 with r1_rescale (0.2 per step on average, the official 0.02 without it is 0.0013): 352 at
#   500, 380 at 750, 391 / 1.44 at 1000, then 326 and 303 at 1250 and 1500: a later, lower peak.
# - cosine_steps over 1000 steps with that R1 (0.2, rescaled): 420 / 1.33 at 750, 334 at 1000; with 0.05:
#   483 / 1.24 at 750, 392 / 1.57 at 1000.
# - Measured at 5a0961a+ (a host about half as fast: 1.2-1.4 s per iteration beside another run), 1000 steps,
#   the best snapshot also scored on 26,000 samples: use_latent false (z = 0): 531 / 1.09 at 500, 525 at 750,
#   400 at 1000; 26,000 samples at 500: 893 / 0.921. The discriminator with spectral_norm: 401 at 500,
#   508 / 1.07 at 750, 372 at 1000; 26,000 at 750: 871 / 0.894. Spectral norm with D lr 4e-4: 539 / 1.08 at
#   500, 452 at 750, 250 at 1000; 26,000 at 500: 890 / 0.916. A slower D peaks later, not higher, and every peak's
#   KL stays at 0.87-0.92 (26,000).
# - The generators ignore z: for fixed x_{t+1} their outputs vary 0.014-0.026 over z against 0.17-0.24 over x_{t+1}
#   (the spectral-norm run's best snapshot, by t). With the mode-seeking term (method.diversity_weight, a departure):
#   0.1: 554 / 1.04 at 500 (z-spread 0.25-0.36 during training), 399 at 750, 350 at 1000; 26,000 at 500: 934 / 0.837,
#   the first 26,000-sample score above 900 modes; 1.0: 373 at 500, 443 / 1.44 at 750; 0.3: 416 / 1.58 at 500,
#   404 at 750, 367 at 1000; 0.03: 506 / 1.16 at 500, 367 at 750. Of the 0.1 run's KL (0.94 on
#   5,000 samples) 0.74 is still the skew of each channel's digits (6s and 9s at 1-2%, 1s, 2s and 5s at 13-26%).
# A fresh D trained for 300 steps against the frozen step-2500 generator of the committed run separates its
# t = 0 pairs with 92% accuracy, while the run's own D sits at chance (losses at log 2): the generator
# outruns D, yet every stronger D (width, learning rate) collapsed the generator.
# 2500 steps of the base-16 G (1.2-1.3 s each beside another run) fit the 60 minutes: the committed T=4
# run (b7192c9) took 3212 s, peaked at step 500 (476 / 1.21 of 2,000; 866 / 1.04 of 26,000) and fell
# to 228 at step 1500; its T=1 (3056 s) collapsed, at most 48 modes of 2,000, 39 / 4.28 of 26,000.
CPU_DDGAN_SETTINGS = {"stackedmnist": {"method": {"diversity_weight": 0.1},
                                       "discriminator": {"base_channels": 32},
                                       "lr": {"generator": 2e-4, "discriminator": 2e-4},
                                       "train": {"eval_every": 250, "eval_samples": 2000, "channels_last": True}}}
DDGAN_TO_DDPM_STEP_COST = 2.25
CPU_OPTIM = {"lr_schedule": "constant", "ema_decay": 0.995}
CPU_DDPM_OPTIM = {"lr": {"denoiser": 5e-4}, "warmup_steps": 100}
# a monitoring grid of the DDPM's 1000-step sampler costs about 165 s here (a sixth of its budget went to
# them): the pipeline draws its grids after training instead
CPU_DDPM_TRAIN = {"sample_every": None}
CPU_FID_SAMPLES = 2000
# samples scored for modes and KL: the paper's 26,000 (a few minutes per model on one core)
CPU_MODE_SAMPLES = 26_000
CPU_FID_PROTOCOLS = ("clean",)
# FID's reference: the first N prepared training images (None: all, the 10,000 of the trilemma's set;
# their statistics are computed once and cached)
CPU_FID_REFERENCE = None


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
            if config["train"].get("eval_every") and config["data"]["dataset"] == "stackedmnist":
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
    config["train"] = {**config["train"], **CPU_TRAIN, "steps": cpu_steps(config)}
    ddpm = config["method"]["name"] == "ddpm"
    config["train"].update(CPU_DDPM_TRAIN if ddpm else {})
    config["optim"] = {**config["optim"], **CPU_OPTIM, **(CPU_DDPM_OPTIM if ddpm else {})}
    settings = CPU_DDGAN_SETTINGS.get(config["data"]["dataset"]) if config["method"]["name"] == "ddgan" else None
    if settings:
        for network in ("generator", "discriminator"):
            config["networks"][network].update(settings.get(network, {}))
        config["method"].update(settings.get("method", {}))
        config["optim"]["lr"] = dict(settings["lr"])
        config["train"].update(settings.get("train", {}))
    config["name"] = f"{config.get('name', 'run')}-cpu"
    return config
