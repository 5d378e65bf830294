"""An image run's grids along the way, with its training time and the FID-N of each step's snapshot."""
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ddgan.core.sample_grids import save_image_grid, tile
from ddgan.datasets.folder import prepare_folder
from ddgan.metrics.images import to_uint8
from reproduce.run_progress import grid_corner, panel_title, write_progress

CONFIG = {"name": "small8", "data": {"dataset": "mine", "shape": [3, 8, 8]}, "train": {"sample_every": 2}}


def distinct_images(seed):
    """64 images in [-1, 1], each one flat colour, no two alike."""
    colours = torch.rand(64, 3, 1, 1, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return colours.expand(64, 3, 8, 8).contiguous()


@pytest.fixture
def run(tmp_path):
    source = tmp_path / "my-images"
    source.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(source / f"{i:02d}.png")
    prepare_folder(source, "mine", 8, tmp_path / "data", progress=False)
    run_dir = tmp_path / "run"
    (run_dir / "samples").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(CONFIG))
    log = [{"step": 1, "seconds": 10.0}, {"step": 2, "seconds": 20.0},      # a resumed process restarts the clock
           {"step": 3, "seconds": 5.0}, {"step": 4, "seconds": 9.0}]
    (run_dir / "log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    for step in (2, 4):
        save_image_grid(distinct_images(step), run_dir / "samples" / f"step-{step:08d}.png")
    evals = tmp_path / "fid.jsonl"
    record = {"config": CONFIG, "step": 4, "fid_label": "FID-50", "metrics": {"fid": 123.4}, "commit": "abc",
              "checkpoint_sha256": "f00", "n_samples": 50, "protocol": "clean", "date": "d", "checkpoint": "c"}
    shorter = {**CONFIG, "train": {"sample_every": 2, "steps": 2}}      # the run before it was resumed for more
    other = {**CONFIG, "data": {"dataset": "mine", "shape": [3, 16, 16]}}
    evals.write_text("".join(json.dumps(r) + "\n" for r in (
        {**record, "step": 2, "config": shorter, "metrics": {"fid": 200.0}}, record,
        {**record, "config": other, "metrics": {"fid": 1.0}},                # another computation's
        {**record, "step": None, "metrics": {"fid": 2.0}})))                # a sample folder's
    return tmp_path, run_dir, evals


def test_panels_hold_the_grids_top_left_corner_and_the_csv_each_steps_time_and_fid(run):
    tmp_path, run_dir, evals = run
    corner = grid_corner(run_dir / "samples" / "step-00000004.png", columns=8)
    top_left = [row * 8 + column for row in range(4) for column in range(4)]      # of the 8 x 8 grid
    expected = tile(to_uint8(distinct_images(4)[top_left]), 4, scale=8, fill=128)
    assert np.array_equal(corner, expected)

    csv_path, json_path, png_path = write_progress(tmp_path / "out" / "progress", run_dir, [2, 4], "mine", [evals],
                                                   data_root=tmp_path / "data")
    rows = list(csv.DictReader(open(csv_path)))
    assert [(r["step"], r["train_seconds"], r["fid_label"], r["fid"]) for r in rows] == [
        ("2", "20.0", "FID-50", "200.0"), ("4", "29.0", "FID-50", "123.4")]
    provenance = json.loads(json_path.read_text())
    assert provenance["config"] == CONFIG and provenance["evaluations"]["4"]["commit"] == "abc"
    assert Image.open(png_path).size[0] > Image.open(png_path).size[1]       # one row of panels


def test_a_step_without_a_grid_names_the_option_that_draws_them(run):
    tmp_path, run_dir, evals = run
    with pytest.raises(SystemExit, match="train.sample_every"):
        write_progress(tmp_path / "out" / "progress", run_dir, [3], "mine", [evals], data_root=tmp_path / "data")


def test_titles_name_the_step_the_training_time_and_the_fid():
    row = {"step": 4000, "train_seconds": 3000.0, "fid_label": "FID-2000", "fid": 201.04}
    assert panel_title(row) == "step 4,000, 50 min\nFID-2000 201.0"
    assert panel_title(row, minutes=False) == "step 4,000\nFID-2000 201.0"
    assert panel_title({**row, "fid_label": "", "fid": ""}) == "step 4,000, 50 min"
