"""The `ddgan` command: train, sample, evaluate, prepare data.

    ddgan train --preset mixture25 --run-dir runs/m25 [--set method.num_timesteps=2 ...]
    ddgan data prepare cifar10 [--archive PATH]
    ddgan sample --official-checkpoint netG_1200.pth --preset cifar10 -n 50000 --out samples/cifar10 --jpeg
    ddgan eval --samples samples/cifar10 --dataset cifar10 --metrics fid,is,pr
    ddgan presets
"""
import argparse
import json
import sys

from ddgan.config import ConfigError, apply_overrides, load_config
from ddgan.datasets.cli import add_data_arguments, run_data
from ddgan.datasets.errors import DatasetError

# expected failures: printed as one message, no traceback
USER_ERRORS = (ConfigError, DatasetError, FileNotFoundError)


def resolve_config(args):
    if bool(args.preset) == bool(args.config):
        raise ConfigError("give exactly one of --preset NAME or --config FILE (see `ddgan presets`)")
    if args.preset:
        from ddgan.presets import get_preset
        config = get_preset(args.preset)
    else:
        config = load_config(args.config)
    return apply_overrides(config, args.set)


def cmd_train(args):
    from ddgan.trainer import train
    config = resolve_config(args)
    run_dir = args.run_dir or f"runs/{config.get('name', args.preset or 'run')}"
    trainer = train(config, run_dir, resume=not args.no_resume, progress=not args.quiet)
    if trainer.accelerator.is_main_process:
        print(f"trained {trainer.step} steps; snapshot: {run_dir}/snapshot.pt")
    return 0


def cmd_presets(args):
    from ddgan.presets import all_presets, get_preset
    for name in sorted(all_presets()):
        config = get_preset(name)
        print(f"{name:24s} {config['method']['name']:6s} {config['data']['dataset']}")
    if args.show:
        print(json.dumps(get_preset(args.show), indent=2))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="ddgan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a method (resumes an existing run directory)")
    train.add_argument("--preset", help="a named config (see `ddgan presets`)")
    train.add_argument("--config", help="a config JSON file (e.g. a run directory's config.json)")
    train.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config entries")
    train.add_argument("--run-dir", help="where checkpoints, snapshots and logs go (default runs/<name>)")
    train.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    presets = commands.add_parser("presets", help="list the named configs")
    presets.add_argument("--show", metavar="NAME", help="print one preset's full config")
    presets.set_defaults(func=cmd_presets)

    add_data_arguments(commands).set_defaults(func=run_data)

    from ddgan.sample_cli import add_sample_arguments, run_sample
    add_sample_arguments(commands).set_defaults(func=run_sample)

    from ddgan.evaluate import add_eval_arguments, run_eval
    evaluate = commands.add_parser("eval", help="FID / IS / precision-recall / modes / NFE and time of samples or a checkpoint")
    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=run_eval)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as error:
        print(f"ddgan {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
