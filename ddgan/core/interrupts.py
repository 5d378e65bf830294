"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (what SLURM and most schedulers send first).

The handler only records the signal: the trainer finishes the step it is in, saves the training
state and snapshot (atomically), and exits with 128 + the signal number. Later signals are
reported and ignored, so they cannot cut the save short; SIGKILL loses only what was not saved.
"""
import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into a request read with `.signum` (None: none)."""

    def __init__(self, announce=True):
        self.signum = None
        self.previous = {}
        self.announce = announce      # one process per machine says what is happening

    def handle(self, signum, frame):
        first = self.signum is None
        self.signum = self.signum or signum
        if not self.announce:
            return
        name = signal.Signals(signum).name
        if first:
            print(f"\n{name}: finishing this step, then saving the training state (further signals are ignored "
                  "until it is written)", file=sys.stderr, flush=True)
        else:
            print(f"\n{name}: still stopping; the training state is being written", file=sys.stderr, flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():   # handlers can only be set there
            self.previous = {s: signal.signal(s, self.handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        return False


def ignore_stop_signals(worker_id):
    """worker_init_fn of data-loading workers: the main process decides when to stop; a worker killed
    by a scheduler's SIGTERM would make the main process fail at a random point (even mid-save)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
