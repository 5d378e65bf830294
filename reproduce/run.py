"""Run one target of the paper's reproduction (the make targets call this).

    python -m reproduce.run cifar10 [--profile paper|smoke] [--archive PATH] [--num-processes N]
    python -m reproduce.run table2 | table3 | celebahq | lsun | table1 | ddim-table [--profile ...]
    python -m reproduce.run eval-official --checkpoint netG_1200.pth --preset cifar10
    python -m reproduce.run compare [--profile ...]
    python -m reproduce.run TARGET --print-commands      # the training commands, for several nodes

Re-running a target continues where it stopped. Expected failures (no Kaggle credentials, missing
weights or data, a bad option) print one message and exit with status 2.
"""
import argparse
import sys

from ddgan.core.config import ConfigError
from ddgan.datasets.errors import DatasetError
from ddgan.metrics.errors import MetricsError, WeightsUnavailableError
from ddgan.official import OfficialCheckpointError
from reproduce.launch import CONFIG_FILE, TrainingError, TrainingInterrupted, process_count, train_command, write_run_config
from reproduce.official_eval import run_official
from reproduce.pipeline import RunOptions, run_target
from reproduce.profiles import PROFILES, ProfileError, make_profile
from reproduce.targets import OFFICIAL_TARGET, TARGET_NAMES, TargetError, get_target

COMPARE = "compare"
USER_ERRORS = (ConfigError, DatasetError, MetricsError, WeightsUnavailableError, ProfileError, TargetError,
               TrainingError, OfficialCheckpointError, FileNotFoundError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reproduce.run", description=__doc__.splitlines()[0])
    parser.add_argument("target", metavar="TARGET", help=f"one of {', '.join((*TARGET_NAMES, COMPARE))}")
    parser.add_argument("--profile", default="paper", metavar="PROFILE",
                        help="paper (default: the paper's settings), smoke (tiny, minutes on a CPU) or cpu (real data, "
                             "reduced scale, results in results/cpu/)")
    parser.add_argument("--archive", help="an already downloaded archive of the target's dataset (paper profile)")
    parser.add_argument("--num-processes", type=int, help="training processes (default: one per visible GPU)")
    parser.add_argument("--device", help="sampling/evaluation device (default: cuda if available)")
    parser.add_argument("--is-weights", help="pt_inception-2015-12-05-6726825d.pth for the Inception Score")
    parser.add_argument("--vgg-weights", help="VGG-16 state dict for recall (default: torchvision's cache)")
    parser.add_argument("--checkpoint", help="eval-official: the released netG_*.pth")
    parser.add_argument("--preset", default="cifar10", help="eval-official: the paper run it belongs to")
    parser.add_argument("--workers", type=int, default=1, help="image-decoding processes for data preparation")
    parser.add_argument("--jobs", type=int, default=1,
                        help="trainings of the target at once on a CPU, each with an even share of the threads "
                             "(cpu profile on a multi-core machine: e.g. 2 trains DDGAN T=4 and T=1 side by side)")
    parser.add_argument("--work", help="run directories (default runs/, smoke: runs/smoke/)")
    parser.add_argument("--results", help="results folder (default results/, smoke: runs/smoke/results/)")
    parser.add_argument("--data-root", help="prepared datasets (default $DDGAN_DATA or data/, smoke: runs/smoke/data/)")
    parser.add_argument("--print-commands", action="store_true",
                        help="write the run configs and print the accelerate commands that train them; train nothing")
    return parser


def print_commands(target, profile, processes) -> None:
    """The single-node command of every training of `target` (see reproduce.launch for several nodes)."""
    for training in target.trainings:
        run_dir = profile.run_dir(training.dataset, training.run)
        write_run_config(profile.scale_config(training.config()), run_dir)
        print(" ".join(train_command(run_dir, processes)))
    print(f"# configs written as {CONFIG_FILE} in each run directory; for several nodes add "
          "--multi_gpu --num_machines M --machine_rank R --main_process_ip HOST --main_process_port PORT and "
          "the total --num_processes, then run the make target on one node")


def run(args) -> int:
    profile = make_profile(args.profile, args.work, args.results, args.data_root)
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    options = RunOptions(args.archive, args.num_processes, args.device, args.is_weights, args.vgg_weights,
                         args.workers, jobs=args.jobs)
    if args.target == COMPARE:
        from reproduce.compare import write_comparison
        write_comparison(profile)
    elif args.target == OFFICIAL_TARGET:
        run_official(profile, args.preset, args.checkpoint, options)
    elif args.print_commands:
        print_commands(get_target(args.target, profile.name), profile, process_count(args.num_processes))
    else:
        run_target(get_target(args.target, profile.name), profile, options)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except TrainingInterrupted as stopped:
        print(f"reproduce {args.target}: {stopped}", file=sys.stderr)
        return 128 + stopped.signum
    except USER_ERRORS as error:
        print(f"reproduce {args.target}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
