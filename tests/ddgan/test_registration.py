"""A method and a dataset registered from outside the package (as CONTRIBUTING.md describes) run
through train -> sample -> eval with no other change: the registries are the only lists."""
import json

import numpy as np
import pytest
import torch
from torch import nn

import ddgan
from ddgan.base import registry
from ddgan.core.methods import Method

CENTRE, SPREAD = np.array([0.5, -0.25]), 0.1


class ShiftScale(nn.Module):
    """z -> loc + exp(log_scale) z, per coordinate."""

    def __init__(self, data_dim=2):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(data_dim))
        self.log_scale = nn.Parameter(torch.zeros(data_dim))

    def forward(self, z):
        return self.loc + self.log_scale.exp() * z


class MomentMatching(Method):
    """A one-step generator fit by matching the batch mean and standard deviation of the data."""
    sampling_network = "generator"

    def training_step(self, x_0, step, update):
        fake = self.networks["generator"](torch.randn_like(x_0))
        loss = ((fake.mean(0) - x_0.mean(0)) ** 2).sum() + ((fake.std(0) - x_0.std(0)) ** 2).sum()
        update("generator", loss)
        return {"loss": loss.detach()}

    @torch.no_grad()
    def sample(self, n, *, rng=None, net=None):
        net = self.networks["generator"] if net is None else net
        return net(self.randn(n, *self.data_shape, rng=rng))

    def nfe(self):
        return 1


def blob(data_config):
    """An in-memory dataset: one Gaussian blob, size and seed from the run config's data section."""
    rng = np.random.default_rng(data_config.get("seed", 0))
    return (CENTRE + SPREAD * rng.standard_normal((data_config["size"], 2))).astype(np.float32)


@pytest.fixture
def registered():
    entries = [(registry.METHODS, "moment_matching", MomentMatching), (registry.ARCHITECTURES, "shift_scale", ShiftScale),
               (registry.DATASETS, "blob", blob)]
    for table, name, target in entries:
        table.register(name, target)
    yield
    for table, name, _ in entries:
        table.unregister(name)


def toy_config(steps):
    return {
        "name": "blob-moment-matching",
        "method": {"name": "moment_matching"},
        "networks": {"generator": {"arch": "shift_scale", "data_dim": 2}},
        "data": {"dataset": "blob", "size": 4096, "seed": 0, "shape": [2]},
        "optim": {"lr": {"generator": 0.05}, "betas": [0.9, 0.999], "ema_decay": 0.9},
        "train": {"batch_size": 256, "steps": steps, "seed": 0, "log_every": 100, "checkpoint_every": steps},
    }


def test_registered_method_and_dataset_train_sample_and_evaluate(registered, tmp_path):
    assert "moment_matching" in registry.result_methods()
    ddgan.train(toy_config(300), tmp_path / "run", progress=False)

    sampler = ddgan.load_sampler(tmp_path / "run" / "snapshot.pt")
    assert sampler.nfe == 1
    x = sampler.sample(4000, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(x.mean(0), CENTRE, atol=0.03)      # it starts at mean 0, std 1
    np.testing.assert_allclose(x.std(0), [SPREAD, SPREAD], atol=0.03)

    results = tmp_path / "metrics.jsonl"
    [record] = ddgan.evaluate_samples(
        sampler.sample, dataset="blob", metrics=["pr", "time"], reference=blob({"size": 4096, "seed": 1}),
        n_samples=2000, allow_fewer_samples=True, batch_size=500, network=sampler.network,
        method="moment_matching", results_file=results, device="cpu")
    assert record["metrics"]["nfe"] == 1
    assert record["metrics"]["precision"] > 0.8 and record["metrics"]["recall"] > 0.8
    assert json.loads(results.read_text())["method"] == "moment_matching"


def test_unregistered_names_are_refused(registered):
    registry.METHODS.unregister("moment_matching")
    with pytest.raises(ValueError, match="unknown method 'moment_matching'"):
        ddgan.build_method(toy_config(1))


def test_a_name_cannot_be_registered_twice_with_different_targets(registered):
    with pytest.raises(ValueError, match="'ddpm' is already registered"):
        registry.METHODS.register("ddpm", MomentMatching)
