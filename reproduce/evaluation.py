"""Evaluation stage: sample a trained (or released) model and append its result rows to results/.

Every row is what ddgan.evaluate writes (method, variant, dataset, protocol, metrics, n_samples,
commit, config, checkpoint and its sha256, device, date, the feature weights and reference used),
plus what the pipeline knows: the profile (paper or smoke; only paper rows are ever compared with
the paper), the target, the run directory, the sampling options, the batch NFE and time were
measured on, and a row id.
"""
import json
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

from ddgan.core.checkpoint import load_snapshot
from ddgan.core.monitoring import BEST_SNAPSHOT_FILE
from ddgan.core.sampler import EVAL_SEED
from ddgan.core.config import ConfigError
from ddgan.base.provenance import git_commit
from ddgan.datasets import open_prepared
from ddgan.evaluate import TIME_BATCH, evaluate, write_records
from ddgan.metrics.digit_classifier import load_digit_classifier
from ddgan.metrics.mode_coverage import MODE_SAMPLES, classify_stacked_digits, stacked_digit_scores
from ddgan.metrics.reference import DEFAULT_CACHE_DIR
from ddgan.metrics.timing import count_nfe, device_name, time_sampling
from reproduce import profiles
from reproduce.profiles import SMOKE_FID_PROTOCOLS, SMOKE_SAMPLES, SMOKE_TIME_BATCH
from reproduce.stages import Stages

PAPER_FID_PROTOCOLS = ("clean", "paper")


@dataclass(frozen=True)
class Evaluation:
    """One set of samples of a trained model, evaluated under the paper's protocol."""
    label: str                 # the rows' variant, e.g. "T4" or "S50_eta0.0"
    method: str                # the rows' method: ddgan, ddpm, ddim, vae, ldm, vdm, official
    metrics: tuple             # of ddgan.evaluate.METRICS, as the paper profile computes them
    sample_options: dict = field(default_factory=dict)


@dataclass
class EvaluationContext:
    """What every evaluation of one target shares."""
    profile: object
    target: str
    device: str
    is_weights: str | None = None
    vgg_weights: str | None = None
    digit_classifier: str | None = None
    log: callable = print


def sample_with(sampler, options, n, generator):
    return sampler.sample(n, generator, **options)


def prepared_training_images(dataset: str, data_root) -> Path:
    """The prepared training set: the reference of FID statistics and recall features."""
    return open_prepared(dataset, data_root, "train").path / "images.npy"


def profile_reference(profile, dataset: str):
    """FID's reference: every prepared training image, or the first CPU_FID_REFERENCE of them (cpu profile)."""
    path = prepared_training_images(dataset, profile.data_root)
    if profile.cpu and profiles.CPU_FID_REFERENCE is not None:
        images = np.load(path, mmap_mode="r")
        if len(images) > profiles.CPU_FID_REFERENCE:
            return np.asarray(images[:profiles.CPU_FID_REFERENCE]), profiles.CPU_FID_REFERENCE
        return path, len(images)
    return path, None


def profile_metrics(context: EvaluationContext, evaluation: Evaluation) -> list:
    """The metrics ddgan.evaluate computes here; the smoke profile leaves some out and says which."""
    metrics = list(evaluation.metrics)
    if not context.profile.smoke:
        return metrics
    skipped = [m for m in metrics if m in ("is", "pr")]
    if skipped:
        context.log(f"  [smoke] {evaluation.label}: IS and recall skipped: their weights (pytorch-fid's TF "
                    "Inception port, VGG-16) cannot be fetched offline; the paper profile requires them")
    if "time" in metrics:
        context.log(f"  [smoke] {evaluation.label}: NFE and time measured on a batch of {SMOKE_TIME_BATCH}, "
                    f"not {TIME_BATCH}")
    return [m for m in metrics if m not in skipped and m != "time"]


def profile_sample_count(profile, metrics) -> int | None:
    """Samples to evaluate: the paper's protocol (None), a few (smoke), or CPU_FID_SAMPLES for FID (cpu;
    mode counts keep the full 26,000)."""
    if profile.smoke:
        return SMOKE_SAMPLES["modes" if "modes" in metrics else "fid"]
    if profile.cpu:
        return profiles.CPU_FID_SAMPLES if "fid" in metrics else profiles.CPU_MODE_SAMPLES if "modes" in metrics else None
    return None


def profile_protocols(profile) -> tuple:
    return SMOKE_FID_PROTOCOLS if profile.smoke else profiles.CPU_FID_PROTOCOLS if profile.cpu else PAPER_FID_PROTOCOLS


def logged_training_seconds(log_path: Path, up_to_step: int | None = None) -> float | None:
    """Wall-clock seconds of training summed over every process that trained the run (each resumed
    process restarts the trainer's clock; log.jsonl holds the elapsed seconds at every logged step),
    counting logged steps up to `up_to_step` when given."""
    if not log_path.is_file():
        return None
    total, previous = 0.0, None
    for line in log_path.read_text().splitlines():
        entry = json.loads(line)
        if up_to_step is not None and entry["step"] > up_to_step:
            break
        if "seconds" not in entry:            # a periodic score's row (eval/*, eval_seconds)
            continue
        if previous is not None and entry["seconds"] < previous:     # a new process started
            total += previous
        previous = entry["seconds"]
    return round(total + (previous or 0.0), 1)


def periodic_scores(log_path: Path) -> list[dict]:
    """The rows of train.eval_every's scores in a run's log.jsonl: {'step', 'eval/...': value}."""
    if not log_path.is_file():
        return []
    rows = (json.loads(line) for line in log_path.read_text().splitlines() if line.strip())
    return [{key: value for key, value in row.items() if key == "step" or key.startswith("eval/")}
            for row in rows if any(key.startswith("eval/") for key in row)]


def selected_snapshot(checkpoint, run_dir: Path) -> dict:
    """For a finished run evaluated with snapshot-best.pt (the best of its periodic scores): the step
    of that snapshot, the score that chose it and every periodic score; else {}."""
    if checkpoint is None or Path(checkpoint).name != BEST_SNAPSHOT_FILE:
        return {}
    snapshot = load_snapshot(checkpoint)
    return {"snapshot_step": snapshot["step"], "selected_by": snapshot.get("score"),
            "periodic_scores": periodic_scores(run_dir / "log.jsonl")}


def training_record(run_dir: Path, checkpoint=None) -> dict | None:
    """Steps and wall-clock seconds of the run's training (all its processes, resumed ones included).
    A snapshot of a training that has not finished is recorded as such, with the steps it holds."""
    run_dir = Path(run_dir)
    finished = Stages(run_dir).done("train")
    if finished is not None:
        record = {key: finished["result"].get(key) for key in ("steps", "seconds", "processes")}
        logged = logged_training_seconds(run_dir / "log.jsonl")
        return {**record, "seconds": logged if logged is not None else record["seconds"], "finished": True,
                **selected_snapshot(checkpoint, run_dir)}
    try:
        snapshot = load_snapshot(checkpoint) if checkpoint is not None else None
    except (ConfigError, FileNotFoundError):     # a released checkpoint (no training of ours), or none
        snapshot = None
    if snapshot is None:
        return None
    return {"steps": snapshot["step"], "of_steps": snapshot["config"]["train"]["steps"], "finished": False,
            "seconds": logged_training_seconds(run_dir / "log.jsonl", up_to_step=snapshot["step"])}


def smoke_timing(sample, network, device) -> dict:
    nfe = count_nfe(sample, network, SMOKE_TIME_BATCH, seed=EVAL_SEED, device=device)
    seconds = time_sampling(sample, SMOKE_TIME_BATCH, warmup=0, repeats=1, seed=EVAL_SEED, device=device).time_s
    return {"nfe": nfe, "time_s": seconds}


def evaluate_sampler(context: EvaluationContext, sampler, dataset: str, evaluation: Evaluation, run_dir,
                     checkpoint) -> list[dict]:
    """Evaluate one Evaluation of a loaded sampler; returns the rows (also appended to results/)."""
    profile, run_dir = context.profile, Path(run_dir)
    options = profile.sampling_options(evaluation.sample_options)
    sample = partial(sample_with, sampler, options)
    metrics = profile_metrics(context, evaluation)
    smoke_time = profile.smoke and "time" in evaluation.metrics
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".evaluate-", dir=run_dir) as scratch:
        common = dict(method=evaluation.method, variant=evaluation.label, dataset=dataset, config=sampler.config,
                      checkpoint=checkpoint, step=sampler.step, results_file=Path(scratch) / "rows.jsonl",
                      device=context.device)
        if metrics:
            reference, reference_count = (profile_reference(profile, dataset) if {"fid", "pr"} & set(metrics)
                                          else (None, None))
            records = evaluate(
                sample, metrics=metrics, protocols=profile_protocols(profile),
                n_samples=profile_sample_count(profile, metrics),
                allow_fewer_samples=profile.smoke or profile.cpu, seed=EVAL_SEED, reference=reference,
                cache_dir=profile.cache_dir or DEFAULT_CACHE_DIR,
                is_weights=context.is_weights, vgg_weights=context.vgg_weights,
                digit_classifier=context.digit_classifier, network=sampler.network,
                work_dir=scratch, **common)
        else:
            records, reference_count = write_records({}, {}, [None], {}, {}, 0, **common), None
        if smoke_time:
            timing = smoke_timing(sample, sampler.network, context.device)
            for record in records:
                record["metrics"].update(timing)
    time_batch = SMOKE_TIME_BATCH if smoke_time else TIME_BATCH if "time" in metrics else None
    records = [dict(record, profile=profile.name, target=context.target, run_dir=str(run_dir),
                    sample_options=options, time_batch=time_batch, training=training_record(run_dir, checkpoint),
                    **({"reference_images": reference_count} if reference_count else {}),
                    row_id=uuid.uuid4().hex)
               for record in records]
    append_rows(records, profile.results_file(dataset))
    warn_on_nfe_mismatch(context, sampler, options, records[0]["metrics"].get("nfe"))
    for record in records:
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in record["metrics"].items()}
        context.log(f"  {dataset} {evaluation.method} {evaluation.label} [{record['protocol'] or '-'}]: {shown}")
    return json.loads(json.dumps(records))


def real_data_modes(context: EvaluationContext, dataset: str = "stackedmnist") -> list[dict]:
    """The row of the training set's own mode count: 26,000 training images drawn at random (seed EVAL_SEED),
    labelled by the same digit classifier as the samples (the ceiling a sampler can reach)."""
    train = open_prepared(dataset, context.profile.data_root, "train")
    count = min(profiles.CPU_MODE_SAMPLES if context.profile.cpu else MODE_SAMPLES, len(train))
    chosen = np.sort(np.random.default_rng(EVAL_SEED).choice(len(train), count, replace=False))
    classifier = load_digit_classifier(context.digit_classifier, context.device)
    batches = (np.asarray(train.images[chosen[i:i + 1000]]) for i in range(0, len(chosen), 1000))
    predictions = classify_stacked_digits(batches, classifier, -(-len(chosen) // 1000))
    scores = stacked_digit_scores(predictions.labels, predictions.confidences)
    record = {"method": "data", "variant": "train", "dataset": dataset, "protocol": None,
              "metrics": scores, "n_samples": len(chosen), "commit": git_commit(),
              "feature_weights": {"digits": classifier.description},
              "reference": {"images_sha256": train.manifest["splits"]["train"]["images_sha256"]},
              "device": device_name(context.device), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "profile": context.profile.name, "target": context.target, "row_id": uuid.uuid4().hex}
    append_rows([record], context.profile.results_file(dataset))
    context.log(f"  {dataset} training images: {scores['modes']} modes, KL {scores['kl']:.4f}, confident fraction "
                f"{scores['confident_fraction']:.4f} ({scores['confident_modes']} modes) ({len(chosen)} images)")
    return [record]


def warn_on_nfe_mismatch(context, sampler, options, counted) -> None:
    """The NFE in a row is counted from calls of sampler.network; say so when the method declares another."""
    declared = sampler.method.nfe(**options)
    if counted is not None and counted != declared:
        context.log(f"  warning: {sampler.describe()} declares NFE {declared} for {options or 'its default sampling'}, "
                    f"but its network ({type(sampler.network).__name__}) was called {counted} times per batch; "
                    "the row holds the counted value")


def append_rows(records: list[dict], path: Path) -> None:
    """Append JSON lines in one write (rows of one evaluation land together or not at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as file:
        file.write("".join(json.dumps(record) + "\n" for record in records))


def ensure_recorded(records: list[dict], path: Path) -> None:
    """Put back rows of a finished evaluation that are missing from the results file (e.g. deleted)."""
    present = set()
    if path.is_file():
        present = {json.loads(line).get("row_id") for line in path.read_text().splitlines() if line.strip()}
    missing = [record for record in records if record["row_id"] not in present]
    if missing:
        append_rows(missing, path)
