"""Run configs: plain nested dicts (saved as JSON in every run directory), presets and overrides.

Sections: method, networks, data, optim, train. A preset is a complete config; command-line
overrides use dotted keys, e.g. `--set method.num_timesteps=2 train.steps=500`.
"""
import copy
import json

SECTIONS = ("method", "networks", "data", "optim", "train")

TRAIN_DEFAULTS = {
    "batch_size": 64,          # global batch, split evenly over processes
    "steps": None,             # total optimisation steps; None -> epochs x steps per epoch
    "epochs": None,
    "seed": 0,
    "mixed_precision": "no",   # "no" or "bf16"
    "log_every": 50,
    "checkpoint_every": 1000,
    "snapshot_every": None,    # keep numbered EMA snapshots every N steps (None: only the latest)
    "num_workers": 0,
}
OPTIM_DEFAULTS = {"betas": [0.5, 0.9], "lr_schedule": "constant", "lr_min": 1e-5, "ema_decay": 0.999,
                  "warmup_steps": 0, "grad_clip": None, "weight_decay": 0.0}

# Keys that do not change what a run computes, so a resumed run may change them.
BOOKKEEPING_KEYS = {"train.log_every", "train.checkpoint_every", "train.snapshot_every",
                    "train.num_workers", "data.root", "name"}


class ConfigError(ValueError):
    """A config is incomplete, inconsistent or does not match a checkpoint."""


def with_defaults(config):
    config = copy.deepcopy(config)
    config["train"] = {**TRAIN_DEFAULTS, **config.get("train", {})}
    config["optim"] = {**OPTIM_DEFAULTS, **config.get("optim", {})}
    return config


def validate(config):
    """Raise ConfigError naming the problem; returns the config for chaining."""
    missing = [s for s in SECTIONS if s not in config]
    if missing:
        raise ConfigError(f"config is missing section(s) {missing}; a complete config has {list(SECTIONS)}")
    from ddgan import registry
    name = config["method"].get("name")
    if name not in registry.METHODS:
        raise ConfigError(f"unknown method {name!r}; known methods: {', '.join(sorted(registry.METHODS.names()))}")
    steps = config["method"].get("num_timesteps")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"method.num_timesteps must be an integer >= 1, got {steps!r}")
    train = config["train"]
    if train["steps"] is None and train["epochs"] is None:
        raise ConfigError("set train.steps or train.epochs")
    if train["mixed_precision"] not in ("no", "bf16"):
        raise ConfigError(f"train.mixed_precision must be 'no' or 'bf16', got {train['mixed_precision']!r} "
                          "(fp16 loss scaling is not supported with the R1 gradient penalty; use bf16)")
    if "shape" not in config["data"]:
        raise ConfigError("data.shape is required (e.g. [3, 32, 32] or [2])")
    return config


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
            raise ConfigError(f"override {item!r}: unknown section {path[0]!r}; sections are {list(SECTIONS)}")
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


def config_differences(saved, current, ignore=BOOKKEEPING_KEYS):
    """Human-readable lines for every key whose value differs between two configs."""
    a, b = flatten(saved), flatten(current)
    lines = []
    for key in sorted(set(a) | set(b)):
        if key in ignore or a.get(key, "<absent>") == b.get(key, "<absent>"):
            continue
        # JSON round trips turn tuples into lists; compare as JSON
        if json.dumps(a.get(key)) == json.dumps(b.get(key)) and key in a and key in b:
            continue
        lines.append(f"{key}: checkpoint has {a.get(key, '<absent>')!r}, this run has {b.get(key, '<absent>')!r}")
    return lines


def load_config(path):
    with open(path) as f:
        return json.load(f)
