"""What the demo trains and evaluates, per profile.

Each run is one training (a complete run config) followed by one or more evaluations (sampling
options such as the number of DDPM steps). The quick profile is the default of `make demo`: the core
of the trilemma on the 25-Gaussians (the one-step GAN, DDGAN with 4 steps, a Gaussian denoiser on
the same 4 steps, DDPM sampled with 4 to 1000 steps). The full profile (the committed results/demo/)
trains every run on both datasets, longer. All methods on a dataset use networks of the same family
and width (MLPs of width 256 with Fourier input features in 2D, conv U-Nets of base width 32 on
digits), the same data and the same trainer.
"""
from dataclasses import dataclass, field

from baselines.presets import DEMO_DATASETS, DEMO_METHODS, DEMO_SAMPLING, DEMO_STEPS, demo_config
from ddgan.core.methods import build_method
from ddgan.datasets.specs import dataset_kind
from ddgan.presets import mixture25_ddgan, stacked_digits_ddgan

DATASETS = DEMO_DATASETS
BASELINES = DEMO_METHODS

# training steps of DDGAN and of the Gaussian denoiser, per profile and dataset
# (on the 25-Gaussians DDGAN T=4 trains longest: the one-step and two-step GANs are context rows)
STEPS = {
    "quick": {"mixture25": {"ddgan": 10000, "ddgan_short": 4000, "gaussian": 4000},
              "stacked_digits": {"ddgan": 1200, "ddgan_short": 1200, "gaussian": 1200}},
    "full": {"mixture25": {"ddgan": 24000, "ddgan_short": 6000, "gaussian": 6000},
             "stacked_digits": {"ddgan": 6000, "ddgan_short": 3000, "gaussian": 4000}},
    # plumbing only (used by the tests): every code path, seconds of training
    "smoke": {"mixture25": {"ddgan": 20, "ddgan_short": 20, "gaussian": 20},
              "stacked_digits": {"ddgan": 10, "ddgan_short": 10, "gaussian": 10}},
}
BASELINE_STEPS = {**DEMO_STEPS, "smoke": {d: {m: 10 for m in BASELINES} for d in DATASETS}}
# samples scored per evaluation; 1000-step samplers on digits get fewer: at 5,000 they took half of the
# full profile's 84 minutes (each digits table has a `data` row at every sample count it uses)
SAMPLES = {"quick": {"default": 10_000, "slow_digits": 1_000},
           "full": {"default": 10_000, "slow_digits": 1_000},
           "smoke": {"default": 400, "slow_digits": 20}}
# what each profile trains: quick (`make demo`) the core of the trilemma on the 25-Gaussians (the one-step
# GAN, DDGAN with 4 steps, the Gaussian denoiser on the same 4 steps, and DDPM sampled with 4 to 1000
# steps); full and smoke every run on both datasets
PROFILE_DATASETS = {"quick": ("mixture25",), "full": DATASETS, "smoke": DATASETS}
PROFILE_RUNS = {"quick": ("ddgan-T1", "ddgan-T4", "gaussian-T4", "ddpm")}
CLASSIFIER_EPOCHS = {"quick": 40, "full": 40, "smoke": 2}
# the smoke profile samples many-step samplers (DDPM, DDIM, VDM, latent diffusion) with at most this many
# steps, as reproduce's smoke profile does: each row keeps its label and its sample count, its NFE is counted
SMOKE_SAMPLING_STEPS = 4
DIGITS_NETWORK = {"width": 32, "batch_size": 64}   # as the baselines' digit networks


# the order runs start in (two workers): the rows the paper's claim rests on first, so that an interrupted
# or `--finished-only` demo has them
PRIORITY = ("ddgan-T4", "ddpm", "gaussian-T4", "ddgan-T1", "vdm", "ddgan-T2", "ldm", "vae")


@dataclass
class DemoEvaluation:
    label: str            # the row's method name in tables and figures
    sample_options: dict  # keyword arguments of method.sample
    n_samples: int
    nfe: int              # expected network calls per sample (the table's NFE comes from the method)
    num_timesteps: int    # the T column: steps of the trained process (None for VAE / VDM)


@dataclass
class DemoRun:
    dataset: str
    key: str              # run directory name
    config: dict
    evaluations: list = field(default_factory=list)

    @property
    def priority(self):
        """Start order: datasets in DATASETS order, runs in PRIORITY order."""
        return DATASETS.index(self.dataset), PRIORITY.index(self.key)


def ddgan_runs(dataset, steps, n_samples):
    """DDGAN with T = 1, 2 (steps["ddgan_short"]) and 4 (steps["ddgan"])."""
    runs = []
    for T in (1, 2, 4):
        length = steps["ddgan" if T == 4 else "ddgan_short"]
        if dataset_kind(dataset) == "points":
            config = mixture25_ddgan(num_timesteps=T, steps=length)
        else:
            config = stacked_digits_ddgan(num_timesteps=T, steps=length, **DIGITS_NETWORK)
        runs.append(DemoRun(dataset, f"ddgan-T{T}", config, [DemoEvaluation(f"DDGAN T={T}", {}, n_samples, T, T)]))
    return runs


def gaussian_denoiser_run(dataset, steps, n_samples):
    """The DDPM eps-model trained on DDGAN's own 4 large steps, sampled with its Gaussian posterior."""
    config = demo_config("ddpm", dataset, steps)
    config["name"] = f"{dataset}-gaussian-T4"
    config["method"].update(num_timesteps=4, schedule="ddgan_vp", beta_min=0.1, beta_max=20.0)
    for key in ("beta_start", "beta_end"):
        config["method"].pop(key, None)
    return DemoRun(dataset, "gaussian-T4", config, [DemoEvaluation("Gaussian denoiser T=4", {}, n_samples, 4, 4)])


def baseline_runs(dataset, profile, samples):
    runs = []
    for method in BASELINES:
        config = demo_config(method, dataset, BASELINE_STEPS[profile][dataset][method])
        T = config["method"].get("num_timesteps")
        evaluations = []
        options_by_label = dict(DEMO_SAMPLING[method])
        if method == "ddpm":   # the paper's point: the same DDPM at 4 ancestral steps
            options_by_label = {"DDPM 4 steps": {"steps": 4}, **options_by_label}
        sampler = build_method(config, sampling_only=True)      # the method answers its NFE
        for label, options in options_by_label.items():
            slow = dataset_kind(dataset) == "digits" and sampler.nfe(**options) >= 1000
            n = samples["slow_digits"] if slow else samples["default"]
            if profile == "smoke" and "steps" in options:
                options = {**options, "steps": min(options["steps"], SMOKE_SAMPLING_STEPS)}
            evaluations.append(DemoEvaluation(label, options, n, sampler.nfe(**options), T))
        runs.append(DemoRun(dataset, method, config, evaluations))
    return runs


def demo_runs(profile, datasets=None):
    """The runs of `profile` on `datasets` (default: the profile's own), restricted to what it trains."""
    if profile not in STEPS:
        raise ValueError(f"unknown demo profile {profile!r}; choose one of {sorted(STEPS)}")
    runs = []
    for dataset in datasets or PROFILE_DATASETS[profile]:
        steps, samples = STEPS[profile][dataset], SAMPLES[profile]
        runs += ddgan_runs(dataset, steps, samples["default"])
        runs.append(gaussian_denoiser_run(dataset, steps["gaussian"], samples["default"]))
        runs += baseline_runs(dataset, profile, samples)
    keep = PROFILE_RUNS.get(profile)
    runs = [r for r in runs if keep is None or r.key in keep]
    for run in runs:
        # the demo draws its own figures from the finished runs; monitoring grids would cost a 1000-step
        # sampler more than its training between two grids
        run.config["train"]["sample_every"] = None
    return runs
