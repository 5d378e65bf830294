"""The `ddgan` command: train, sample, evaluate, prepare data.

    ddgan train --preset mixture25 [--run-dir runs/m25] [--set method.num_timesteps=2 ...]
    ddgan data prepare cifar10 [--archive PATH]
    ddgan sample --official-checkpoint netG_1200.pth --preset cifar10 -n 50000 --out samples/cifar10 --jpeg
    ddgan eval --samples samples/cifar10 --dataset cifar10 --metrics fid,is,pr
    ddgan presets [--show NAME]
    ddgan options [METHOD | data | optim | train | networks | networks.NET | ARCH] [--preset NAME]
"""
import argparse
import json
import shlex
import signal
import sys

from ddgan.base.registry import resolve
from ddgan.core.config import ConfigError, apply_overrides, load_config, validate
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
    config = apply_overrides(base, args.set)     # validated where it enters the trainer
    run_dir = args.run_dir
    if run_dir is None:     # named by what the overrides change in the complete config
        config = validate(config)
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
    """Section name -> (title, key prefix, options): the trainer's sections and every method's."""
    from ddgan.base import registry
    from ddgan.core.config import DATA_OPTIONS, OPTIM_OPTIONS, TRAIN_OPTIONS
    from ddgan.core.methods import method_class
    methods = {name: (f"method {name} (method.name={name})", "method.", method_class(name).OPTIONS)
               for name in registry.METHODS.names()}
    return {**methods, "data": ("section data", "data.", DATA_OPTIONS),
            "optim": ("section optim", "optim.", OPTIM_OPTIONS), "train": ("section train", "train.", TRAIN_OPTIONS)}


def network_lines(arch, prefix):
    """An architecture's keys, as the method's: what each accepts, its default and help."""
    import inspect

    from ddgan.nets import network_class
    from ddgan.nets.options import network_options
    cls = network_class(arch)
    summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
    return [f"architecture {arch} (arch={arch}): {summary}"] + [f"  {prefix}{o.describe()}" for o in network_options(cls)]


def network_architectures(name, preset):
    """The architectures `ddgan options NAME` shows: `networks` (all), an architecture, or `networks.NET`
    (its architecture in --preset, else in every preset that has a network NET)."""
    from ddgan.base import registry
    known = registry.ARCHITECTURES.names()
    if name == "networks":
        return known
    if name in known:
        return (name,)
    if not name.startswith("networks."):
        return ()
    from ddgan.presets import all_presets, get_preset
    network = name.split(".", 1)[1]
    configs = [get_preset(preset)] if preset else [get_preset(p) for p in sorted(all_presets())]
    return tuple(dict.fromkeys(c["networks"][network]["arch"] for c in configs if network in c["networks"]))


def cmd_options(args):
    sections = option_sections()
    methods = [name for name, (_, prefix, _) in sections.items() if prefix == "method."]
    names = [n for name in args.names or [*sections, "networks"] for n in (methods if name == "method" else [name])]
    for name in names:
        if name in sections:
            title, prefix, options = sections[name]
            print(f"{title}:")
            for option in options:
                print(f"  {prefix}{option.describe()}")
            continue
        architectures = network_architectures(name, args.preset)
        if not architectures:
            raise ConfigError(f"no options named {name!r}; choose a section (method, data, optim, train, networks), "
                              f"a method ({', '.join(methods)}), networks.NET (e.g. networks.generator) or an "
                              "architecture (`ddgan options networks` lists them)")
        prefix = f"{name}." if name.startswith("networks.") else "networks.NET."
        for arch in architectures:
            print("\n".join(network_lines(arch, prefix)))
    return 0


def add_train(commands):
    train = commands.add_parser(
        "train", help=COMMANDS["train"][0],
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
    return train


def add_presets(commands):
    presets = commands.add_parser("presets", help=COMMANDS["presets"][0])
    presets.add_argument("--show", metavar="NAME", help="print one preset's complete config (defaults filled in)")
    return presets


def add_options(commands):
    options = commands.add_parser("options", help=COMMANDS["options"][0])
    options.add_argument("names", nargs="*", metavar="NAME",
                         help="a method (ddgan, ddpm, ...), data, optim, train, networks, networks.NET "
                              "(e.g. networks.generator) or an architecture (conv_unet, ...); none: all")
    options.add_argument("--preset", help="networks.NET: the architecture of NET in this preset")
    return options


def add_eval(commands):
    from ddgan.evaluate import add_eval_arguments
    evaluate = commands.add_parser("eval", help=COMMANDS["eval"][0])
    add_eval_arguments(evaluate)
    return evaluate


# command -> (help line, "module:function" adding its parser to the subcommands, "module:function" running it).
# Only the command given is imported and built, so each command imports what it uses and nothing else.
COMMANDS = {
    "train": ("train a method (resumes an existing run directory)", "ddgan.cli:add_train", "ddgan.cli:cmd_train"),
    "presets": ("list the named configs: method, data, size and the hardware they are meant for",
                "ddgan.cli:add_presets", "ddgan.cli:cmd_presets"),
    "options": ("list the config keys of every section, method and network, with help",
                "ddgan.cli:add_options", "ddgan.cli:cmd_options"),
    "data": ("download, prepare, verify and list datasets", "ddgan.datasets.cli:add_data_arguments",
             "ddgan.datasets.cli:run_data"),
    "sample": ("write N generated images to a folder (PNG, or the paper's JPEG), or 2-D points to one file",
               "ddgan.sample_cli:add_sample_arguments", "ddgan.sample_cli:run_sample"),
    "eval": ("FID / IS / precision-recall / modes / NFE and time of samples or a checkpoint",
             "ddgan.cli:add_eval", "ddgan.evaluate:run_eval"),
}


def build_parser(command=None):
    """The `ddgan` parser, with the arguments of `command` only (the others are listed by name and help)."""
    parser = argparse.ArgumentParser(prog="ddgan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (help_line, add_parser, run) in COMMANDS.items():
        if name == command:
            resolve(add_parser)(commands).set_defaults(func=run)
        else:
            commands.add_parser(name, help=help_line)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    args.argv = argv
    try:
        return resolve(args.func)(args)
    except USER_ERRORS as error:
        print(f"ddgan {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:     # before training started (once it has, Ctrl-C stops it with its state saved)
        print(f"ddgan {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
