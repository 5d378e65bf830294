"""Two CPU processes through `accelerate launch` (gloo): disjoint data, identical parameters."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from tests.conftest import ROOT

WORKER = Path(__file__).with_name("distributed_worker.py")


def test_two_processes_see_disjoint_data_and_end_identical(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", "29531", str(WORKER), str(tmp_path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)   # a generous bound, not a speed check
    assert result.returncode == 0, result.stderr[-3000:]

    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    a, b = (set(r["indices"].tolist()) for r in ranks)
    assert len(ranks[0]["indices"]) == len(ranks[1]["indices"]) == 6 * 32     # 6 steps x 32 per process
    assert len(a) == len(b) == 6 * 32 and not a & b                          # 1024 examples: one epoch
    for key, value in ranks[0]["parameters"].items():
        assert torch.equal(value, ranks[1]["parameters"][key]), key
    for key, value in ranks[0]["ema"].items():
        assert torch.equal(value, ranks[1]["ema"][key]), key
    # training happened and both ranks contributed: the checkpoint holds one RNG state per process
    state = torch.load(tmp_path / "run" / "training-state.pt", weights_only=True)
    assert state["step"] == 6 and len(state["rng"]) == 2
    # grids, scores and log rows come from the main process alone: once each
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [(r["step"], "eval/kl" in r) for r in rows] == [(3, False), (3, True), (6, False), (6, True)]
    grids = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert grids == ["step-00000003.png", "step-00000006.png"]
