"""Checkpoints: full training state for exact resume, and small EMA snapshots for sampling.

Both are written atomically (a temporary file in the same directory, then os.replace), so an
interrupted write never leaves a truncated file where a good one was.
"""
import pickle
import re
from pathlib import Path

import torch

from ddgan.core.config import ConfigError, config_differences
from ddgan.base.io import atomic_write

SNAPSHOT_FORMAT = "ddgan-snapshot-1"
STATE_FORMAT = "ddgan-training-state-1"


def atomic_save(obj, path):
    """torch.save through a temporary file and a rename (ddgan.base.io.atomic_write)."""
    atomic_write(path, lambda f: torch.save(obj, f), "wb")


ZIP_MAGIC = b"PK\x03\x04"     # torch.save's format since PyTorch 1.6


def why_unreadable(path, error):
    """What a file that torch.load(weights_only=True) refused is, in words (never advice to unpickle it
    fully: a file of unknown origin could then run code)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        return f"{path} is empty"
    unsupported = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
    if unsupported:
        return (f"{path} holds Python objects besides tensors ({unsupported.group(1)}), which are not read from "
                "a file of unknown origin")
    if head == ZIP_MAGIC:
        return f"{path} is a truncated or damaged PyTorch file (its archive cannot be read)"
    if isinstance(error, pickle.UnpicklingError) or head[:1] != b"\x80":
        return f"{path} is not a PyTorch checkpoint (neither a torch.save archive nor a pickle)"
    return f"{path} could not be read ({error.__class__.__name__}); it may be truncated"


def load_file(path, kind):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ConfigError(f"{why_unreadable(path, error)}; expected a ddgan {kind} written by `ddgan train`") from None


def ddgan_file_kind(obj):
    """"snapshot" or "training state" for a loaded ddgan file, else None."""
    formats = {SNAPSHOT_FORMAT: "snapshot", STATE_FORMAT: "training state"}
    return formats.get(obj.get("format")) if isinstance(obj, dict) else None


def check_same_config(saved, current, path):
    differences = config_differences(saved, current)
    if differences:
        raise ConfigError(f"checkpoint {path} was made with another config: " + "; ".join(differences)
                          + "; resume with the checkpoint's settings, or start a new run directory")


def load_state_dict_checked(module, state, what):
    """load_state_dict with a message naming missing/unexpected keys and differing sizes."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    resized = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
               for k in sorted(set(own) & set(state)) if state[k].shape != own[k].shape]
    if missing or unexpected or resized:
        lines = []
        if missing:
            lines.append(f"missing keys ({len(missing)}): {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            lines.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:8])}"
                         f"{' ...' if len(unexpected) > 8 else ''}")
        if resized:
            lines.append(f"different sizes ({len(resized)}): " + "; ".join(resized[:8]))
        raise ConfigError(f"{what} does not fit the network built from the config:\n  " + "\n  ".join(lines))
    module.load_state_dict(state)


def save_snapshot(path, config, step, network_state, **extra):
    """extra: further fields, e.g. the score that made snapshot-best.pt the best."""
    atomic_save({"format": SNAPSHOT_FORMAT, "config": config, "step": step, "network": network_state, **extra}, path)


def load_snapshot(path):
    snapshot = load_file(path, "snapshot")
    if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
        raise ConfigError(f"{path} is not a ddgan snapshot (expected format {SNAPSHOT_FORMAT!r}); "
                          "for the official netG_*.pth files use --official-checkpoint")
    return snapshot
