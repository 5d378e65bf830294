"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (what SLURM and most schedulers send first).

The first signal is a request: the trainer finishes the step it is in, saves the training state and
snapshot (atomically), and exits with 128 + the signal number. A second signal stops the process at
once; every save is atomic, so the last saved state is kept whole (as after SIGKILL).

Signals are answered by a watcher thread woken through signal.set_wakeup_fd, not by the Python-level
handler, which runs only between bytecodes of the main thread: a step spends seconds to minutes inside
single torch calls, and the answer must not wait for them.
"""
import os
import signal
import sys
import threading
import time

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into a request read with `.signum` (None: none).
    The trainer calls `step_started(expected_seconds)` before each step, so that the answer can say
    how long finishing the step takes."""

    def __init__(self, announce=True):
        self.signum = None
        self.previous = {}
        self.announce = announce      # one process per machine says what is happening
        self.step_end = None          # time.monotonic() at which the current step should end (None: not known)
        self.wakeup = None            # (read end, write end, previous wakeup fd) while installed
        self.watcher = None
        self.received = 0             # signals answered by the watcher

    def record(self, signum, frame=None):
        """The Python-level handler: the request is seen by the main thread's next check even when the
        watcher thread has not run yet (a process that signals itself)."""
        self.signum = self.signum or signum

    def step_started(self, expected_seconds=None):
        self.step_end = time.monotonic() + expected_seconds if expected_seconds is not None else None

    def say(self, text):
        if self.announce:
            print(f"\n{text}", file=sys.stderr, flush=True)

    def receive(self, signum):
        """What a signal does, run on the watcher thread as soon as it arrives."""
        name = signal.Signals(signum).name
        self.received += 1
        self.record(signum)
        if self.received == 1:
            left = (f"about {max(1, round(self.step_end - time.monotonic()))} s" if self.step_end is not None
                    else "its length is not measured yet")
            again = "press Ctrl-C again" if signum == signal.SIGINT else f"send {name} again"
            self.say(f"{name}: finishing this step ({left}), then saving; {again} to stop now")
        else:
            self.say(f"{name} again: stopping now; the last saved training state is kept")
            os._exit(128 + self.signum)

    def watch(self, read_fd):
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in STOP_SIGNALS:
                    self.receive(signum)

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():   # handlers can only be set there
            return self
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        # a Python-level handler must be installed for the wakeup fd to be written; the watcher answers
        self.previous = {s: signal.signal(s, self.record) for s in STOP_SIGNALS}
        self.wakeup = (read_fd, write_fd, signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False))
        self.watcher = threading.Thread(target=self.watch, args=(read_fd,), daemon=True, name="stop-request")
        self.watcher.start()
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        if self.wakeup is not None:
            read_fd, write_fd, previous_fd = self.wakeup
            signal.set_wakeup_fd(previous_fd)
            os.close(write_fd)          # the watcher reads end-of-file and returns
            self.watcher.join()
            os.close(read_fd)
            self.wakeup = None
        return False


def ignore_stop_signals(worker_id):
    """worker_init_fn of data-loading workers: the main process decides when to stop; a worker killed
    by a scheduler's SIGTERM would make the main process fail at a random point (even mid-save)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
