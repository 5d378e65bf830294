"""Resumable stages: each finished stage leaves a marker file, written atomically, and is skipped next time.

A marker is `<folder>/stages/<name>.json` holding what the stage returned, when it finished and how
long it took. Re-running a target therefore continues where it stopped: finished stages are skipped,
an interrupted training resumes from its training state, and a stage that failed runs again. Delete
a marker to run its stage again.
"""
import json
import time
from pathlib import Path

from ddgan.base.io import atomic_write_json
from ddgan.base.provenance import now


class Stages:
    """Markers of the stages of one run (or one target) under `folder/stages/`."""

    def __init__(self, folder, log=print):
        self.folder = Path(folder) / "stages"
        self.log = log

    def marker(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def done(self, name: str) -> dict | None:
        """The marker of a finished stage ({"result": ..., "finished": ..., "seconds": ...}), or None."""
        path = self.marker(name)
        return json.loads(path.read_text()) if path.is_file() else None

    def run(self, name: str, work, *args, **kwargs):
        """Return the stored result of stage `name`, or run `work(*args, **kwargs)` and record its result."""
        previous = self.done(name)
        if previous is not None:
            self.log(f"[skip] {name}: done {previous['finished']} ({self.marker(name)})")
            return previous["result"]
        self.log(f"[run]  {name}")
        started = time.time()
        result = work(*args, **kwargs)
        atomic_write_json(self.marker(name), {"stage": name, "result": result, "finished": now(),
                                              "seconds": round(time.time() - started, 2)})
        return result
