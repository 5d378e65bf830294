"""The demo: its scores on known inputs, and the whole pipeline at the smoke profile."""
import csv
import math
import shutil

import numpy as np
import pytest

from ddgan.datasets.toy import MIXTURE25_CENTRES, MIXTURE25_SCALE, mixture25, stack_digits, digits_split
from ddgan.demo.__main__ import UNIFORM_HALF_WIDTH, main, uniform_high_quality_fraction
from ddgan.demo.plan import SMOKE_SAMPLING_STEPS
from ddgan.demo.scoring import score_mixture25


def test_mixture25_scores_of_known_sample_sets():
    centres = np.repeat(MIXTURE25_CENTRES, 4, axis=0) / MIXTURE25_SCALE
    assert score_mixture25(centres) == {"modes": 25, "high_quality": 1.0, "kl": pytest.approx(0.0, abs=1e-12)}
    collapsed = np.tile(MIXTURE25_CENTRES[:1] / MIXTURE25_SCALE, (100, 1))
    assert score_mixture25(collapsed)["kl"] == pytest.approx(math.log(25))
    # halfway between two centres: assigned to one of them, but not of high quality
    between = (MIXTURE25_CENTRES[:1] + [1.0, 0.0]) / MIXTURE25_SCALE
    scores = score_mixture25(np.vstack([centres, between]))
    assert scores["high_quality"] == pytest.approx(100 / 101) and scores["modes"] == 25
    real = score_mixture25(mixture25(10_000, seed=3)[0])
    assert real["modes"] == 25 and real["high_quality"] > 0.98 and real["kl"] < 0.01


def test_uniform_high_quality_level_matches_monte_carlo():
    rng = np.random.default_rng(0)
    uniform = rng.uniform(-UNIFORM_HALF_WIDTH, UNIFORM_HALF_WIDTH, size=(200_000, 2)) / MIXTURE25_SCALE
    assert score_mixture25(uniform)["high_quality"] == pytest.approx(uniform_high_quality_fraction(), abs=1e-3)


def test_stacked_digits_are_three_labelled_digits():
    x_train, y_train, _, _ = digits_split()
    images, labels = stack_digits(x_train, y_train, 50, seed=1)
    assert images.shape == (50, 3, 8, 8) and images.min() >= -1 and images.max() <= 1
    assert labels.max() < 1000 and len(np.unique(labels)) > 40


def test_digit_figure_shows_each_sample_as_its_three_digits_in_grey_apart():
    from ddgan.demo.figures import DIGIT_GAP, SAMPLE_GAP, SEPARATOR_GREY, digit_triples
    images = np.full((4, 3, 8, 8), -1.0)
    for i in range(4):
        for channel in range(3):   # a different level per sample and digit, in [-1, 1]
            images[i, channel] = -1 + (3 * i + channel + 1) / 6
    u = 2
    grid = digit_triples(images, cols=3, upscale=u)
    tile_w = 3 * 8 * u + 2 * DIGIT_GAP
    assert grid.shape == (2 * 8 * u + SAMPLE_GAP, 3 * tile_w + 2 * SAMPLE_GAP)
    for i in range(4):
        row, col = divmod(i, 3)
        top, left = row * (8 * u + SAMPLE_GAP), col * (tile_w + SAMPLE_GAP)
        for channel in range(3):
            x = left + channel * (8 * u + DIGIT_GAP)
            np.testing.assert_allclose(grid[top:top + 8 * u, x:x + 8 * u], (3 * i + channel + 1) / 12)
            if channel < 2:      # black between the digits of a sample
                np.testing.assert_array_equal(grid[top:top + 8 * u, x + 8 * u:x + 8 * u + DIGIT_GAP], 0)
    assert np.all(grid[8 * u:8 * u + SAMPLE_GAP] == SEPARATOR_GREY)     # grey between rows of samples
    assert np.all(grid[8 * u + SAMPLE_GAP:, tile_w + SAMPLE_GAP:] == SEPARATOR_GREY)   # the empty slots


@pytest.fixture(scope="module")
def smoke_demo(tmp_path_factory):
    """The whole demo at the smoke profile, run once: (work, out) for the tests that read it."""
    root = tmp_path_factory.mktemp("smoke-demo")
    work, out = root / "work", root / "out"
    assert main(["--profile", "smoke", "--out", str(out), "--work", str(work), "--jobs", "2"]) == 0
    return work, out


def test_smoke_profile_writes_every_table_and_figure(smoke_demo):
    _, out = smoke_demo
    for name in ("mixture25.csv", "stacked_digits.csv", "summary.md", "configs.json", "trilemma.png",
                 "mixture25_samples.png", "stacked_digits_samples.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(out / "mixture25.csv")))
    methods = [r["method"] for r in rows]
    assert {"DDGAN T=1", "DDGAN T=2", "DDGAN T=4", "Gaussian denoiser T=4", "DDPM 4 steps", "DDPM 1000 steps",
            "data (held-out samples)"} <= set(methods)
    by_method = {r["method"]: r for r in rows}
    # the smoke profile samples the 1000-step DDPM with a few steps; the NFE column counts those
    assert by_method["DDPM 1000 steps"]["nfe"] == str(SMOKE_SAMPLING_STEPS) and by_method["DDGAN T=4"]["nfe"] == "4"
    assert float(by_method["data (held-out samples)"]["high_quality"]) > 0.9
    digits = {r["method"]: r for r in csv.DictReader(open(out / "stacked_digits.csv"))}
    assert int(digits["data (held-out samples)"]["modes"]) > 200       # 400 real stacks: many distinct triples
    # the 1000-step samplers are scored on fewer samples: the data is scored at that count too
    few = digits["data (held-out, 20 samples)"]
    assert few["n_samples"] == digits["DDPM 1000 steps"]["n_samples"] == "20" and 10 < int(few["modes"]) <= 20
    assert all(0 <= float(r["confident_fraction"]) <= 1 and 0 <= int(r["confident_modes"]) <= int(r["modes"])
               for r in digits.values())
    summary = (out / "summary.md").read_text()
    assert "profile `smoke`" in summary and "held-out accuracy" in summary and "confident_fraction" in summary
    assert "How each model was trained" in summary and "| mixture25 | ddgan-T4 | ddgan |" in summary
    assert "Quality at this scale" in summary


def test_a_second_demo_reuses_the_finished_runs_and_their_scores(smoke_demo, tmp_path):
    work, out = smoke_demo
    again = tmp_path / "again"
    assert main(["--profile", "smoke", "--out", str(again), "--work", str(work), "--jobs", "2"]) == 0
    for name in ("mixture25.csv", "stacked_digits.csv"):
        first = [{k: v for k, v in r.items() if k != "sample_seconds"} for r in csv.DictReader(open(out / name))]
        second = [{k: v for k, v in r.items() if k != "sample_seconds"} for r in csv.DictReader(open(again / name))]
        assert first == second


def test_loss_progress_and_digit_claims_read_the_numbers():
    from ddgan.demo.report import digits_checks, loss_progress
    log = [{"step": 100 * (i + 1), "loss": v} for i, v in enumerate([4.0, 3.0, 2.0, 1.5, 1.2, 1.0, 0.9, 0.7])]
    assert loss_progress(log) == ("loss", 4.0, pytest.approx(0.8), pytest.approx(0.8 - 1.1))
    # latent diffusion logs the autoencoder stage first; the progress is the denoiser's
    staged = [{"loss_autoencoder": 1.0}, {"loss_denoiser": 0.5}, {"loss_denoiser": 0.3}]
    assert loss_progress(staged)[:2] == ("loss_denoiser", 0.5)
    rows = [{"method": "DDGAN T=4", "modes": 900, "kl": 0.5}, {"method": "DDGAN T=1", "modes": 30, "kl": 5.0},
            {"method": "DDPM 4 steps", "modes": 700, "kl": 0.4}]
    assert [ok for _, ok in digits_checks(rows)] == [True, False]


def test_finished_only_tables_list_the_runs_still_training(smoke_demo, tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    shutil.copytree(smoke_demo[0] / "mixture25", work / "mixture25")   # the finished smoke runs, to change
    common = ["--profile", "smoke", "--datasets", "mixture25", "--work", str(work), "--jobs", "2"]
    (work / "mixture25" / "vae" / "demo-training.json").unlink()   # as if the VAE were still training
    assert main(common + ["--out", str(out), "--finished-only"]) == 0
    methods = [r["method"] for r in csv.DictReader(open(out / "mixture25.csv"))]
    assert "VAE" not in methods
    assert {"DDGAN T=4", "DDPM 1000 steps", "data (held-out samples)", "uniform noise"} <= set(methods)
    rows = {r["method"]: r for r in csv.DictReader(open(out / "mixture25.csv"))}
    assert rows["uniform noise"]["modes"] == "0" and rows["data (held-out samples)"]["modes"] == "25"
    assert "NOT FINISHED" in (out / "summary.md").read_text() and "mixture25/vae" in (out / "summary.md").read_text()
    assert not (work / "mixture25" / "vae" / "demo-training.json").exists()   # nothing was trained


GENEROUS = 600    # seconds: a bound for a state that comes, never a measure of speed

ORPHAN_WATCH = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (print("stopped by SIGTERM", flush=True), sys.exit(143)))
from ddgan.demo.execute import stop_when_orphaned
polls, getppid = [], os.getppid
parent = getppid() + (100000 if sys.argv[1] == "orphan" else 0)
os.getppid = lambda: polls.append(1) or getppid()     # counts the watcher's looks at its parent
stop_when_orphaned(parent, poll_seconds=0.05)
while sys.argv[1] == "orphan" or len(polls) < 5:
    time.sleep(0.01)
"""


def test_a_demo_worker_whose_parent_is_gone_stops_itself():
    """stop_when_orphaned SIGTERMs its own process once os.getppid() is no longer the demo's main
    process (here: a pid that never was the parent), so the trainer's handler saves and exits; with
    its parent there, it watches (five looks) and lets the worker finish."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", ORPHAN_WATCH, "orphan"], capture_output=True, text=True,
                          timeout=GENEROUS)
    assert done.returncode == 143 and "stopped by SIGTERM" in done.stdout, done.stderr[-2000:]
    done = subprocess.run([sys.executable, "-c", ORPHAN_WATCH, "parent"], capture_output=True, text=True,
                          timeout=GENEROUS)
    assert done.returncode == 0 and "stopped" not in done.stdout, done.stderr[-2000:]


def test_an_interrupted_demo_run_saves_and_stops_without_scores(tmp_path):
    """SIGTERM during a demo run's training: the trainer saves, the worker exits 143 and writes no
    scores for the unfinished run, and its record says how far it got (the next demo resumes it)."""
    import json
    import subprocess
    import sys
    script = f"""
import os, signal, threading, time
from pathlib import Path
from ddgan.demo.execute import execute_run
from ddgan.demo.plan import demo_runs
run = next(r for r in demo_runs("smoke", ["mixture25"]) if r.key == "ddgan-T4")
run.config["train"].update(steps=100000, log_every=5)
log = Path({str(tmp_path)!r}) / "mixture25" / "ddgan-T4" / "log.jsonl"
def stop():
    while not log.exists():
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=stop, daemon=True).start()
execute_run(run, {str(tmp_path)!r})
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=GENEROUS)
    assert done.returncode == 143, done.stderr[-2000:]
    run_dir = tmp_path / "mixture25" / "ddgan-T4"
    record = json.loads((run_dir / "demo-training.json").read_text())
    assert 5 <= record["steps"] < 100000 and (run_dir / "training-state.pt").exists()
    assert not list(run_dir.glob("scores-*.json"))


def test_progress_names_the_runs_training_now_with_their_steps_and_eta(tmp_path):
    import json

    from ddgan.demo.execute import run_progress
    from ddgan.demo.plan import demo_runs
    runs = demo_runs("smoke", ["mixture25"])[:2]
    run_dir = tmp_path / runs[0].dataset / runs[0].key
    run_dir.mkdir(parents=True)
    rows = [{"step": 100, "loss": 1.0, "eta_seconds": 600.0}, {"step": 200, "eval/fid": 3.0},
            {"step": 200, "loss": 0.9, "eta_seconds": 540.0}]
    (run_dir / "log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    total = runs[0].config["train"]["steps"]
    assert run_progress(runs, tmp_path) == f"{runs[0].dataset}/{runs[0].key} 200/{total} ETA 9 min"
