"""The chain diagnosis: a generator that knew x_0 would score as the data from every real x_k, and the
report of a run names each step's scores and its discriminator's accuracy."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from ddgan.core.config import validate
from ddgan.core.methods import build_method
from ddgan.core.trainer import train
from ddgan.core.training_data import load_training_array, to_model_space
from ddgan.metrics.digit_classifier import save_digit_classifier, train_digit_classifier
from ddgan.presets import stacked_digits_ddgan
from reproduce.chain_diagnosis import chain_from_data, digit_scores, main


@pytest.fixture(scope="module")
def classifier():
    data = load_digits()
    images = np.round(data.images * 255 / 16).astype(np.uint8)
    return train_digit_classifier(images[:1300], data.target[:1300], images[1300:], data.target[1300:],
                                  epochs=10, batch_size=64, width=16, seed=0)


def tiny_config(steps=2):
    config = stacked_digits_ddgan(steps=steps, width=8, batch_size=32)
    config["data"]["size"] = 600
    config["train"].update(log_every=1, checkpoint_every=1, sample_every=None)
    return validate(config)


class KnowsTheData(nn.Module):
    """A generator that predicts the true x_0 of each sample, whatever it sees."""

    def __init__(self, x_0, zero=False):
        super().__init__()
        self.x_0 = torch.zeros_like(x_0) if zero else x_0

    def forward(self, x_tp1, t, z=None):
        return self.x_0


def test_a_generator_that_knows_x0_scores_as_the_data_from_every_step(classifier):
    config = tiny_config()
    method = build_method(config)
    x_0 = to_model_space(np.array(load_training_array(config["data"])[:400]))
    data = digit_scores(x_0, classifier)
    assert data["confident_fraction"] > 0.8
    for k in range(1, method.num_timesteps + 1):
        reached = chain_from_data(method, KnowsTheData(x_0), x_0, k, torch.Generator().manual_seed(k))
        torch.testing.assert_close(reached, x_0, rtol=0, atol=1e-5)
        assert digit_scores(reached, classifier) == data
    blank = digit_scores(chain_from_data(method, KnowsTheData(x_0, zero=True), x_0, 2), classifier)
    assert blank["modes"] == 1 and blank["confident_fraction"] < 0.5 * data["confident_fraction"]


def test_the_report_of_a_run_has_every_step_and_every_t(tmp_path, classifier, capsys):
    run_dir = tmp_path / "run"
    train(tiny_config(), run_dir, progress=False)
    save_digit_classifier(classifier, tmp_path / "digits.pt")
    out = tmp_path / "diagnosis"
    assert main([str(run_dir), "--classifier", str(tmp_path / "digits.pt"), "--out", str(out), "--samples", "300"]) == 0
    report = out.with_suffix(".md").read_text()
    assert f"{run_dir} at step 2" in report and "300 training images" in report
    rows = out.with_suffix(".csv").read_text().splitlines()
    assert rows[0].startswith("measurement,generator,k,modes,kl,confident_fraction,confident_modes")
    # the data, then per generator (ema, raw) 4 chains and 4 discriminator rows
    assert len(rows) == 1 + 1 + 2 * (4 + 4)
    assert sum(row.startswith("chain_from_data,ema,") for row in rows) == 4
    assert sum(row.startswith("discriminator,raw,") for row in rows) == 4
