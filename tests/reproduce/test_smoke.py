"""Every target in the smoke profile, from procedural archives in the real formats to the comparison.

The targets share one folder, as they do for a user: the CIFAR-10 data and the DDGAN T = 4 run made
by `cifar10` are reused by `table2`. They run with the default paths from a temporary working
directory, which also checks that smoke outputs stay under runs/smoke/. A test that reuses what
another target made runs that target first (all skips when an earlier test ran it), so each test
also passes alone.
"""
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ddgan.core.trainer import train
from ddgan.presets import get_preset
from ddgan.core.checkpoint import load_snapshot
from reproduce import evaluate_snapshot, run as reproduce_run
from reproduce.profiles import SMOKE_SAMPLES, SMOKE_SAMPLING_STEPS, SMOKE_TIME_BATCH, make_profile

pytestmark = pytest.mark.slow
SMOKE = Path("runs/smoke")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reproduce")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("DDGAN_DATA", raising=False)
        yield folder


def run_smoke(capsys, target, *extra):
    status = reproduce_run.main([target, "--profile", "smoke", *extra])
    captured = capsys.readouterr()
    assert status == 0, captured.err[-3000:]
    return captured.out


def reusing(capsys, *targets):
    """Run the targets whose data and runs a test reuses; each stage an earlier test finished is skipped."""
    for target in targets:
        run_smoke(capsys, target)


def rows_of(dataset):
    path = SMOKE / "results" / dataset / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def verdicts():
    with open(SMOKE / "results" / "comparison" / "comparison.csv", newline="") as file:
        return {row["verdict"] for row in csv.DictReader(file)}


def test_cifar10_from_archive_to_comparison_then_skips_finished_stages(workdir, capsys):
    out = run_smoke(capsys, "cifar10")
    [row] = rows_of("cifar10")
    assert (row["profile"], row["target"], row["method"], row["variant"], row["protocol"]) == \
        ("smoke", "cifar10", "ddgan", "T4", "paper")
    assert row["n_samples"] == SMOKE_SAMPLES["fid"] and np.isfinite(row["metrics"]["fid"]) and row["metrics"]["fid"] > 0
    assert row["metrics"]["nfe"] == 4 and row["metrics"]["time_s"] > 0 and row["time_batch"] == SMOKE_TIME_BATCH
    assert "TF Inception" in row["feature_weights"]["fid_paper"]        # the real offline Inception
    assert "IS and recall skipped" in out
    manifest = json.loads((SMOKE / "data" / "cifar10" / "manifest.json").read_text())
    assert manifest["full_size"] is False and manifest["source"]["archive"].endswith("cifar10-python.zip")
    assert (SMOKE / "cifar10" / "ddgan-T4" / "stages" / "train.json").is_file()
    assert "Smoke profile" in (SMOKE / "results" / "comparison" / "comparison.md").read_text()
    assert "reproduced" not in verdicts() and "not run yet" in verdicts()
    assert not (workdir / "results").exists()            # the paper profile's results are untouched

    again = run_smoke(capsys, "cifar10")
    assert "[skip] train" in again and "[skip] eval-ddgan-T4" in again
    assert len(rows_of("cifar10")) == 1


def test_table2_resumes_an_interrupted_training_and_reuses_the_cifar10_run(workdir, capsys):
    profile = make_profile("smoke")
    reusing(capsys, "cifar10")
    run_dir = profile.run_dir("cifar10", "ddgan-T1")
    train(profile.scale_config(get_preset("cifar10_T1")), run_dir, stop_at=1, progress=False)   # interrupted
    out = run_smoke(capsys, "table2")
    logged_steps = [json.loads(line)["step"] for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert logged_steps == [1, 2, 3]
    assert "[train] cifar10/ddgan-T4\n[skip] train" in out
    nfe = {row["variant"]: row["metrics"]["nfe"] for row in rows_of("cifar10")}
    assert nfe == {"T1": 1, "T2": 2, "T4": 4, "T8": 8, "oneshot_aug": 1, "direct_xprev": 4, "eps": 4, "no_z": 4}
    assert len(rows_of("cifar10")) == 8


def test_table3_trains_the_digit_classifier_and_counts_modes(workdir, capsys):
    out = run_smoke(capsys, "table3")
    classifier = json.loads((SMOKE / "stackedmnist" / "stages" / "digit-classifier.json").read_text())["result"]
    assert classifier["test_accuracy"] > 0.3              # ten classes: chance is 0.1
    [row] = rows_of("stackedmnist")
    assert row["n_samples"] == SMOKE_SAMPLES["modes"]
    assert 1 <= row["metrics"]["modes"] <= SMOKE_SAMPLES["modes"] and row["metrics"]["kl"] >= 0
    assert "[data] stackedmnist" in out


@pytest.mark.parametrize("target, dataset, nfe", [("celebahq", "celeba_256", 2), ("lsun", "lsun_church", 4)])
def test_256px_targets(workdir, capsys, target, dataset, nfe):
    run_smoke(capsys, target)
    [row] = rows_of(dataset)
    assert row["metrics"]["nfe"] == nfe and row["config"]["data"]["shape"] == [3, 256, 256]
    images = np.load(SMOKE / "data" / dataset / "train" / "images.npy", mmap_mode="r")
    assert images.shape[1:] == (256, 256, 3)


def test_eval_official_reads_a_checkpoint_in_the_official_layout(workdir, capsys):
    run_smoke(capsys, "eval-official")
    official = [row for row in rows_of("cifar10") if row["method"] == "official"]
    assert len(official) == 1 and official[0]["variant"] == "T4" and official[0]["metrics"]["nfe"] == 4
    assert official[0]["checkpoint"].endswith("netG_smoke_standin.pth") and official[0]["checkpoint_sha256"]
    markdown = (SMOKE / "results" / "comparison" / "comparison.md").read_text()
    assert markdown.count("| cifar10 | official | T4 | smoke |") == 1
    assert "reproduced" not in verdicts()
    assert (SMOKE / "results" / "comparison" / "trilemma.png").is_file()


def test_table1_trains_the_baselines_and_reuses_the_ddgan_run(workdir, capsys):
    reusing(capsys, "cifar10")
    out = run_smoke(capsys, "table1")
    assert "[train] cifar10/ddgan-T4\n[skip] train" in out
    rows = {(row["method"], row["variant"]): row for row in rows_of("cifar10") if row["target"] == "table1"}
    assert set(rows) == {("ddpm", "T1000"), ("ddim", "S50_eta0.0"), ("vae", "vae"), ("ldm", "ldm"), ("vdm", "vdm")}
    assert rows[("ddim", "S50_eta0.0")]["sample_options"] == {"sampler": "ddim", "steps": SMOKE_SAMPLING_STEPS,
                                                             "eta": 0.0, "spacing": "quadratic"}
    assert rows[("ddpm", "T1000")]["metrics"]["nfe"] == rows[("ddim", "S50_eta0.0")]["metrics"]["nfe"] == 4
    assert rows[("vae", "vae")]["metrics"]["nfe"] == 1
    assert all(row["profile"] == "smoke" and row["metrics"]["time_s"] > 0 for row in rows.values())


def test_ddim_table_samples_the_ddpm_model_of_table1(workdir, capsys):
    reusing(capsys, "table1")
    out = run_smoke(capsys, "ddim-table")
    assert "[train] cifar10/ddpm\n[skip] train" in out
    variants = {row["variant"] for row in rows_of("cifar10") if row["target"] == "ddim-table"}
    assert len(variants) == 20 and {"S10_eta0.0", "S1000_eta1.0"} <= variants


def test_a_snapshot_of_another_run_directory_is_recorded_as_that_run(workdir, capsys):
    reusing(capsys, "table3")
    profile = make_profile("smoke")
    own = profile.run_dir("stackedmnist", "ddgan-T4")
    other = SMOKE / "elsewhere" / "ddgan-T4-variant"
    shutil.copytree(own, other)
    shutil.rmtree(other / "stages", ignore_errors=True)       # its training is not the pipeline's finished one
    step = load_snapshot(other / "snapshot.pt")["step"]
    log = [json.loads(line) for line in (other / "log.jsonl").read_text().splitlines()]
    last = max(row["step"] for row in log if "seconds" in row and row["step"] <= step)
    (other / "log.jsonl").write_text("".join(json.dumps({**row, "seconds": 1000.0 + row["step"]} if "seconds" in row
                                                        else row) + "\n" for row in log))
    assert evaluate_snapshot.main(["table3", "ddgan-T4", str(other / "snapshot.pt"), "--profile", "smoke",
                                   "--run-dir", str(other)]) == 0
    row = rows_of("stackedmnist")[-1]
    assert row["run_dir"] == str(other) and row["checkpoint"] == str(other / "snapshot.pt") and row["step"] == step
    assert row["training"] == {"steps": step, "of_steps": row["config"]["train"]["steps"], "finished": False,
                               "seconds": 1000.0 + last}
