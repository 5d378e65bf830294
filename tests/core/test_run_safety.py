"""Runs that can be trusted: signals stop a real `ddgan train` with nothing lost, the same command
resumes bit for bit, run directories are locked and refuse other configs, runs can be extended,
and files that are not ddgan checkpoints get a safe one-line message."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ddgan.cli import main
from ddgan.core.config import validate
from ddgan.core.run_dir import LOCK_FILE
from ddgan.core.trainer import STATE_FILE, train
from ddgan.presets import mixture25_ddgan

from tests.conftest import ROOT

STEPS = 400
GENEROUS = 600    # seconds: a bound for a state that comes, never a measure of speed


def tiny_config(steps=STEPS, lr_schedule="cosine"):
    config = mixture25_ddgan(num_timesteps=2, steps=steps)
    config["networks"]["generator"].update(hidden=16, depth=2)
    config["networks"]["discriminator"].update(hidden=16, depth=2)
    config["method"]["lazy_reg"] = 3
    config["data"]["size"] = 1_000          # several epochs: reshuffles must resume too
    config["optim"]["lr_schedule"] = lr_schedule
    config["train"].update(batch_size=64, log_every=10, checkpoint_every=1000)
    config["name"] = "tiny"
    return config


def trained_tensors(run_dir):
    state = torch.load(Path(run_dir) / STATE_FILE, weights_only=True)
    tensors = {f"{net}.{k}": v for net, weights in state["networks"].items() for k, v in weights.items()}
    tensors.update({f"ema.{k}": v for k, v in state["ema"]["net"].items()})
    return state["step"], tensors


def assert_bit_identical(run_a, run_b):
    (step_a, a), (step_b, b) = trained_tensors(run_a), trained_tensors(run_b)
    assert step_a == step_b and a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def logged_steps(run_dir):
    return [json.loads(line)["step"] for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------ signals to a real `ddgan train`

def ddgan_train(config_file, run_dir):
    command = [sys.executable, "-m", "ddgan", "train", "--config", str(config_file), "--run-dir", str(run_dir),
               "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def finish(process):
    out, _ = process.communicate(timeout=GENEROUS)
    return process.returncode, out


def wait_for_progress(process, run_dir, beyond=0, timeout=GENEROUS):
    """Until log.jsonl has a row past step `beyond` (the run is training)."""
    log = Path(run_dir) / "log.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and any(step > beyond for step in logged_steps(run_dir)):
            return
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.02)
    raise AssertionError("the run logged no progress")


def interrupt(config_file, run_dir, signum, beyond=0):
    """Start the command, send `signum` twice once it trains, and check what it leaves."""
    process = ddgan_train(config_file, run_dir)
    wait_for_progress(process, run_dir, beyond)
    process.send_signal(signum)
    process.send_signal(signum)          # a second signal while it stops must not cut the save short
    code, out = finish(process)
    assert code == 128 + signum, out
    stopped = trained_tensors(run_dir)[0]
    assert beyond < stopped < STEPS and "Traceback" not in out
    line = [row for row in out.splitlines() if "stopped at step" in row]
    assert line == [f"{signal.Signals(signum).name}: stopped at step {stopped} of {STEPS}, training state saved in "
                    f"{run_dir}/{STATE_FILE}; resume with: ddgan train --config {config_file} "
                    f"--run-dir {run_dir} --quiet"]
    assert not (run_dir / LOCK_FILE).exists()
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    return stopped, out


def test_sigterm_and_sigint_save_and_the_same_command_resumes_bit_for_bit(tmp_path):
    config_file, run_dir = tmp_path / "config.json", tmp_path / "run"
    config_file.write_text(json.dumps(tiny_config()))
    first, _ = interrupt(config_file, run_dir, signal.SIGTERM)
    second, out = interrupt(config_file, run_dir, signal.SIGINT, beyond=first)
    assert f"resuming {run_dir} at step {first} of {STEPS}" in out.splitlines()
    code, out = finish(ddgan_train(config_file, run_dir))
    assert code == 0, out
    assert f"resuming {run_dir} at step {second} of {STEPS}" in out.splitlines()
    steps = logged_steps(run_dir)
    assert steps == sorted(set(steps)) and steps[-1] == STEPS

    # the uninterrupted run (in this process, on one thread as the command's)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(tiny_config(), tmp_path / "straight", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert_bit_identical(run_dir, tmp_path / "straight")


# ------------------------------------------------------------------ resume, logs and extension (in process)

def test_log_rows_past_the_last_checkpoint_are_cut_on_resume(tmp_path):
    """A hard kill after the last save: the log holds rows the resumed run repeats."""
    config = tiny_config(steps=60)
    train(config, tmp_path / "straight", progress=False)
    run_dir = tmp_path / "killed"
    train(config, run_dir, stop_at=20, progress=False)
    shutil.copy(run_dir / STATE_FILE, tmp_path / "state-at-20.pt")
    train(config, run_dir, stop_at=50, progress=False)         # logs 30, 40, 50 ...
    shutil.copy(tmp_path / "state-at-20.pt", run_dir / STATE_FILE)   # ... but the kill lost their state
    train(config, run_dir, progress=False)
    assert logged_steps(run_dir) == [10, 20, 30, 40, 50, 60]
    assert_bit_identical(run_dir, tmp_path / "straight")


def test_a_run_extended_from_n_to_2n_resumes_at_n_and_matches_a_2n_run(tmp_path, capsys):
    constant = tiny_config(steps=40, lr_schedule="constant")
    train(constant, tmp_path / "extended", progress=False)
    longer = tiny_config(steps=80, lr_schedule="constant")
    train(longer, tmp_path / "straight", progress=False)
    capsys.readouterr()
    train(longer, tmp_path / "extended", progress=False)
    out = capsys.readouterr().out
    assert f"resuming {tmp_path / 'extended'} at step 40 of 80" in out.splitlines()
    assert "extending" in out and "from 40 to 80 steps (constant learning rate" in out
    assert_bit_identical(tmp_path / "extended", tmp_path / "straight")
    assert logged_steps(tmp_path / "extended") == list(range(10, 81, 10))
    record = json.loads((tmp_path / "extended" / "extensions.jsonl").read_text())
    assert (record["at_step"], record["from_steps"], record["to_steps"]) == (40, 40, 80)
    assert json.loads((tmp_path / "extended" / "config.json").read_text())["train"]["steps"] == 80


def test_extending_a_cosine_run_says_what_changes_and_records_it(tmp_path, capsys):
    train(tiny_config(steps=45), tmp_path, progress=False)       # 15 steps per epoch: 3 epochs
    capsys.readouterr()
    train(tiny_config(steps=90), tmp_path, progress=False)
    line = [row for row in capsys.readouterr().out.splitlines() if row.startswith("extending")]
    assert len(line) == 1
    assert "the cosine learning-rate schedule now decays over 6 epochs instead of 3, so from step 45 on" in line[0]
    record = json.loads((tmp_path / "extensions.jsonl").read_text())
    assert (record["lr_schedule"], record["from_epochs"], record["to_epochs"]) == ("cosine", 3, 6)
    assert record["message"] == line[0]


def test_a_run_cannot_be_shortened(tmp_path, capsys):
    train(tiny_config(steps=20), tmp_path, progress=False)
    (tmp_path / "short.json").write_text(json.dumps(tiny_config(steps=10)))
    assert main(["train", "--config", str(tmp_path / "short.json"), "--run-dir", str(tmp_path), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "is a run of 20 steps (at step 20); a run can be extended but not shortened to 10" in error


# ------------------------------------------------------------------ run directories

def test_a_run_dir_with_another_config_is_refused_even_without_a_state(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps(validate(tiny_config())))     # no training state
    (tmp_path / "new.json").write_text(json.dumps({**tiny_config(), "method": {**tiny_config()["method"],
                                                                               "lazy_reg": 5}}))
    assert main(["train", "--config", str(tmp_path / "new.json"), "--run-dir", str(tmp_path), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert f"run directory {tmp_path} was made with another config: method.lazy_reg: run directory has 3, " \
           "this run has 5" in error
    assert not (tmp_path / "log.jsonl").exists()


def test_a_locked_run_dir_stops_a_second_trainer_at_once(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(tiny_config()))
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": "2026-01-01 00:00:00"}
    (tmp_path / "run" / LOCK_FILE).write_text(json.dumps(holder))
    assert main(["train", "--config", str(tmp_path / "config.json"), "--run-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert f"run directory {tmp_path / 'run'} is in use by PID {os.getpid()} on {socket.gethostname()}" in error
    assert error.count("\n") == 1 and not (tmp_path / "run" / "config.json").exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over_and_released(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    trainer = train(tiny_config(steps=10), tmp_path, progress=False)
    assert trainer.step == 10
    assert f"removing the stale lock of PID {dead.pid}" in capsys.readouterr().out
    assert not (tmp_path / LOCK_FILE).exists()


# ------------------------------------------------------------------ safe loading messages

@pytest.fixture
def snapshot(tmp_path):
    train(tiny_config(steps=2), tmp_path / "run", progress=False)
    return tmp_path / "run" / "snapshot.pt"


def foreign_pickle(path):
    torch.save({"weights": torch.zeros(2), "maker": socket.socket}, path)
    return path


@pytest.mark.parametrize("flag,make,message", [
    ("--official-checkpoint", lambda p: p.write_bytes(os.urandom(4096)) and p, "is not a PyTorch checkpoint"),
    ("--checkpoint", lambda p: p.write_bytes(os.urandom(4096)) and p, "is not a PyTorch checkpoint"),
    ("--checkpoint", foreign_pickle, "holds Python objects besides tensors (socket.socket)"),
    ("--official-checkpoint", lambda p: p.write_bytes(b"") is not None and p, "is empty"),
])
def test_files_that_are_not_checkpoints_get_a_safe_one_line_message(tmp_path, capsys, flag, make, message):
    path = tmp_path / "file.pt"
    make(path)
    preset = ["--preset", "cifar10"] if flag == "--official-checkpoint" else []
    assert main(["sample", flag, str(path), *preset, "-n", "1", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"{path} {message}" in error and error.count("\n") == 1
    assert "weights_only" not in error and "Traceback" not in error


def test_a_ddgan_snapshot_given_as_official_checkpoint_is_redirected(tmp_path, capsys, snapshot):
    assert main(["sample", "--official-checkpoint", str(snapshot), "--preset", "cifar10", "-n", "1",
                 "--out", str(tmp_path / "out")]) == 2
    assert f"{snapshot} is a ddgan snapshot: use --checkpoint {snapshot}" in capsys.readouterr().err
