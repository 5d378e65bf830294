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


SLOW_STEP = 3.0
SLOW_TRAINING = f"""
import sys, time
from ddgan.core.optimisation import Optimisation
from ddgan.cli import main
step = Optimisation.step
def slow_step(self, x, k):
    logs = step(self, x, k)
    time.sleep({SLOW_STEP})        # a long step; Ctrl-C must not wait for its end to answer
    return logs
Optimisation.step = slow_step
sys.exit(main(sys.argv[1:]))
"""


def start_slow_run(tmp_path):
    config = tiny_config(steps=50)
    config["train"]["sample_every"] = None
    (tmp_path / "config.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_TRAINING, "train", "--config", str(tmp_path / "config.json"), "--run-dir",
         str(tmp_path / "run"), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / STATE_FILE).exists():     # step 1 done and saved
        assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
        time.sleep(0.05)
    time.sleep(SLOW_STEP / 2)                                # in the middle of step 2 (or 3)
    return process, lines


def answered_within(lines, text, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return True
        time.sleep(0.02)
    return False


def test_ctrl_c_answers_at_once_then_stops_after_the_step_with_the_state_saved(tmp_path):
    process, lines = start_slow_run(tmp_path)
    process.send_signal(signal.SIGINT)
    assert answered_within(lines, "SIGINT: finishing this step (about", 1.0), "".join(lines)
    assert "then saving; press Ctrl-C again to stop now" in "".join(lines)
    assert process.wait(timeout=60) == 130
    state = load_file(tmp_path / "run" / STATE_FILE, "training state")
    assert "SIGINT: stopped at step" in "".join(lines) and state["step"] >= 2


def test_a_second_ctrl_c_stops_at_once_keeping_the_last_saved_state(tmp_path):
    process, lines = start_slow_run(tmp_path)
    process.send_signal(signal.SIGINT)
    assert answered_within(lines, "finishing this step", 1.0), "".join(lines)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=5) == 130 and time.monotonic() - sent < 1.0
    assert "SIGINT again: stopping now; the last saved training state is kept" in "".join(lines)
    state = load_file(tmp_path / "run" / STATE_FILE, "training state")
    assert state["step"] >= 1 and torch.is_tensor(state["rng"][0]["torch"])
