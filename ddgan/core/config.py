"""Run configs: plain nested dicts (saved as JSON in every run directory), presets and overrides.

Sections: method, networks, data, optim, train. A preset is a complete config; command-line
overrides use dotted keys, e.g. `--set method.num_timesteps=2 train.steps=500`.
"""
import copy
import json

from ddgan.base import registry
from ddgan.base.options import REQUIRED, ConfigError, Option, bookkeeping_keys, check_section, check_value, suggestion
from ddgan.datasets.specs import DATASETS

SECTIONS = ("method", "networks", "data", "optim", "train")

# The data section (read by ddgan.core.training_data).
TOY_SIZES = {"mixture25": 100_000, "stacked_digits": 60_000}
PREPARED_DATASETS = tuple(DATASETS)
PREPARED_SPLITS = tuple(sorted({split for spec in DATASETS.values() for split in spec.splits}, reverse=True))

# The data section. Every key applies to every dataset, so that `--set data.dataset=...` can switch a
# preset to another dataset; size and seed only shape the procedural datasets, split the prepared ones.
DATA_OPTIONS = (
    Option("dataset", str, help="procedural (generated on the fly), built in (`ddgan data prepare NAME`) or your own "
                                "images (`ddgan data prepare folder PATH --name NAME`)"),
    Option("shape", list, items=int, min=1, help="the shape of one example: [C, H, W] for images, [2] for points"),
    Option("size", int, lambda data: TOY_SIZES.get(data["dataset"]), min=1, allow_none=True,
           help="examples a procedural dataset generates (mixture25: 100000, stacked_digits: 60000; "
                "prepared datasets are used whole)"),
    Option("seed", int, 0, min=0, help="the seed a procedural dataset is generated from"),
    Option("scale", float, None, above=0, allow_none=True,
           help="mixture25: training units = original units / scale (null: 4, the grid in [-1, 1]); "
                "scores are always in the original units"),
    Option("root", str, None, allow_none=True, bookkeeping=True,
           help="where prepared datasets live (null: $DDGAN_DATA or ./data)"),
    Option("split", str, "train", choices=PREPARED_SPLITS, help="the split of a prepared dataset to train on"),
    Option("hflip", bool, False, help="random horizontal flips (decided per step, so they resume exactly)"),
)


def check_dataset(data_config):
    """ConfigError unless data.dataset is procedural, built in, or prepared under data.root (your own images)."""
    from ddgan.datasets import data_root
    name, known = data_config["dataset"], registry.DATASETS.names() + PREPARED_DATASETS
    root = data_root(data_config.get("root"))
    if name in known or (root / name / "manifest.json").is_file():
        return data_config
    raise ConfigError(f"data.dataset {name!r} is neither built in nor prepared in {root}; "
                      f"{suggestion(name, list(known))}built in: {', '.join(known)}; for your own images: "
                      f"ddgan data prepare folder PATH --name {name}")


# The trainer's options: adding a key is one line here (and reading it where it is used).
TRAIN_OPTIONS = (
    Option("batch_size", int, 64, min=1, help="global batch, split evenly over processes"),
    Option("steps", int, None, min=1, allow_none=True,
           help="total optimisation steps (wins over train.epochs); may grow when a run is resumed"),
    Option("epochs", int, None, min=1, allow_none=True,
           help="total epochs when train.steps is null (the cosine schedule decays over them)"),
    Option("seed", int, 0, min=0, help="seeds initial weights, batches and every process's randomness"),
    Option("mixed_precision", str, "no", choices=("no", "bf16", "auto"),
           help="bf16 autocast (auto: bf16 where the CPU or GPU computes it natively, else float32); fp16 loss "
                "scaling is not supported with the R1 gradient penalty, use bf16"),
    Option("channels_last", bool, False,
           help="image networks and batches in the channels_last memory format: the same computation to float "
                "rounding, 1.1x faster for the small conv networks on a 2-core CPU (python -m benchmarks.profile_training)"),
    Option("log_every", int, 50, min=1, bookkeeping=True, help="steps between rows of log.jsonl"),
    Option("checkpoint_every", int, 1000, min=1, bookkeeping=True,
           help="steps between saves of the training state and snapshot"),
    Option("checkpoint_minutes", float, 30.0, above=0, allow_none=True, bookkeeping=True,
           help="also save when this many minutes have passed since the last save (bounds what a hard kill loses)"),
    Option("snapshot_every", int, None, min=1, allow_none=True, bookkeeping=True,
           help="keep a numbered EMA snapshot every N steps (null: only the latest)"),
    Option("num_workers", int, 0, min=0, bookkeeping=True, help="data-loading worker processes"),
    Option("sample_every", int, 1000, min=1, allow_none=True, bookkeeping=True,
           help="steps between sample grids written to the run directory (null: none)"),
    Option("eval_every", int, None, min=1, allow_none=True, bookkeeping=True,
           help="steps between quick metric evaluations of the EMA network (null: none)"),
    Option("eval_samples", int, 2000, min=2, bookkeeping=True, help="samples per periodic evaluation (FID-N for images)"),
    Option("eval_classifier", str, None, allow_none=True, bookkeeping=True,
           help="digit classifier file for the stacked-digit scores (null: the 8x8 demo digits train one)"),
    Option("log_with", str, "none", choices=("none", "tensorboard", "wandb"), bookkeeping=True,
           help="an experiment tracker that also receives the logged values"),
)
LR_SCHEDULES = ("constant", "cosine", "cosine_steps")
OPTIM_OPTIONS = (
    Option("lr", dict, items=float, min=0, help="learning rate per optimiser, e.g. {\"generator\": 2e-4, ...}"),
    Option("betas", list, [0.5, 0.9], items=float, length=2, min=0, below=1, help="Adam's (beta1, beta2)"),
    Option("lr_schedule", str, "constant", choices=LR_SCHEDULES,
           help="cosine: annealed per epoch from optim.lr down to optim.lr_min over the run (the official code); "
                "cosine_steps: the same curve per step (for runs of a few epochs)"),
    Option("lr_min", float, 1e-5, min=0, help="the cosine schedule's final learning rate"),
    Option("ema_decay", float, 0.999, min=0, below=1, help="decay of the EMA of the sampling network"),
    Option("ema_warmup", bool, False,
           help="EMA decay min(ema_decay, 1 - (1 + n)^-0.75) after n updates, for short runs (off: the official EMA)"),
    Option("warmup_steps", int, 0, min=0, help="linear learning-rate warm-up over the first N steps"),
    Option("grad_clip", float, None, above=0, allow_none=True, help="clip the global gradient norm (null: no clip)"),
    Option("weight_decay", float, 0.0, min=0, help="decoupled weight decay (AdamW) when > 0"),
)

# Keys that do not change what a run computes, so a resumed run may change them.
BOOKKEEPING_KEYS = bookkeeping_keys(TRAIN_OPTIONS, "train.") | bookkeeping_keys(DATA_OPTIONS, "data.") | {"name"}
# The length of a run: it may grow when a run is resumed (ddgan.core.trainer announces what that changes).
LENGTH_KEYS = {"train.steps", "train.epochs"}


def validate(config):
    """The complete config (every default filled in), or ConfigError naming the first problem in one
    line: an unknown key (with the nearest valid names), a wrongly typed or out-of-range value."""
    if not isinstance(config, dict):
        raise ConfigError(f"a config is a JSON object with the sections {list(SECTIONS)}, got {type(config).__name__}")
    for key in config:
        if key not in SECTIONS and key != "name":
            raise ConfigError(f"unknown config section {key!r}; {suggestion(key, SECTIONS)}"
                              f"a config has the sections {', '.join(SECTIONS)} and a name")
    missing = [s for s in SECTIONS if s not in config]
    if missing:
        raise ConfigError(f"config is missing section(s) {missing}; a complete config has {list(SECTIONS)}")
    for section in SECTIONS:
        if not isinstance(config[section], dict):
            raise ConfigError(f"config section {section} must be a mapping, got {config[section]!r}")
    from ddgan.core.methods import method_class
    name = config["method"].get("name")
    if name not in registry.METHODS:
        known = registry.METHODS.names()
        raise ConfigError(f"unknown method {name!r}; {suggestion(str(name), list(known))}"
                          f"known methods: {', '.join(sorted(known))}")
    out = {}
    if "name" in config:
        if not isinstance(config["name"], str):
            raise ConfigError(f"name must be a string, got {config['name']!r}")
        out["name"] = config["name"]
    out["method"] = check_section(method_class(name).OPTIONS, config["method"], "method.", extra=("name",))
    out["networks"] = {net: check_network(spec, f"networks.{net}") for net, spec in config["networks"].items()}
    out["data"] = check_dataset(check_section(DATA_OPTIONS, config["data"], "data."))
    out["optim"] = check_section(OPTIM_OPTIONS, config["optim"], "optim.")
    out["train"] = check_section(TRAIN_OPTIONS, config["train"], "train.")
    if out["train"]["steps"] is None and out["train"]["epochs"] is None:
        raise ConfigError("set train.steps or train.epochs")
    return copy.deepcopy(out)


def check_network(spec, key):
    """A network spec names a registered architecture and only keywords its class takes, each of the type
    and in the range its Option declares (ddgan/nets/options.py); nested specs, e.g. a latent generator's
    denoiser, likewise. The spec is returned as given: the constructor's defaults are not written into it."""
    from ddgan.nets import network_class
    from ddgan.nets.options import network_options
    ARCHITECTURES = registry.ARCHITECTURES.names()
    if not isinstance(spec, dict) or "arch" not in spec:
        raise ConfigError(f"{key} must be a mapping with an 'arch' key (one of {', '.join(sorted(ARCHITECTURES))}), "
                          f"got {spec!r}")
    if spec["arch"] not in ARCHITECTURES:
        raise ConfigError(f"{key}.arch: unknown network architecture {spec['arch']!r}; "
                          f"{suggestion(str(spec['arch']), list(ARCHITECTURES))}"
                          f"known: {', '.join(sorted(ARCHITECTURES))}")
    options = {option.name: option for option in network_options(network_class(spec["arch"]))}
    for name, value in spec.items():
        if name == "arch":
            continue
        if name not in options:
            raise ConfigError(f"unknown key {key}.{name}: network {spec['arch']!r} does not take it; "
                              f"{suggestion(name, list(options), key + '.')}it takes {', '.join(options)}")
        check_value(options[name], value, f"{key}.{name}")
        if isinstance(value, dict) and "arch" in value:
            check_network(value, f"{key}.{name}")
    missing = [name for name, option in options.items() if option.default is REQUIRED and name not in spec]
    if missing:
        raise ConfigError(f"{key} ({spec['arch']}) needs {', '.join(f'{key}.{name}' for name in missing)}")
    return spec


def parse_value(text):
    """'3' -> 3, '1e-4' -> 0.0001, 'true' -> True, '[1,2]' -> [1, 2], 'null' -> None, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(config, overrides):
    """Apply ["a.b=value", ...]; unknown top-level sections are refused, nested keys may be new."""
    config = copy.deepcopy(config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        key, value = item.split("=", 1)
        path = key.split(".")
        if path[0] not in SECTIONS and path[0] != "name":
            raise ConfigError(f"override {item!r}: unknown section {path[0]!r}; {suggestion(path[0], SECTIONS)}"
                              f"sections are {list(SECTIONS)}")
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = parse_value(value)
    return config


def flatten(config, prefix=""):
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_differences(saved, current, ignore=BOOKKEEPING_KEYS | LENGTH_KEYS, label="checkpoint"):
    """Human-readable lines for every key whose value differs between two configs (a run's length
    and bookkeeping keys aside)."""
    a, b = flatten(saved), flatten(current)
    lines = []
    for key in sorted(set(a) | set(b)):
        if key in ignore or a.get(key, "<absent>") == b.get(key, "<absent>"):
            continue
        # JSON round trips turn tuples into lists; compare as JSON
        if json.dumps(a.get(key)) == json.dumps(b.get(key)) and key in a and key in b:
            continue
        lines.append(f"{key}: {label} has {json_value(a, key)}, this run has {json_value(b, key)}")
    return lines


def json_value(flat, key):
    return json.dumps(flat[key]) if key in flat else "<absent>"


def load_config(path):
    with open(path) as f:
        return json.load(f)
