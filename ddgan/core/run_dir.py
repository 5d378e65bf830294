"""Run directories: their default name, the check that a directory belongs to the requested config,
the exclusive lock of the trainer that writes one, and atomic edits of its text files.

A run directory holds config.json (the complete config), log.jsonl, training-state.pt, snapshot.pt,
lock (while a trainer runs) and extensions.jsonl (one row per time the run was made longer).
"""
import json
import os
import re
import socket
import time
from pathlib import Path

from ddgan.core.config import BOOKKEEPING_KEYS, LENGTH_KEYS, config_differences, flatten, validate
from ddgan.base.io import atomic_write_text, process_alive
from ddgan.base.options import ConfigError
from ddgan.base.provenance import json_digest

LOCK_FILE = "lock"
EXTENSIONS_FILE = "extensions.jsonl"


def computing_differences(base, config):
    """{key: value} of `config` wherever it differs from `base` in what is computed (bookkeeping keys
    and the run's length aside: a longer run is the same run, extended)."""
    a, b = flatten(base), flatten(config)
    ignore = BOOKKEEPING_KEYS | LENGTH_KEYS
    return {k: b.get(k) for k in sorted(set(a) | set(b))
            if k not in ignore and json.dumps(a.get(k)) != json.dumps(b.get(k))}


def default_run_dir(base, config, root="runs"):
    """runs/<name> of the preset (or config file) `base`, renamed for the overrides in `config` that
    change what is computed: a -T<k> in the name follows method.num_timesteps (or is added); any other
    difference adds a short hash of the differing keys and values. Returns (path, differences)."""
    differences = computing_differences(base, config)
    name = str(config.get("name") or "run")
    rest = dict(differences)
    if "method.num_timesteps" in rest:
        steps = f"-T{rest.pop('method.num_timesteps')}"
        pattern = re.compile(rf"-T{base['method'].get('num_timesteps')}(?=-|$)")
        name = pattern.sub(steps, name, count=1) if pattern.search(name) else name + steps
    if rest:
        name = f"{name}-{json_digest(rest, 'sha1', 8)}"
    return Path(root) / name, differences


def check_run_dir(run_dir, config, state_file):
    """Refuse a run directory whose config.json differs from `config` in what is computed, whether or
    not it holds a training state yet."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return
    try:
        saved = validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ConfigError) as error:
        raise ConfigError(f"run directory {run_dir} holds a config.json this version cannot use ({error}); "
                          "choose a new --run-dir") from None
    label = "checkpoint" if (Path(run_dir) / state_file).exists() else "run directory"
    differences = config_differences(saved, config, label=label)
    if differences:
        raise ConfigError(f"run directory {run_dir} was made with another config: {'; '.join(differences)}; "
                          "resume it with its own settings (--config " f"{path}), or choose another --run-dir")


def cut_log(path, step):
    """Keep the rows of log.jsonl up to `step` (the steps a resumed run repeats are logged again);
    a partial last line left by a hard kill is dropped too. Returns the number of rows removed."""
    path = Path(path)
    if not path.exists():
        return 0
    kept, removed = [], 0
    for line in path.read_text().splitlines():
        try:
            row_step = json.loads(line)["step"]
        except (json.JSONDecodeError, KeyError, TypeError):
            row_step = None
        if row_step is not None and row_step <= step:
            kept.append(line)
        else:
            removed += 1
    if removed:
        atomic_write_text(path, "".join(line + "\n" for line in kept))
    return removed


def append_jsonl(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


class RunLock:
    """An exclusive lock file (PID and host of the holder) for the life of one trainer.

    A lock whose process no longer runs on this host is stale and taken over; a lock held from
    another host cannot be checked, so it is reported with the command that removes it.
    """

    def __init__(self, run_dir):
        self.path = Path(run_dir) / LOCK_FILE
        self.held = False

    def acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder and holder.get("host") == me["host"] and not process_alive(holder.get("pid", -1)):
                    print(f"note: removing the stale lock of PID {holder['pid']} (no longer running) from {self.path}")
                    self.path.unlink(missing_ok=True)
                    continue
                if holder is None:
                    raise ConfigError(f"run directory {self.path.parent} has an unreadable lock file {self.path}; "
                                      f"if no trainer is using it, delete the file (rm {self.path})") from None
                raise ConfigError(f"run directory {self.path.parent} is in use by PID {holder['pid']} on "
                                  f"{holder['host']} (since {holder.get('since', '?')}); wait for that run to end or "
                                  f"stop it, or choose another --run-dir (a lock left by a crash on another host: "
                                  f"rm {self.path})") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self

    def holder(self):
        try:
            holder = json.loads(self.path.read_text())
            int(holder["pid"])
            return holder
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def release(self):
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
