"""What each target prepares, trains and evaluates (the make targets are thin wrappers of these).

    cifar10     CIFAR-10 -> DDGAN (paper settings, T = 4) -> 50k EMA samples -> FID (both protocols), IS,
                recall, NFE, time
    table2      the eight CIFAR-10 ablations of Table 2 (T = 1, 2, 4, 8, one-shot GAN with diffusion as data
                augmentation, direct x_{t-1} prediction, eps generation, no latent z)
    table3      MNIST -> StackedMNIST, the digit classifier (MNIST padded to 32x32), DDGAN, 26k samples:
                modes and KL
    celebahq    CelebA-HQ 256 -> DDGAN (T = 2) -> FID          (Table 4)
    lsun        LSUN Church 256 -> DDGAN (T = 4) -> FID        (Table 5)
    table1      Table 1's rows this package trains: DDGAN (the cifar10 run), DDPM (1000 steps), DDIM (50 steps,
                from the DDPM model), and the VAE, latent diffusion and VDM baselines; NFE and time measured
                on the local device
    ddim-table  the DDIM paper's CIFAR-10 grid (steps 10..1000 x eta 0..1) from the DDPM model
The cpu profile (reproduce.profiles) runs two of them on real data at reduced scale, with its own
trainings:
    table3      as above, plus DDGAN T = 1 (the GAN corner) at the same networks and budget, and the
                real data's own mode count
    trilemma    (cpu only) DDGAN T = 4 and a DDPM of the same network width for the same wall-clock
                budget on a dataset of 32x32 images prepared from a folder / .npz (ARCHIVE=, named
                TRILEMMA_DATASET): FID (clean protocol), NFE and time; the DDPM at 4 and at 100 steps
A run shared by several targets (the DDGAN T = 4 CIFAR-10 run serves cifar10, table1 and table2) is
trained and evaluated once.
"""
from dataclasses import dataclass
from functools import partial

from ddgan.presets import TABLE2_VARIANTS, get_preset
from reproduce.evaluation import Evaluation

IMAGE_METRICS = ("fid", "is", "pr", "time")     # CIFAR-10: Tables 1 and 2
FID_METRICS = ("fid", "time")                   # 256x256: Tables 4 and 5 report FID
MODE_METRICS = ("modes",)                       # StackedMNIST: Table 3


@dataclass(frozen=True)
class Training:
    """One training run and the evaluations of its EMA snapshot."""
    dataset: str
    run: str                   # run directory: <work>/<dataset>/<run>
    config: callable           # () -> the paper's run config
    evaluations: tuple


@dataclass(frozen=True)
class Target:
    name: str
    datasets: tuple            # prepared in this order; --archive applies to the first
    trainings: tuple
    digit_classifier: bool = False
    own_images: int | None = None    # the first dataset is the user's images (ARCHIVE=), prepared at this size


def ddgan_cifar10(variant: str) -> Training:
    preset = "cifar10" if variant == "T4" else f"cifar10_{variant}"
    return Training("cifar10", f"ddgan-{variant}", partial(get_preset, preset),
                    (Evaluation(variant, "ddgan", IMAGE_METRICS),))


def cifar10_baselines() -> tuple:
    """The baselines with a CIFAR-10 config (baselines/presets.py)."""
    from baselines.presets import CIFAR10_PRESETS
    return tuple(CIFAR10_PRESETS)


def baseline_config(method: str) -> dict:
    from baselines.presets import cifar10_config
    return cifar10_config(method)


def ddim_label(options: dict) -> str:
    return f"S{options['steps']}_eta{options['eta']}"


def ddim_evaluations(metrics, steps=None) -> tuple:
    """DDIM samplings of the DDPM model: every cell of the DDIM paper's table, or those with `steps`."""
    from baselines.presets import ddim_table_options
    return tuple(Evaluation(ddim_label(options), "ddim", metrics, options) for options in ddim_table_options()
                 if steps is None or (options["steps"] == steps and options["eta"] == 0.0))


def ddpm_cifar10(evaluations) -> Training:
    return Training("cifar10", "ddpm", partial(baseline_config, "ddpm"), evaluations)


def table1_trainings() -> tuple:
    ddpm = ddpm_cifar10((Evaluation("T1000", "ddpm", IMAGE_METRICS),) + ddim_evaluations(IMAGE_METRICS, steps=50))
    others = tuple(Training("cifar10", method, partial(baseline_config, method),
                            (Evaluation(method, method, IMAGE_METRICS),)) for method in cifar10_baselines() if method != "ddpm")
    return (ddgan_cifar10("T4"), ddpm) + others


def ddgan_training(dataset: str, num_timesteps: int, metrics) -> Training:
    return Training(dataset, f"ddgan-T{num_timesteps}", partial(preset_with_steps, dataset, num_timesteps),
                    (Evaluation(f"T{num_timesteps}", "ddgan", metrics),))


def preset_with_steps(preset: str, num_timesteps: int, dataset: str | None = None) -> dict:
    """A DDGAN preset with T = num_timesteps (and another prepared dataset of the same image shape)."""
    config = get_preset(preset)
    if config["method"]["num_timesteps"] != num_timesteps:
        config["method"]["num_timesteps"] = num_timesteps
        config["name"] = f"{config['name']}-T{num_timesteps}"
    if dataset is not None:
        config["data"]["dataset"] = dataset
        config["name"] = config["name"].replace(preset, dataset, 1)
    return config


# ------------------------------------------------------------------ cpu profile

TRILEMMA_DATASET = "cifar10_subset"    # the name the trilemma target prepares its images under
TRILEMMA_SIZE = 32
TRILEMMA_METRICS = ("fid", "time")
DDPM_FEW_STEPS, DDPM_MANY_STEPS = 4, 100


def trilemma_ddpm() -> dict:
    config = baseline_config("ddpm")
    config["data"] = {**config["data"], "dataset": TRILEMMA_DATASET, "hflip": True}
    config["name"] = f"{TRILEMMA_DATASET}-ddpm"
    return config


def trilemma_target() -> Target:
    """DDGAN T = 4 against a DDPM of the same width and wall-clock budget (respaced ancestral sampling)."""
    ddgan = Training(TRILEMMA_DATASET, "ddgan-T4", partial(preset_with_steps, "cifar10", 4, TRILEMMA_DATASET),
                     (Evaluation("T4", "ddgan", TRILEMMA_METRICS),))
    ddpm = Training(TRILEMMA_DATASET, "ddpm", trilemma_ddpm,
                    tuple(Evaluation(f"S{steps}", "ddpm", TRILEMMA_METRICS, {"steps": steps})
                          for steps in (DDPM_FEW_STEPS, DDPM_MANY_STEPS)))
    return Target("trilemma", (TRILEMMA_DATASET,), (ddgan, ddpm), own_images=TRILEMMA_SIZE)


CPU_TARGETS = {
    "table3": lambda: Target("table3", ("mnist", "stackedmnist"),
                             tuple(ddgan_training("stackedmnist", t, MODE_METRICS) for t in (4, 1)),
                             digit_classifier=True),
    "trilemma": trilemma_target,
}


# name -> () -> Target; built on demand, so a target never imports what another one needs
TARGETS = {
    "cifar10": lambda: Target("cifar10", ("cifar10",), (ddgan_cifar10("T4"),)),
    "table2": lambda: Target("table2", ("cifar10",), tuple(ddgan_cifar10(v) for v in TABLE2_VARIANTS)),
    "table3": lambda: Target("table3", ("mnist", "stackedmnist"), (ddgan_training("stackedmnist", 4, MODE_METRICS),),
                             digit_classifier=True),
    "celebahq": lambda: Target("celebahq", ("celeba_256",), (ddgan_training("celeba_256", 2, FID_METRICS),)),
    "lsun": lambda: Target("lsun", ("lsun_church",), (ddgan_training("lsun_church", 4, FID_METRICS),)),
    "table1": lambda: Target("table1", ("cifar10",), table1_trainings()),
    "ddim-table": lambda: Target("ddim-table", ("cifar10",), (ddpm_cifar10(ddim_evaluations(FID_METRICS)),)),
}
# evaluation of a released checkpoint (no training); its metrics by dataset
OFFICIAL_TARGET = "eval-official"
OFFICIAL_METRICS = {"cifar10": IMAGE_METRICS, "stackedmnist": MODE_METRICS, "celeba_256": FID_METRICS,
                    "lsun_church": FID_METRICS}
TARGET_NAMES = (*TARGETS, OFFICIAL_TARGET, *(name for name in CPU_TARGETS if name not in TARGETS))


class TargetError(ValueError):
    """An unknown target or a missing target argument."""


def get_target(name: str, profile: str = "paper") -> Target:
    """The target `name` as `profile` runs it (the cpu profile has targets of its own)."""
    if profile == "cpu" and name in CPU_TARGETS:
        return CPU_TARGETS[name]()
    if profile == "cpu" and name in TARGETS:
        raise TargetError(f"the cpu profile runs {', '.join(CPU_TARGETS)}; {name!r} needs the paper profile "
                          "(or PROFILE=smoke)")
    if name in CPU_TARGETS and name not in TARGETS:
        raise TargetError(f"target {name!r} belongs to the cpu profile: add --profile cpu (PROFILE=cpu)")
    if name not in TARGETS:
        raise TargetError(f"unknown target {name!r}; choose one of {', '.join(TARGET_NAMES)}")
    return TARGETS[name]()
