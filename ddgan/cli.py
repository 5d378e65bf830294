"""The `ddgan` command: train, sample, evaluate, prepare data.

    ddgan train --preset mixture25 [--run-dir runs/m25] [--set method.num_timesteps=2 ...]
    ddgan data prepare cifar10 [--archive PATH]
    ddgan sample --official-checkpoint netG_1200.pth --preset cifar10 -n 50000 --out samples/cifar10 --jpeg
    ddgan eval --samples samples/cifar10 --dataset cifar10 --metrics fid,is,pr
    ddgan presets [--show NAME]
    ddgan options [METHOD | train | optim | data]
"""
import argparse
import json
import shlex
import signal
import sys

from ddgan.core.config import ConfigError, apply_overrides, load_config, validate
from ddgan.datasets.cli import add_data_arguments, run_data
from ddgan.datasets.errors import DatasetError

# expected failures: printed as one message, no traceback
USER_ERRORS = (ConfigError, DatasetError, FileNotFoundError)


def base_config(args):
    """The preset or config file a run starts from, before --set."""
    if bool(args.preset) == bool(args.config):
        raise ConfigError("give exactly one of --preset NAME or --config FILE (see `ddgan presets`)")
    if args.preset:
        from ddgan.presets import get_preset
        return get_preset(args.preset)
    try:
        return load_config(args.config)
    except json.JSONDecodeError as error:
        raise ConfigError(f"--config {args.config} is not valid JSON ({error})") from None


def resume_command(args, run_dir):
    """The command that continues an interrupted run (the same command, with its run directory)."""
    argv = [a for a in args.argv if a != "--no-resume"]
    if args.run_dir is None:
        argv += ["--run-dir", str(run_dir)]
    return shlex.join(["ddgan", *argv])


def cmd_train(args):
    from ddgan.core.run_dir import default_run_dir
    from ddgan.core.trainer import STATE_FILE, train
    base = base_config(args)
    config = validate(apply_overrides(base, args.set))
    run_dir = args.run_dir
    if run_dir is None:
        run_dir, differences = default_run_dir(validate(base), config)
        if differences:
            print(f"run directory {run_dir} (for " + ", ".join(f"{k}={json.dumps(v)}" for k, v in differences.items())
                  + "; --run-dir chooses another)")
    trainer = train(config, run_dir, resume=not args.no_resume, progress=not args.quiet)
    if not trainer.accelerator.is_main_process:
        return 128 + trainer.interrupted if trainer.interrupted else 0
    if trainer.interrupted:
        name = signal.Signals(trainer.interrupted).name
        print(f"{name}: stopped at step {trainer.step} of {trainer.total_steps}, training state saved in "
              f"{run_dir}/{STATE_FILE}; resume with: {resume_command(args, run_dir)}")
        return 128 + trainer.interrupted
    print(f"trained {trainer.step} steps; snapshot: {run_dir}/snapshot.pt")
    return 0


def cmd_presets(args):
    from ddgan.preset_cards import describe, read_cards
    from ddgan.presets import all_presets, get_preset
    if args.show:
        print(json.dumps(validate(get_preset(args.show)), indent=2))
        return 0
    cards = read_cards()
    print(f"{'preset':24s} {'method':6s} {'dataset':14s} {'data':10s} {'params':>6s}  for")
    for name in sorted(all_presets()):
        config = get_preset(name)
        print(f"{name:24s} {config['method']['name']:6s} {config['data']['dataset']:14s} {describe(cards.get(name))}")
    return 0


def option_sections():
    """Section name -> (key prefix, options): the trainer's sections and every method's."""
    from ddgan.core.config import DATA_OPTIONS, OPTIM_OPTIONS, TRAIN_OPTIONS
    from ddgan.base import registry
    from ddgan.core.methods import method_class
    sections = {"train": ("train.", TRAIN_OPTIONS), "optim": ("optim.", OPTIM_OPTIONS),
                "data": ("data.", DATA_OPTIONS)}
    return {**sections, **{name: ("method.", method_class(name).OPTIONS) for name in registry.METHODS.names()}}


def cmd_options(args):
    sections = option_sections()
    for name in args.names:
        if name not in sections:
            raise ConfigError(f"no options named {name!r}; choose a method or section: {', '.join(sections)}")
    for name in args.names or list(sections):
        prefix, options = sections[name]
        title = f"method {name} (method.name={name})" if prefix == "method." else f"section {name}"
        print(f"{title}:")
        for option in options:
            print(f"  {prefix}{option.describe()}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="ddgan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a method (resumes an existing run directory)",
        epilog="Every config key is checked before any work starts: `ddgan options` lists them with their types, "
               "defaults and help. SIGINT (Ctrl-C) or SIGTERM stops after the current step with the training state "
               "saved (exit 130 / 143); a second one stops at once, keeping the last saved state; the same command "
               "resumes.")
    train.add_argument("--preset", help="a named config (see `ddgan presets`)")
    train.add_argument("--config", help="a config JSON file (e.g. a run directory's config.json)")
    train.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE",
                       help="override config entries (repeatable)")
    train.add_argument("--run-dir", help="where checkpoints, snapshots and logs go (default runs/<name>, "
                                          "renamed for --set values that change what is computed)")
    train.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    presets = commands.add_parser("presets", help="list the named configs")
    presets.add_argument("--show", metavar="NAME", help="print one preset's complete config (defaults filled in)")
    presets.set_defaults(func=cmd_presets)

    options = commands.add_parser("options", help="list the config keys of a method or section, with help")
    options.add_argument("names", nargs="*", metavar="NAME", help="a method (ddgan, ddpm, ...) or train, optim, data")
    options.set_defaults(func=cmd_options)

    add_data_arguments(commands).set_defaults(func=run_data)

    from ddgan.sample_cli import add_sample_arguments, run_sample
    add_sample_arguments(commands).set_defaults(func=run_sample)

    from ddgan.evaluate import add_eval_arguments, run_eval
    evaluate = commands.add_parser("eval", help="FID / IS / precision-recall / modes / NFE and time of samples or a checkpoint")
    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=run_eval)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except USER_ERRORS as error:
        print(f"ddgan {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:     # before training started (once it has, Ctrl-C stops it with its state saved)
        print(f"ddgan {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
