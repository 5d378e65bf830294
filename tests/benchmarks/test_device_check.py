"""The device check's CPU path at tiny size (it never asserts a time), and its guarded stages."""
import json

import pytest
import torch

from benchmarks import device_check


def test_a_failing_stage_is_recorded_and_the_next_one_runs():
    stages = device_check.GuardedStages(budget_s=60, log=lambda line: None)
    stages.run("compile", lambda: (_ for _ in ()).throw(RuntimeError("inductor exploded")))
    stages.run("after", lambda: {"value": 1})
    assert stages.results["compile"]["status"] == "failed" and "inductor exploded" in stages.results["compile"]["error"]
    assert stages.results["after"] == {"status": "ok", "value": 1}
    late = device_check.GuardedStages(budget_s=-1, log=lambda line: None)
    assert late.run("any", lambda: {"value": 1})["status"] == "skipped"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU path runs where no GPU is found")
def test_cpu_path_says_no_gpu_and_writes_every_stage(tmp_path, capsys):
    assert device_check.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no GPU found" in out
    (json_path,) = tmp_path.glob("device-check-cpu-*-tiny.json")
    results = json.loads(json_path.read_text())
    stages = results["stages"]
    assert results["gpu_found"] is False and results["commit"] and results["torch"] == torch.__version__
    for name in ("sampling_float32", "sampling_bf16", "training_float32", "training_bf16", "ddpm_float32"):
        assert stages[name]["status"] == "ok", (name, stages[name])
    assert stages["sampling_compile"]["status"] == "skipped"
    assert stages["sampling_float32"]["nfe"] == 4 and stages["sampling_float32"]["repeats"] == 2
    assert stages["ddpm_float32"]["extrapolated_s"] == pytest.approx(stages["ddpm_float32"]["median"] / 2 * 1000)
    training = stages["training_bf16"]
    assert training["lazy_reg"] == 15 and training["images_per_s"] == pytest.approx(4 / training["amortised_s"])
    markdown = json_path.with_suffix(".md").read_text()
    assert "No GPU was found" in markdown and "| sampling_compile | skipped |" in markdown
