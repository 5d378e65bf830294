"""Files written whole or not at all, and the processes that own them.

A file written with `atomic_write` is first written and flushed to disk (fsync) as a temporary file
beside it, then renamed over it: a reader, or a writer killed halfway, sees the old file or the new one,
never a part. Checkpoints, snapshots, a run's text files, stage markers and trained classifiers are all
written this way.
"""
import json
import os
import tempfile
from pathlib import Path


def atomic_write(path, write, mode="w"):
    """Call write(file) on a temporary file in the same folder, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)     # mkstemp's 0600 would hide the file from collaborators
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    atomic_write(path, lambda f: f.write(text))


def atomic_write_json(path, value):
    """`value` as indented JSON and a newline."""
    atomic_write_text(path, json.dumps(value, indent=2) + "\n")


def process_alive(pid):
    """Whether a process with this id exists on this machine (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:    # it exists, owned by another user
        return True
    return True
