"""Run a target: preflight -> data -> (digit classifier) -> train -> evaluate -> compare.

Every stage is skipped when its marker says it finished (reproduce.stages); training resumes from
its training state; preparing a dataset that is already prepared does nothing.
"""
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ddgan.base.provenance import json_digest
from ddgan.core.config import ConfigError
from ddgan.core.monitoring import BEST_SNAPSHOT_FILE
from ddgan.core.trainer import SNAPSHOT_FILE
from ddgan.datasets import data_root, open_prepared, prepare
from ddgan.datasets.folder import prepare_folder
from ddgan.sampling import load_sampler
from reproduce.compare import write_comparison
from reproduce.cpu_report import data_grid, sample_grid
from reproduce.evaluation import EvaluationContext, ensure_recorded, evaluate_sampler, real_data_modes
from reproduce.launch import process_count, threads_per_job, train_run
from reproduce.profiles import CPU_CLASSIFIER, PAPER_CLASSIFIER, SMOKE_CLASSIFIER
from reproduce.smoke_data import smoke_archive, spec_overrides
from reproduce.stages import Stages


@dataclass
class RunOptions:
    """Choices of the person running a target (make variables / command-line options)."""
    archive: str | None = None          # an already downloaded archive of the target's first dataset
    processes: int | None = None        # training processes (default: one per visible GPU, else 1)
    device: str | None = None           # sampling and evaluation device (default: cuda if available)
    is_weights: str | None = None
    vgg_weights: str | None = None
    workers: int = 1                    # image-decoding processes for dataset preparation
    log: callable = print
    jobs: int = 1                       # trainings of a target running at once (each with its share of the CPU)


def evaluation_stage_name(evaluation) -> str:
    return f"eval-{evaluation.method}-{evaluation.label}-{'-'.join(evaluation.metrics)}"


# ------------------------------------------------------------------ stages

def preflight(profile, evaluations, options: RunOptions) -> None:
    """Fail before any download or training when the weights of a requested metric are missing."""
    if profile.smoke:
        return
    metrics = {m for evaluation in evaluations for m in evaluation.metrics}
    if "is" in metrics:
        from ddgan.metrics.inception import find_is_weights
        find_is_weights(options.is_weights)
    if "pr" in metrics:
        from ddgan.metrics.precision_recall import load_vgg16_fc
        load_vgg16_fc(options.vgg_weights)


def prepare_own_images(profile, dataset: str, size: int, archive, log) -> None:
    """The user's images (a folder, .npy or .npz given as ARCHIVE=) prepared as `dataset` (ddgan.datasets.folder)."""
    root = data_root(profile.data_root)
    if archive is None:
        if not (root / dataset / "manifest.json").is_file():
            raise ConfigError(f"this target trains on your own {size}x{size} images: pass them with ARCHIVE=PATH "
                              f"(--archive PATH; a folder, .npy or .npz), e.g. ARCHIVE=cifar10_jpeg_subset.npz; "
                              f"they are prepared as {root / dataset}")
        log(f"[data] {dataset}: already prepared in {root / dataset}")
        return
    prepare_folder(archive, dataset, size, root, progress=False)
    log(f"[data] {dataset}: your images from {archive}, prepared in {root / dataset}")


def prepare_datasets(profile, datasets, options: RunOptions, own_images: int | None = None) -> None:
    """Prepare each dataset once: the real archive (paper, cpu), a procedural one in the real format (smoke),
    or the user's images (a target with own_images)."""
    if profile.smoke and options.archive:
        raise ConfigError("--archive (ARCHIVE=) belongs to the paper profile; the smoke profile writes its own "
                          "tiny archives")
    for index, dataset in enumerate(datasets):
        archive = options.archive if index == 0 else None
        if index == 0 and own_images:
            prepare_own_images(profile, dataset, own_images, archive, options.log)
            continue
        if profile.smoke:
            if dataset != "stackedmnist":        # StackedMNIST is built from the prepared MNIST
                archive = smoke_archive(dataset, profile.archives)
            prepare(dataset, profile.data_root, archive=archive, download=False, progress=False,
                    **spec_overrides(dataset))
        else:
            prepare(dataset, profile.data_root, archive=archive, workers=options.workers)
        options.log(f"[data] {dataset}: prepared in {open_prepared(dataset, profile.data_root).path.parent}")


def train_digit_classifier(profile) -> dict:
    """The classifier of StackedMNIST's channels: MNIST digits padded by 2 to 32x32."""
    from ddgan.metrics.digit_classifier import save_digit_classifier, train_digit_classifier as train
    train_split, test_split = (open_prepared("mnist", profile.data_root, split) for split in ("train", "test"))
    pad = ((0, 0), (2, 2), (2, 2))
    classifier = train(np.pad(train_split.images[..., 0], pad), train_split.labels,
                       np.pad(test_split.images[..., 0], pad), test_split.labels,
                       **(SMOKE_CLASSIFIER if profile.smoke else CPU_CLASSIFIER if profile.cpu else PAPER_CLASSIFIER))
    path = profile.digit_classifier
    path.parent.mkdir(parents=True, exist_ok=True)
    save_digit_classifier(classifier, path)
    return {"path": str(path), "test_accuracy": classifier.test_accuracy}


def digit_classifier_path(profile, log) -> str:
    result = Stages(profile.work / "stackedmnist", log).run("digit-classifier", train_digit_classifier, profile)
    log(f"[digits] classifier {result['path']}: MNIST test accuracy {result['test_accuracy']:.4f}")
    return result["path"]


def train_stage(profile, training, options: RunOptions, threads: int | None = None) -> Path:
    run_dir = profile.run_dir(training.dataset, training.run)
    config = profile.scale_config(training.config())
    stages = Stages(run_dir, options.log)
    finished = stages.done("train")
    if finished is not None and finished["result"]["config_sha256"] != json_digest(config):
        raise ConfigError(f"{run_dir} finished training with another config than the one this target asks for "
                          f"now; move it away (or delete {stages.marker('train')} to train it further)")
    processes = process_count(options.processes)
    if profile.name == "paper" and processes == 1 and not torch.cuda.is_available():
        options.log("  warning: no GPU is visible: the paper's settings would train for weeks on a CPU "
                    "(PROFILE=smoke runs the pipeline in minutes)")
    stages.run("train", lambda: {**train_run(config, run_dir, processes, progress=profile.name == "paper",
                                             threads=threads),
                                 "config_sha256": json_digest(config)})
    return run_dir


def evaluated_snapshot(run_dir: Path) -> Path:
    """The snapshot a finished run is evaluated with: the best of its periodic scores when it kept one
    (train.eval_every: snapshot-best.pt), else the final EMA snapshot."""
    best = run_dir / BEST_SNAPSHOT_FILE
    return best if best.is_file() else run_dir / SNAPSHOT_FILE


def evaluate_stages(context, training, run_dir, checkpoint=None, official_config=None) -> None:
    """Every evaluation of one trained model (or a released checkpoint with the config of its network);
    the sampler is loaded only if an evaluation must run."""
    stages = Stages(run_dir, context.log)
    checkpoint = checkpoint or evaluated_snapshot(run_dir)
    sampler = None
    for evaluation in training.evaluations:
        name = evaluation_stage_name(evaluation)
        if stages.done(name) is None and sampler is None:
            sampler = load_sampler(checkpoint, context.device, official_preset=official_config)
        records = stages.run(name, evaluate_sampler, context, sampler, training.dataset, evaluation, run_dir,
                             str(checkpoint))
        ensure_recorded(records, context.profile.results_file(training.dataset))


def grid_path(profile, dataset: str, name: str) -> Path:
    return profile.results / "figures" / f"{dataset}-{name}.png"


def draw_sample_grids(profile, training, run_dir, context) -> None:
    """An 8x8 grid of EMA samples per evaluation (cpu profile: committed with its results)."""
    stages = Stages(run_dir, context.log)
    sampler = None
    for evaluation in training.evaluations:
        name = f"grid-{evaluation.method}-{evaluation.label}"
        if stages.done(name) is None and sampler is None:
            sampler = load_sampler(evaluated_snapshot(run_dir), context.device)
        stages.run(name, lambda e=evaluation: sample_grid(
            sampler, profile.sampling_options(e.sample_options),
            grid_path(profile, training.dataset, f"{e.method}-{e.label}")))


def draw_data_grid(profile, dataset: str, log) -> None:
    path = grid_path(profile, dataset, "training-images")
    if not path.is_file():
        data_grid(open_prepared(dataset, profile.data_root).images, path)
        log(f"[cpu] {path}: training images")


# ------------------------------------------------------------------ targets

def evaluation_context(profile, target_name, options: RunOptions, digit_classifier=None) -> EvaluationContext:
    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return EvaluationContext(profile, target_name, device, options.is_weights, options.vgg_weights,
                             digit_classifier, options.log)


def train_side_by_side(profile, trainings, options: RunOptions) -> None:
    """Train `options.jobs` of the trainings at once, each in its own process with an even share of the
    CPU threads; the evaluations then run one after the other on the finished runs."""
    if options.processes not in (None, 1) or torch.cuda.is_available():
        raise ConfigError("--jobs (JOBS=) runs several one-process CPU trainings side by side; on GPUs train one "
                          "after the other with --num-processes (NPROC=)")
    threads = threads_per_job(options.jobs)
    options.log(f"[train] {len(trainings)} trainings, {options.jobs} at a time with {threads} thread(s) each")
    with futures.ThreadPoolExecutor(options.jobs) as pool:
        running = [pool.submit(train_stage, profile, training, options, threads) for training in trainings]
        for done in futures.as_completed(running):
            done.result()


def run_target(target, profile, options: RunOptions) -> None:
    """Every stage of `target` under `profile`, then the comparison with the paper."""
    options.log(f"== {target.name} ({profile.name} profile): runs in {profile.work}, results in {profile.results}")
    preflight(profile, [e for training in target.trainings for e in training.evaluations], options)
    prepare_datasets(profile, target.datasets, options, target.own_images)
    classifier = digit_classifier_path(profile, options.log) if target.digit_classifier else None
    context = evaluation_context(profile, target.name, options, classifier)
    if profile.cpu and target.digit_classifier:
        records = Stages(profile.work / "stackedmnist", options.log).run("real-data-modes", real_data_modes, context)
        ensure_recorded(records, profile.results_file("stackedmnist"))
    if options.jobs > 1:
        train_side_by_side(profile, target.trainings, options)
    for training in target.trainings:
        options.log(f"[train] {training.dataset}/{training.run}")
        run_dir = train_stage(profile, training, options)
        evaluate_stages(context, training, run_dir)
        if profile.cpu:
            draw_sample_grids(profile, training, run_dir, context)
    if profile.cpu:
        draw_data_grid(profile, target.datasets[-1], options.log)
    write_comparison(profile, options.log)
