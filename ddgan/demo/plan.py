"""What the demo trains and evaluates, per profile.

Each run is one training (a complete run config) followed by one or more evaluations (sampling
options such as the number of DDPM steps). The quick profile is the default of `make demo`
(at most 15 minutes on 2 CPU cores); the full profile trains the same set longer.
"""
from dataclasses import dataclass, field

from ddgan.presets import mixture25_ddgan, mixture25_ddpm, stacked_digits_ddgan, stacked_digits_ddpm

DATASETS = ("mixture25", "stacked_digits")

# training steps per run kind and profile
STEPS = {
    "quick": {"mixture25": {"ddgan": 2500, "gaussian": 2500, "ddpm": 4000},
              "stacked_digits": {"ddgan": 1200, "gaussian": 1200, "ddpm": 1500}},
    "full": {"mixture25": {"ddgan": 12000, "gaussian": 8000, "ddpm": 16000},
             "stacked_digits": {"ddgan": 6000, "gaussian": 4000, "ddpm": 8000}},
    # plumbing only (used by the tests): every code path, seconds of training
    "smoke": {"mixture25": {"ddgan": 20, "gaussian": 20, "ddpm": 20},
              "stacked_digits": {"ddgan": 10, "gaussian": 10, "ddpm": 10}},
}
# samples scored per evaluation; many-step samplers get fewer where they would dominate the time
SAMPLES = {"quick": {"default": 10_000, "ddpm_1000_digits": 1_000},
           "full": {"default": 10_000, "ddpm_1000_digits": 5_000},
           "smoke": {"default": 400, "ddpm_1000_digits": 20}}
CLASSIFIER_EPOCHS = {"quick": 40, "full": 40, "smoke": 2}
# conv-net width and batch on stacked digits (8x8 convs are slow on a CPU: the quick profile is leaner)
DIGITS_NETWORK = {"quick": {"width": 32, "batch_size": 64}, "full": {"width": 48, "batch_size": 128},
                  "smoke": {"width": 8, "batch_size": 16}}


@dataclass
class Evaluation:
    label: str            # the row's method name in tables and figures
    sample_options: dict  # keyword arguments of method.sample
    n_samples: int
    nfe: int
    num_timesteps: int    # the T column: steps of the trained process


@dataclass
class DemoRun:
    dataset: str
    key: str              # run directory name
    config: dict
    evaluations: list = field(default_factory=list)

    @property
    def cost(self):
        """A rough size used to start the longest runs first."""
        return self.config["train"]["steps"] + sum(e.nfe * e.n_samples for e in self.evaluations) / 2000


def maker(dataset, profile, mixture25_fn, digits_fn):
    """The preset function of `dataset`, with the profile's network size for digits."""
    if dataset == "mixture25":
        return mixture25_fn
    return lambda *args, **kw: digits_fn(*args, **kw, **DIGITS_NETWORK[profile])


def ddgan_runs(dataset, profile, steps, n_samples):
    make = maker(dataset, profile, mixture25_ddgan, stacked_digits_ddgan)
    runs = []
    for T in (1, 2, 4):
        config = make(num_timesteps=T, steps=steps)
        runs.append(DemoRun(dataset, f"ddgan-T{T}", config, [Evaluation(f"DDGAN T={T}", {}, n_samples, T, T)]))
    return runs


def diffusion_runs(dataset, profile, steps, samples):
    make = maker(dataset, profile, mixture25_ddpm, stacked_digits_ddpm)
    n, n_long = samples["default"], samples["ddpm_1000_digits"] if dataset == "stacked_digits" else samples["default"]
    gaussian = DemoRun(dataset, "gaussian-T4", make(4, "ddgan_vp", steps["gaussian"]),
                       [Evaluation("Gaussian denoiser T=4", {}, n, 4, 4)])
    ddpm = DemoRun(dataset, "ddpm-T1000", make(1000, "linear", steps["ddpm"]),
                   [Evaluation("DDPM 4 steps", {"steps": 4}, n, 4, 1000),
                    Evaluation("DDPM 1000 steps", {"steps": 1000}, n_long, 1000, 1000)])
    return [gaussian, ddpm]


def demo_runs(profile, datasets=DATASETS):
    if profile not in STEPS:
        raise ValueError(f"unknown demo profile {profile!r}; choose one of {sorted(STEPS)}")
    runs = []
    for dataset in datasets:
        steps = STEPS[profile][dataset]
        runs += ddgan_runs(dataset, profile, steps["ddgan"], SAMPLES[profile]["default"])
        runs += diffusion_runs(dataset, profile, steps, SAMPLES[profile])
    return runs
