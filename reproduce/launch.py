"""Training stage: one process without a GPU, `accelerate launch` over every visible GPU otherwise.

The command a target runs for a training (printed by `python -m reproduce.run TARGET --print-commands`):

    accelerate launch --num_processes N [--multi_gpu] -m ddgan train --config RUN/pipeline-config.json --run-dir RUN

Several nodes (a shared file system holding RUN): start the same training on every node,

    accelerate launch --multi_gpu --num_machines 2 --machine_rank R --main_process_ip HOST \\
        --main_process_port 29500 --num_processes 16 -m ddgan train --config RUN/pipeline-config.json --run-dir RUN

then run the make target on one node: it finds the finished training (or resumes it there) and
goes on with sampling, evaluation and the comparison.
"""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from ddgan.base.io import atomic_write_json
from ddgan.core.checkpoint import load_snapshot
from ddgan.core.config import ConfigError
from ddgan.core.interrupts import STOP_SIGNALS
from ddgan.core.trainer import SNAPSHOT_FILE

CONFIG_FILE = "pipeline-config.json"
TRAIN_OUTPUT = "train-output.log"     # a training's output when it runs beside others (--jobs)


class TrainingError(RuntimeError):
    """A training subprocess failed."""


class TrainingInterrupted(TrainingError):
    """SIGINT / SIGTERM stopped a training with its state saved: the target must stop too, not evaluate
    the unfinished run (running it again resumes)."""

    def __init__(self, run_dir, signum: int, step: int | None = None):
        name = signal.Signals(signum).name
        at = f" at step {step}" if step is not None else ""
        super().__init__(f"{name} stopped the training in {run_dir}{at} with its state saved; run the same target "
                         "again to resume it")
        self.signum = signum


def process_count(requested: int | None = None) -> int:
    """Processes to train with: as requested, else one per visible GPU, else one (CPU)."""
    if requested is not None:
        if requested < 1:
            raise ConfigError(f"the number of processes must be at least 1, got {requested}")
        return requested
    return max(1, torch.cuda.device_count())


def free_port() -> int:
    """A TCP port no one listens on now, so two trainings on one machine do not share a rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ddgan_train_command(run_dir: Path) -> list[str]:
    """`ddgan train` on the run's saved config, in one process."""
    return [sys.executable, "-m", "ddgan", "train", "--config", str(run_dir / CONFIG_FILE), "--run-dir", str(run_dir)]


def train_command(run_dir: Path, processes: int) -> list[str]:
    """`accelerate launch` of `ddgan train` on the run's saved config."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if processes > 1:
        launch += ["--multi_gpu", "--main_process_port", str(free_port())]
    return launch + ddgan_train_command(run_dir)[1:]


def write_run_config(config: dict, run_dir: Path) -> Path:
    path = Path(run_dir) / CONFIG_FILE
    atomic_write_json(path, config)
    return path


def check_batch_split(config: dict, processes: int) -> None:
    batch = config["train"]["batch_size"]
    if batch % processes:
        raise ConfigError(f"the global batch {batch} of {config.get('name')} does not split over {processes} "
                          f"processes; choose a divisor of {batch} with NPROC=N (--num-processes N) or "
                          f"CUDA_VISIBLE_DEVICES")


def train_run(config: dict, run_dir: Path, processes: int, progress: bool = True, threads: int | None = None) -> dict:
    """Train `config` in `run_dir` (resuming a training state found there); returns steps and seconds.
    `threads`: train in a subprocess with that many CPU threads and its output in RUN/train-output.log,
    so that several trainings can run side by side (`--jobs`)."""
    run_dir = Path(run_dir)
    check_batch_split(config, processes)
    write_run_config(config, run_dir)
    started = time.time()
    if processes == 1 and threads is None and not torch.cuda.is_available():
        from ddgan.core.trainer import train
        trainer = train(config, run_dir, progress=progress)
        if trainer.interrupted:
            raise TrainingInterrupted(run_dir, trainer.interrupted, trainer.step)
        step = trainer.step
    else:
        # one CPU process beside others needs no launcher (whose traceback would bury the one-line
        # message of an interrupted training)
        command = ((ddgan_train_command(run_dir) if threads is not None else train_command(run_dir, processes))
                   + ([] if progress else ["--quiet"]))
        print("  " + " ".join(command), flush=True)
        if threads is None:
            returncode = subprocess.run(command).returncode
        else:
            output = run_dir / TRAIN_OUTPUT
            print(f"  {threads} thread(s); output in {output}", flush=True)
            with open(output, "a") as stream:
                returncode = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT,
                                            env={**os.environ, "OMP_NUM_THREADS": str(threads)}).returncode
        if returncode - 128 in STOP_SIGNALS:
            raise TrainingInterrupted(run_dir, returncode - 128)
        if returncode != 0:
            where = "the output above" if threads is None else run_dir / TRAIN_OUTPUT
            raise TrainingError(f"training in {run_dir} failed (see {where}); run the same target "
                                f"again to resume from the last checkpoint")
        step = load_snapshot(run_dir / SNAPSHOT_FILE)["step"]
    return {"steps": step, "processes": processes, "seconds": round(time.time() - started, 1)}


def threads_per_job(jobs: int) -> int:
    """An even share of this machine's CPU threads for each of `jobs` trainings running at once."""
    return max(1, (os.cpu_count() or 1) // jobs)
