"""`make demo`: the trilemma on a CPU in minutes, offline.

    python -m ddgan.demo [--profile quick|full] [--out results/demo-quick] [--work runs/demo] [--jobs 2]

Trains DDGAN (T = 1, 2, 4), a Gaussian denoiser on DDGAN's 4-step schedule and the baselines
(DDPM sampled with DDPM and DDIM steps, VAE, latent diffusion, VDM) on the 25-Gaussian grid and on
stacked 8x8 digits (the quick profile: the core rows on the grid only; see ddgan.demo.plan), then
scores samples (modes, quality, KL), counts network calls and times sampling. Finished runs and their
scores in --work are reused, so an interrupted demo continues where it stopped; --finished-only
writes the tables of the runs finished so far without training.
"""
import argparse
import concurrent.futures as futures
import math
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ddgan.base.provenance import git_commit, machine_description, now, slug
from ddgan.datasets.specs import dataset_kind
from ddgan.datasets.toy import MIXTURE25_CENTRES, MIXTURE25_STD, digits_split, mixture25, stack_digits
from ddgan.demo import figures, report
from ddgan.demo.execute import CLASSIFIER_FILE, execute_run, is_trained, run_progress
from ddgan.demo.plan import CLASSIFIER_EPOCHS, DATASETS, PROFILE_DATASETS, STEPS, demo_runs
from ddgan.demo.scoring import score_stacked_digits
from ddgan.metrics.digit_classifier import load_digit_classifier, small_digits_classifier
from ddgan.metrics.mode_coverage import CONFIDENT_PROBABILITY, mixture25_scores
from ddgan.metrics.timing import time_sampling
from ddgan.sampling import load_sampler

PROFILE_NOTES = {
    "quick": "the core rows of the trilemma on the 25-Gaussians, trained briefly (DDGAN T=4 longest); "
             "`make demo PROFILE=full` trains every row on both datasets, longer.",
    "full": "every row on both datasets; on the 25-Gaussians DDGAN T=4 trains longest (the training table gives "
            "each run's steps and how much its loss still moved).",
    "smoke": "seconds of training to exercise every code path; its numbers mean nothing.",
}
PROGRESS_SECONDS = 5     # how often the progress bar reads the training runs' logs
REFERENCE_SEED = 12345   # real samples for the "data" rows, drawn independently of training data


def reference_rows(dataset, sample_counts, classifier_path):
    """The real distribution scored like a model (the floor of KL and the ceiling of coverage at n
    samples), once per sample count the rows use so that every row has a reference at its own n, and,
    on the 25-Gaussians, uniform noise over the grid (what a model that learned nothing but the
    grid's extent scores)."""
    n = max(sample_counts)
    if dataset_kind(dataset) == "points":
        rows = [("data (held-out samples)", n, mixture25_scores(mixture25(n, seed=REFERENCE_SEED, scale=1.0)[0])),
                ("uniform noise", n, mixture25_scores(uniform_noise(n)))]
    else:
        _, _, x_test, y_test = digits_split()
        classifier = load_digit_classifier(classifier_path)
        rows = [(data_label(count, n), count,
                 score_stacked_digits(stack_digits(x_test, y_test, count, seed=REFERENCE_SEED)[0], classifier))
                for count in sorted(set(sample_counts), reverse=True)]
    return [{"dataset": dataset, "method": label, "T": None, "nfe": 0, "n_samples": count, **scores}
            for label, count, scores in rows]


def data_label(count, most):
    return "data (held-out samples)" if count == most else f"data (held-out, {count:,} samples)"


def measure_time(run, work, evaluation):
    """Seconds to draw one batch of 100 (the paper's Time column), measured alone after training."""
    sampler = load_sampler(work / run.dataset / run.key / "snapshot.pt")
    repeats = 1 if evaluation.nfe > 100 else 3
    timing = time_sampling(lambda n, g: sampler.sample(n, g, **evaluation.sample_options), batch_size=100,
                           warmup=0 if evaluation.nfe > 100 else 1, repeats=repeats)
    return timing.time_s


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m ddgan.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(STEPS))
    parser.add_argument("--out", default=None, type=Path,
                        help="default: results/demo for the full profile (the committed one), "
                             "results/demo-<profile> for the others")
    parser.add_argument("--work", default=None, type=Path, help="run directories (default runs/demo/<profile>)")
    parser.add_argument("--jobs", type=int, default=2, help="training processes in parallel")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per training process (default 1; more help on a machine shared with "
                             "other work; sample_seconds are always timed on one thread)")
    parser.add_argument("--finished-only", action="store_true",
                        help="train nothing: tables and figures of the runs in --work that have finished training "
                             "(the summary lists the others)")
    parser.add_argument("--datasets", nargs="+", action="extend", default=None, choices=DATASETS,
                        help="default: the profile's (quick: mixture25; full: both)")
    args = parser.parse_args(argv)
    args.datasets = args.datasets or list(PROFILE_DATASETS[args.profile])
    return args


def main(argv=None):
    args = parse_arguments(argv)
    started, commit = time.time(), git_commit()   # the code that runs is the code at start
    work = args.work or Path("runs/demo") / args.profile
    work.mkdir(parents=True, exist_ok=True)
    args.out = args.out or Path("results/demo" if args.profile == "full" else f"results/demo-{args.profile}")
    args.out.mkdir(parents=True, exist_ok=True)
    previous, previous_commit = report.read_previous(args.out)
    torch.set_num_threads(max(1, args.jobs))

    runs = demo_runs(args.profile, args.datasets)
    unfinished = [r for r in runs if not is_trained(r, work)] if args.finished_only else []
    runs = [r for r in runs if r not in unfinished]
    digits = any(dataset_kind(r.dataset) == "digits" for r in runs)
    classifier_path = work / CLASSIFIER_FILE if digits else None

    rows = []
    context = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        pending = [pool.submit(execute_run, run, work, classifier_path, args.threads)
                   for run in sorted(runs, key=lambda r: r.priority)]
        if digits:   # while the first runs (25-Gaussians) train; digit runs wait for it before scoring
            small_digits_classifier(work / CLASSIFIER_FILE, CLASSIFIER_EPOCHS[args.profile])
        with tqdm(total=len(pending), desc=f"demo ({args.profile})") as bar:
            running = set(pending)
            while running:     # the runs training now, their steps and ETA, beside the count of finished runs
                done, running = futures.wait(running, timeout=PROGRESS_SECONDS, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    rows += future.result()
                bar.update(len(done))
                bar.set_postfix_str(run_progress(runs, work), refresh=True)

    torch.set_num_threads(1)   # time sampling as the runs were trained: one thread
    evaluations = {(r.dataset, e.label): (r, e) for r in runs for e in r.evaluations}
    for row in tqdm(rows, desc="timing batches of 100"):
        run, evaluation = evaluations[(row["dataset"], row["method"])]
        row["sample_seconds"] = measure_time(run, work, evaluation)

    rows_by_dataset = {}
    for dataset in [d for d in args.datasets if any(r.dataset == d for r in runs)]:
        ordered = sorted((r for r in rows if r["dataset"] == dataset), key=lambda r: (r["nfe"], r["method"]))
        counts = [r["n_samples"] for r in ordered]
        rows_by_dataset[dataset] = ordered + reference_rows(dataset, counts, classifier_path)
        report.write_csv(rows_by_dataset[dataset], report.COLUMNS[dataset], args.out / f"{dataset}.csv")
        samples = {r["method"]: np.load(work / dataset / r["run"] / f"samples-{slug(r['method'])}.npy")
                   for r in ordered}
        if dataset_kind(dataset) == "points":
            figures.mixture25_scatter(samples, args.out / "mixture25_samples.png")
        else:
            figures.sample_grids(samples, args.out / "stacked_digits_samples.png")
    figures.trilemma_chart(rows_by_dataset, args.out / "trilemma.png")

    report.write_configs(args.out / "configs.json", runs)
    notes = summary_notes(args.profile, classifier_path, rows_by_dataset)
    if unfinished:
        missing = ", ".join(f"{r.dataset}/{r.key}" for r in unfinished)
        notes.insert(0, "NOT FINISHED: these runs had not finished training when the tables were made "
                        f"(`--finished-only`) and are missing from them: {missing}.")
    meta = {"commit": commit, "device": machine_description("cpu"), "date": now(), "jobs": args.jobs, "threads": args.threads,
            "seconds": time.time() - started}
    changes = report.change_lines(previous, previous_commit, rows_by_dataset, SETTING_CHANGES)
    checks = report.write_summary(args.out / "summary.md", args.profile, rows_by_dataset, meta, notes,
                                  training=report.training_table(runs, work), changes=changes)
    for text, ok in checks:
        print(f"[{'ok' if ok else 'not met'}] {text}")
    print(f"demo finished in {meta['seconds'] / 60:.1f} min; results in {args.out}/")
    return 0


UNIFORM_HALF_WIDTH = 5   # the 25 cells of the grid (centres -4..4 step 2) tile [-5, 5]^2


def uniform_noise(n, half_width=UNIFORM_HALF_WIDTH):
    """n points spread uniformly over the grid's 25 cells (original units)."""
    return np.random.default_rng(REFERENCE_SEED).uniform(-half_width, half_width, size=(n, 2))


def uniform_high_quality_fraction(half_width=UNIFORM_HALF_WIDTH):
    """Fraction of a uniform spread over [-w, w]^2 that lies within 3 std of one of the 25 centres."""
    return len(MIXTURE25_CENTRES) * math.pi * (3 * MIXTURE25_STD) ** 2 / (2 * half_width) ** 2


def quality_note(rows):
    """How sharp the 2D samples are, against the data and against uniform noise over the grid."""
    models = [r for r in rows if r["nfe"] > 0]
    best = max(models, key=lambda r: r["high_quality"])
    data = next(r for r in rows if r["method"].startswith("data"))
    return (f"Quality at this scale: the held-out data has high_quality {data['high_quality']:.3f}, uniform noise over "
            f"the grid's 25 cells [-{UNIFORM_HALF_WIDTH}, {UNIFORM_HALF_WIDTH}]^2 "
            f"{uniform_high_quality_fraction():.3f} "
            f"(in expectation); the sharpest model is {best['method']} at {best['high_quality']:.3f}. A model near the "
            "noise level has learned where the 25 cells are but not the modes' 0.05 width; under the coverage rule "
            "such a model covers no mode, whatever its KL.")


SETTING_CHANGES = (
    "Relative to the results of commit 0a501aa, so that the full profile fits in 60 minutes on a 2-core machine "
    "(it took 84): on stacked digits DDGAN T=1 and T=2 train 3,000 steps (before 6,000) and the two 1000-step "
    "samplers (DDPM, VDM) are scored on 1,000 samples (before 5,000), next to a `data` row at the same count. "
    "The 25-Gaussians and every other digit row: same configs. The stacked-digit figure shows each sample as "
    "its three digits in grey, side by side (drawn as RGB they overlapped).",
)


def summary_notes(profile, classifier_path, rows_by_dataset):
    notes = [
        "modes: 25-Gaussians, centres holding at least a quarter of the high-quality samples they would hold under "
        "the data (0.0099 N of N samples; ddgan.metrics.mode_coverage), so neither uniform noise nor a model blurred "
        "over the grid covers a mode; stacked digits, label triples seen at least once. kl: KL(sample mode "
        "histogram || uniform), natural log; every sample counts (nearest centre / classified triple). "
        "high_quality: fraction of samples within 3 std (0.15) of a centre. 25-Gaussian scores are in the grid's "
        "original units.",
        "The `data` row scores held-out real samples the same way: with finitely many samples even the true "
        "distribution has KL > 0 and may miss modes, so compare models against it, not against 0. The `uniform "
        "noise` row is the sanity check of the coverage rule: it must cover no mode.",
        "sample_seconds: one batch of 100 on one CPU thread (median of 3 after a warm-up; one call for "
        "1000-step samplers). NFE counts generator/denoiser calls per sample.",
        "Scale: 2D MLPs and 8x8 conv nets trained for minutes on a CPU, not the paper's NCSN++ on GPUs for days. "
        f"This is the `{profile}` profile: " + PROFILE_NOTES[profile],
    ]
    if "mixture25" in rows_by_dataset:
        notes.append(quality_note(rows_by_dataset["mixture25"]))
    if classifier_path is not None:
        classifier = load_digit_classifier(classifier_path)
        notes.append(f"Stacked digits are labelled per channel by a CNN trained on the digits' training split "
                     f"(held-out accuracy {classifier.test_accuracy:.3f}); misread digits add spurious modes. "
                     f"It labels blobs too, so confident_fraction is the share of samples whose three channels all "
                     f"get a softmax probability of at least {CONFIDENT_PROBABILITY}, and confident_modes the modes "
                     f"those samples alone hit; compare both with the `data` row.")
    return notes


if __name__ == "__main__":
    sys.exit(main())
