"""What a run tells its user: a final sample grid whatever its length, an early warning when it is too
large for the machine, and a Ctrl-C that answers at once, even in the middle of a slow step."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from ddgan.core.checkpoint import load_file
from ddgan.core.monitoring import SAMPLES_DIR
from ddgan.core.trainer import STATE_FILE, train
from ddgan.presets import mixture25_ddgan

from tests.conftest import ROOT



def tiny_config(steps, hidden=16, depth=1):
    config = mixture25_ddgan(steps=steps)
    config["networks"]["generator"].update(hidden=hidden, depth=depth)
    config["networks"]["discriminator"].update(hidden=16, depth=1)
    config["data"]["size"] = 256
    config["train"].update(batch_size=32, log_every=1, checkpoint_every=1)
    return config


def test_a_run_shorter_than_sample_every_still_ends_with_a_grid(tmp_path):
    config = tiny_config(steps=3)
    config["train"]["sample_every"] = 1000
    train(config, tmp_path / "run", progress=False)
    assert [p.name for p in (tmp_path / "run" / SAMPLES_DIR).iterdir()] == ["step-00000003.png"]


def test_a_run_too_large_for_the_machine_says_so_early_with_a_smaller_preset(tmp_path, capsys):
    config = tiny_config(steps=10**9, hidden=1024, depth=3)     # 2.5M parameters, the mixture25 preset's 443k
    config["train"].update(sample_every=None, checkpoint_every=10**6)
    train(config, tmp_path / "run", stop_at=4, progress=False)
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert " s/step on this cpu: the remaining 999,999,997 steps would take " in warnings[0]
    assert re.search(r"would take [0-9.]+ (days|years); for this machine use a smaller preset: --preset mixture25 ",
                     warnings[0])


# Steps from the second on end only once the test opens a gate: a step still running when Ctrl-C is
# answered (or the run stops) shows that the answer did not wait for the step, however fast the machine.
BLOCKED_TRAINING = """
import sys, time
from pathlib import Path
from ddgan.core.optimisation import Optimisation
from ddgan.cli import main
gate = Path(sys.argv[1])
step = Optimisation.step
calls = []
def blocked_step(self, x, k):
    logs = step(self, x, k)
    calls.append(1)
    if len(calls) >= 2:
        (gate.parent / "in-step").touch()
        while not gate.exists():
            time.sleep(0.01)
    return logs
Optimisation.step = blocked_step
sys.exit(main(sys.argv[2:]))
"""
GENEROUS = 600    # seconds: a bound for a state that comes, never a measure of speed


def wait_until(condition, process, lines):
    deadline = time.monotonic() + GENEROUS
    while not condition():
        assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
        time.sleep(0.02)


@pytest.fixture
def blocked_run(tmp_path):
    """A training run held in its second step: (process, its output lines, the gate); killed if left running."""
    config = tiny_config(steps=50)
    config["train"]["sample_every"] = None
    (tmp_path / "config.json").write_text(json.dumps(config))
    gate = tmp_path / "gate"
    process = subprocess.Popen(
        [sys.executable, "-c", BLOCKED_TRAINING, str(gate), "train", "--config", str(tmp_path / "config.json"),
         "--run-dir", str(tmp_path / "run"), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    try:
        wait_until(lambda: (tmp_path / "in-step").exists(), process, lines)    # step 1 saved, step 2 held
        yield process, lines, gate
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_answers_at_once_then_stops_after_the_step_with_the_state_saved(tmp_path, blocked_run):
    process, lines, gate = blocked_run
    process.send_signal(signal.SIGINT)
    # answered while the step is still held
    wait_until(lambda: any("SIGINT: finishing this step (about" in line for line in lines), process, lines)
    assert "then saving; press Ctrl-C again to stop now" in "".join(lines)
    gate.touch()
    assert process.wait(timeout=GENEROUS) == 130
    state = load_file(tmp_path / "run" / STATE_FILE, "training state")
    assert "SIGINT: stopped at step" in "".join(lines) and state["step"] >= 2


def test_a_second_ctrl_c_stops_at_once_keeping_the_last_saved_state(tmp_path, blocked_run):
    process, lines, gate = blocked_run
    process.send_signal(signal.SIGINT)
    wait_until(lambda: any("finishing this step" in line for line in lines), process, lines)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=GENEROUS) == 130 and not gate.exists()   # stopped inside the held step
    assert "SIGINT again: stopping now; the last saved training state is kept" in "".join(lines)
    state = load_file(tmp_path / "run" / STATE_FILE, "training state")
    assert state["step"] >= 1 and torch.is_tensor(state["rng"][0]["torch"])


def test_a_run_holding_most_of_the_memory_says_so_early(tmp_path, capsys, monkeypatch):
    from ddgan.core import monitoring
    # a fast run that the machine cannot hold: 20 of 24 GiB, as the cifar10 preset on this 2-core machine
    monkeypatch.setattr(monitoring, "memory_use", lambda device: (20 * 2**30, 24 * 2**30))
    config = tiny_config(steps=10, hidden=1024, depth=3)
    config["train"].update(sample_every=None, checkpoint_every=10**6)
    train(config, tmp_path / "run", progress=False)
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert re.search(r" s/step on this cpu: it holds 20.0 GiB of the 24.0 GiB here; for this machine use a smaller "
                     r"preset: --preset mixture25 ", warnings[0])


def test_memory_use_reports_this_process_against_the_machine():
    from ddgan.core.hardware import memory_use
    used, total = memory_use(torch.device("cpu"))
    assert 0 < used < total
    held = torch.ones((used + 64 * 2**20) // 4)      # more than the peak so far, alone, touched
    assert held[-1] == 1
    assert memory_use(torch.device("cpu"))[0] >= used + 64 * 2**20
