"""Train one demo run and score its samples (runs in a worker process, one thread by default)."""
import functools
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch

from ddgan.base.provenance import slug
from ddgan.core.sampler import Sampler
from ddgan.core.trainer import train
from ddgan.datasets.specs import dataset_kind
from ddgan.datasets.toy import to_original_units
from ddgan.demo.scoring import score_stacked_digits
from ddgan.metrics.digit_classifier import load_digit_classifier
from ddgan.metrics.mode_coverage import CONFIDENT_PROBABILITY, COVERED_FRACTION, mixture25_scores

CLASSIFIER_FILE = "digit_classifier.pt"   # in the demo's work folder
SAMPLE_BATCH = 2000
SAMPLE_SEED = 0
KEEP_FOR_FIGURES = {"mixture25": 5000, "stacked_digits": 64}


def generate(sampler, n, options, seed=SAMPLE_SEED):
    """n samples (images clamped to [-1, 1], points in training units) drawn SAMPLE_BATCH at a time."""
    return torch.cat([x.cpu() for _, x in sampler.batches(n, SAMPLE_BATCH, seed, **options)]).numpy()


def score(dataset, samples, classifier):
    """samples: 2-D points in original units, or digit images in [-1, 1]."""
    if dataset_kind(dataset) == "points":
        return mixture25_scores(samples)
    return score_stacked_digits(samples, classifier)


def wait_for(path, poll_seconds=5):
    """The path once it exists: the demo's main process trains the digit classifier while the runs train."""
    while not Path(path).exists():
        time.sleep(poll_seconds)
    return path


def is_trained(run, root):
    """Whether `run` has finished training in `root` (its demo-training record reached train.steps)."""
    record_path = Path(root) / run.dataset / run.key / "demo-training.json"
    return record_path.exists() and json.loads(record_path.read_text())["steps"] == run.config["train"]["steps"]


def run_progress(runs, root):
    """'mixture25/ddgan_T4 3400/10000 ETA 2 min' for every run of `runs` training now (its last log row)."""
    parts = []
    for run in runs:
        run_dir = Path(root) / run.dataset / run.key
        log = run_dir / "log.jsonl"
        if is_trained(run, root) or not log.exists():
            continue
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        row = next((r for r in reversed(rows) if "eta_seconds" in r), None)
        if row is not None:
            eta = f" ETA {row['eta_seconds'] / 60:.0f} min" if row["eta_seconds"] is not None else ""
            parts.append(f"{run.dataset}/{run.key} {row['step']}/{run.config['train']['steps']}{eta}")
    return "; ".join(parts)


def train_once(run, run_dir):
    """Train (or resume / skip a finished run) and return the total training seconds."""
    record_path = run_dir / "demo-training.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {"seconds": 0.0, "steps": 0}
    started = time.time()
    trainer = train(run.config, run_dir, progress=False)
    if trainer.step != record["steps"]:   # trained (or resumed) now; a finished run only reloads
        record = {"seconds": record["seconds"] + time.time() - started, "steps": trainer.step}
        record_path.write_text(json.dumps(record))
    if trainer.interrupted:   # stopped by a signal with its state saved: the next demo resumes it; no scores now
        raise SystemExit(128 + trainer.interrupted)
    return trainer, record["seconds"]


@functools.cache   # one watcher per worker process, however many runs it executes
def stop_when_orphaned(parent_pid, poll_seconds=5.0):
    """SIGTERM this process once its parent is gone (a demo stopped by a signal to its main process
    only, or killed): the trainer then saves and exits instead of training on unseen, with nobody to
    take its result."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="stop-when-orphaned").start()


def execute_run(run, root, classifier_path=None, threads=1):
    """Train `run`, sample every evaluation, score it; returns one result row per evaluation."""
    stop_when_orphaned(os.getppid())
    torch.set_num_threads(threads)
    run_dir = Path(root) / run.dataset / run.key
    trainer, seconds = train_once(run, run_dir)
    points = dataset_kind(run.dataset) == "points"
    classifier = None if points else load_digit_classifier(wait_for(classifier_path))
    sampler = Sampler(trainer.method, trainer.ema.net, run.config, str(run_dir), trainer.step)
    rows = []
    for evaluation in run.evaluations:
        cached = run_dir / f"scores-{slug(evaluation.label)}.json"
        key = {"step": trainer.step, "n_samples": evaluation.n_samples, "sample_options": evaluation.sample_options,
               **({"covered_fraction": COVERED_FRACTION} if points
                  else {"confident_probability": CONFIDENT_PROBABILITY})}
        previous = json.loads(cached.read_text()) if cached.exists() else None
        if previous and previous["key"] == key:   # scored before by this finished run: reuse
            rows.append({**previous["row"], "train_seconds": round(seconds, 1)})
            continue
        samples = to_original_units(generate(sampler, evaluation.n_samples, evaluation.sample_options),
                                    run.config["data"])
        np.save(run_dir / f"samples-{slug(evaluation.label)}.npy", samples[:KEEP_FOR_FIGURES[run.dataset]])
        rows.append({"dataset": run.dataset, "method": evaluation.label, "T": evaluation.num_timesteps,
                     "nfe": trainer.method.nfe(**evaluation.sample_options), "n_samples": evaluation.n_samples,
                     **score(run.dataset, samples, classifier),
                     "train_steps": trainer.step, "train_seconds": round(seconds, 1),
                     "run": run.key, "sample_options": evaluation.sample_options})
        cached.write_text(json.dumps({"key": key, "row": rows[-1]}))
    return rows
