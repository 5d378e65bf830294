"""Evaluate a snapshot of a target's training that has not finished (e.g. stopped for lack of time).

    python -m reproduce.evaluate_snapshot table3 ddgan-T4 runs/cpu/stackedmnist/ddgan-T4/snapshot-00000500.pt --profile cpu

The rows are those of the pipeline's evaluation (reproduce.evaluation.evaluate_sampler), with
`training` saying the run was interrupted and at which step; the run's own stages (train, eval-*)
are left untouched, so the target still trains it to the end and evaluates the final snapshot later.
A snapshot of another configuration of the training, run in its own directory, is evaluated with
--run-dir DIR: its rows name that directory, its config and its steps and seconds.
The sample grid is written beside the others as <dataset>-<method>-<label>-step<S>.png.
"""
import argparse
import sys
from pathlib import Path

from ddgan.sampling import load_sampler
from reproduce.cpu_report import sample_grid
from reproduce import profiles
from reproduce.evaluation import evaluate_sampler, real_data_modes
from reproduce.pipeline import RunOptions, digit_classifier_path, evaluation_context, grid_path
from reproduce.profiles import make_profile
from reproduce.targets import get_target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reproduce.evaluate_snapshot", description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("run", help="the training's run directory name, e.g. ddgan-T4")
    parser.add_argument("snapshot", help="a snapshot of that run (snapshot.pt or snapshot-<step>.pt)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--work")
    parser.add_argument("--results")
    parser.add_argument("--data-root")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samples", type=int, help="samples for modes and KL (cpu profile; default "
                                                    "reproduce.profiles.CPU_MODE_SAMPLES); the rows record it")
    parser.add_argument("--run-dir", help="the run directory the snapshot comes from, when it is not the profile's "
                                          "run of the target (another configuration of it): the rows record its "
                                          "steps and wall clock, and the grid is drawn from its snapshot")
    parser.add_argument("--with-data", action="store_true",
                        help="also score that many training images (table3: the data row beside the samples)")
    args = parser.parse_args(argv)
    profile = make_profile(args.profile, args.work, args.results, args.data_root)
    if args.samples is not None:
        profiles.CPU_MODE_SAMPLES = args.samples
    target = get_target(args.target, profile.name)
    trainings = [t for t in target.trainings if t.run == args.run]
    if not trainings:
        print(f"evaluate_snapshot: error: {args.target} has no training {args.run!r}; it has "
              f"{', '.join(t.run for t in target.trainings)}", file=sys.stderr)
        return 2
    training = trainings[0]
    classifier = digit_classifier_path(profile, print) if target.digit_classifier else None
    context = evaluation_context(profile, target.name, RunOptions(device=args.device), classifier)
    if args.with_data:
        real_data_modes(context)
    sampler = load_sampler(args.snapshot, context.device)
    run_dir = Path(args.run_dir).expanduser() if args.run_dir else profile.run_dir(training.dataset, training.run)
    for evaluation in training.evaluations:
        evaluate_sampler(context, sampler, training.dataset, evaluation, run_dir, str(Path(args.snapshot)))
        name = f"{evaluation.method}-{evaluation.label}-step{sampler.step}"
        print(sample_grid(sampler, profile.sampling_options(evaluation.sample_options),
                          grid_path(profile, training.dataset, name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
