"""`eval-official`: evaluate a released checkpoint (netG_{epoch}.pth) with the paper's protocol, no training.

    make eval-official CKPT=checkpoints/cifar10/netG_1200.pth PRESET=cifar10

Its rows have method "official" and the variant of the paper's run (e.g. T4), so the comparison
shows them next to the rows of the models trained here. The smoke profile has no released checkpoint
to read: without CKPT it writes a stand-in, a randomly initialised tiny generator saved in the
official key layout, and evaluates that through the same loader.
"""
from pathlib import Path

import torch

from ddgan.core.config import ConfigError
from ddgan.base.provenance import file_sha256
from ddgan.datasets.specs import dataset_kind, get_spec
from ddgan.nets import build_network
from ddgan.official import to_official_state
from ddgan.presets import PAPER_TRAINING, get_preset
from reproduce.compare import write_comparison
from reproduce.evaluation import Evaluation
from reproduce.pipeline import (digit_classifier_path, evaluate_stages, evaluation_context, preflight,
                               prepare_datasets)
from reproduce.targets import OFFICIAL_METRICS, OFFICIAL_TARGET, Training

STANDIN_NAME = "netG_smoke_standin.pth"


def standin_checkpoint(config: dict, folder: Path) -> Path:
    """A random generator of `config` saved as the official code saves netG (keys prefixed `module.`)."""
    path = Path(folder) / STANDIN_NAME
    if not path.exists():
        torch.manual_seed(0)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(to_official_state(build_network(config["networks"]["generator"])), path)
    return path


def run_official(profile, preset: str, checkpoint, options) -> None:
    """Prepare the reference data, load the released generator, evaluate it, compare."""
    if preset not in PAPER_TRAINING:
        raise ConfigError(f"PRESET={preset!r} has no released checkpoint layout; choose one of "
                          f"{', '.join(PAPER_TRAINING)}")
    config = profile.scale_config(get_preset(preset))
    dataset = config["data"]["dataset"]
    if checkpoint is None and profile.smoke:
        checkpoint = standin_checkpoint(config, profile.work / "official")
    if checkpoint is None:
        raise ConfigError("eval-official needs the released generator: CKPT=path/to/netG_1200.pth "
                          "(--checkpoint PATH), from the official repository's checkpoint links")
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    options.log(f"== {OFFICIAL_TARGET} ({profile.name} profile): {checkpoint} as the paper's {preset} generator")
    evaluation = Evaluation(f"T{config['method']['num_timesteps']}", "official", OFFICIAL_METRICS[dataset])
    preflight(profile, [evaluation], options)
    spec = get_spec(dataset)     # a derived dataset (StackedMNIST) is built from its source (MNIST)
    prepare_datasets(profile, (spec.location, dataset) if spec.source == "derived" else (dataset,), options)
    classifier = digit_classifier_path(profile, options.log) if dataset_kind(dataset) == "digits" else None
    context = evaluation_context(profile, OFFICIAL_TARGET, options, classifier)
    run_dir = profile.run_dir(dataset, f"official-{evaluation.label}-{file_sha256(checkpoint)[:12]}")
    training = Training(dataset, run_dir.name, None, (evaluation,))
    evaluate_stages(context, training, run_dir, checkpoint, official_config=config)
    write_comparison(profile, options.log)
