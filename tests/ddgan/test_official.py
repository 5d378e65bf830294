"""Official DDGAN checkpoints map one to one onto our networks and reproduce the official outputs.

Fixtures (tests/fixtures/README.md says how each was made): the official state-dict layout of the
paper's three configurations; tiny official networks with their outputs; and official outputs for
networks with O(1) weights (``exercised_weights``), which exercise every branch.
"""

import argparse
import json
import math
from collections import OrderedDict

import pytest
import torch

from ddgan.nets.discriminators import LargeDiscriminator, SmallDiscriminator
from ddgan.nets.ncsnpp import NCSNppGenerator
from ddgan.nets.official_keys import discriminator_key_pairs, generator_key_pairs
from ddgan.official import (
    OfficialCheckpointError,
    build_discriminator,
    generator_kwargs_from_official_args,
    load_official_content,
    load_official_discriminator_state,
    load_official_generator,
    to_official_state,
)
from ddgan.presets import PAPER_DISCRIMINATORS, PAPER_GENERATORS

from tests.conftest import FIXTURES

LAYOUT = json.loads((FIXTURES / "official_layout.json").read_text())
PRESET_OF_LAYOUT = {"cifar10": "cifar10", "celeba_256": "celeba_256", "lsun": "lsun_church"}


def exercised_weights(official_shapes, seed):
    """Deterministic O(1) weights for (official key, shape) pairs, in file order: uniform with variance
    1/fan_in for matrices and kernels (NIN matrices are stored (in, out)), U(-0.52, 0.52) for vectors."""
    generator = torch.Generator().manual_seed(seed)
    weights = OrderedDict()
    for key, shape in official_shapes:
        uniform = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1
        if len(shape) == 1:
            weights[key] = (uniform * 0.3 * math.sqrt(3)).float()
        else:
            fan_in = shape[0] if key.endswith(".W") else math.prod(shape[1:])
            weights[key] = (uniform * math.sqrt(3 / fan_in)).float()
    return weights


def weights_checksum(weights):
    """Detects a change of torch's random stream between fixture generation and the test."""
    return float(sum(w.double().abs().sum() for w in weights.values()))


def _meta(network_class, **kwargs):
    with torch.device("meta"):
        return network_class(**kwargs)


def _official_layout(pairs, network):
    state = network.state_dict()
    return [[p.official, list(state[p.ours].t().shape if p.transpose else state[p.ours].shape)] for p in pairs]


def _load(name):
    return torch.load(FIXTURES / name, weights_only=True)


def _assert_parity(ours, official):
    """max |ours - official| <= 1e-5, and <= 1e-5 relative to the output's scale."""
    error = (ours - official).abs().max().item()
    scale = official.abs().max().item()
    assert error <= 1e-5 and error <= 1e-5 * scale, f"max abs error {error:.3g} at output scale {scale:.3g}"


# ---------------------------------------------------------------------------------------------
# layout of the paper's networks


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_generator_keys_map_one_to_one_onto_official_layout(name):
    kwargs = generator_kwargs_from_official_args(LAYOUT[name]["config"])
    assert kwargs == PAPER_GENERATORS[PRESET_OF_LAYOUT[name]]
    generator = _meta(NCSNppGenerator, **kwargs)
    pairs = generator_key_pairs(generator)
    assert _official_layout(pairs, generator) == LAYOUT[name]["generator"]  # same keys, order and shapes
    assert sorted(p.ours for p in pairs) == sorted(generator.state_dict())  # every tensor of ours exactly once
    assert sum(p.numel() for p in generator.parameters()) == LAYOUT[name]["generator_params"]


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_discriminator_keys_map_one_to_one_onto_official_layout(name):
    spec = PAPER_DISCRIMINATORS[PRESET_OF_LAYOUT[name]]
    expected_class = {"Discriminator_small": "small", "Discriminator_large": "large"}[LAYOUT[name]["discriminator_class"]]
    assert spec["type"] == expected_class
    discriminator = _meta(build_discriminator, preset=PRESET_OF_LAYOUT[name])
    pairs = discriminator_key_pairs(discriminator)
    assert _official_layout(pairs, discriminator) == LAYOUT[name]["discriminator"]
    assert sorted(p.ours for p in pairs) == sorted(discriminator.state_dict())
    assert sum(p.numel() for p in discriminator.parameters()) == LAYOUT[name]["discriminator_params"]


def test_presets_cover_the_papers_runs():
    assert PAPER_GENERATORS["lsun_church"] == PAPER_GENERATORS["celeba_256"]  # same net; only T and training differ
    assert PAPER_GENERATORS["stackedmnist"] == PAPER_GENERATORS["cifar10"]
    assert PAPER_DISCRIMINATORS["stackedmnist"] == PAPER_DISCRIMINATORS["cifar10"]
    with pytest.raises(ValueError, match="unknown preset 'imagenet'.*cifar10"):
        load_official_generator({}, "imagenet")


# ---------------------------------------------------------------------------------------------
# numerical parity with the official networks


def test_tiny_official_generator_reproduces_official_output():
    fixture = _load("official_generator_parity.pt")
    generator = load_official_generator(fixture["state"], generator_kwargs_from_official_args(fixture["config"]))
    assert not generator.training
    inputs = fixture["inputs"]
    with torch.no_grad():
        output = generator(inputs["x_tp1"], inputs["t"], inputs["z"])
    _assert_parity(output, fixture["output"])


@pytest.mark.parametrize(
    "fixture_name, network_class",
    [("official_discriminator_small_parity.pt", SmallDiscriminator), ("official_discriminator_large_parity.pt", LargeDiscriminator)],
)
def test_tiny_official_discriminators_reproduce_official_output(fixture_name, network_class):
    fixture = _load(fixture_name)
    config = fixture["config"]
    discriminator = network_class(in_channels=config["num_channels"], ngf=config["ngf"], t_emb_dim=config["t_emb_dim"])
    load_official_discriminator_state(discriminator, fixture["state"]).eval()
    inputs = fixture["inputs"]
    with torch.no_grad():
        output = discriminator(inputs["x_t"], inputs["t"], inputs["x_tp1"])
    _assert_parity(output, fixture["output"])


@pytest.mark.parametrize("case", ["generator_tiny", "generator_cifar10_layout", "discriminator_small"])
def test_exercised_official_networks_reproduce_official_output(case):
    fixture = _load("official_exercised_parity.pt")[case]
    weights = exercised_weights(fixture["official_shapes"], fixture["seed"])
    assert weights_checksum(weights) == pytest.approx(fixture["weights_checksum"], rel=1e-9), (
        "torch's random stream changed: regenerate with tests/fixtures/official_make_exercised_parity.py"
    )
    config, inputs = fixture["config"], fixture["inputs"]
    if fixture["network"] == "generator":
        network = load_official_generator(weights, generator_kwargs_from_official_args(config))
        with torch.no_grad():
            output = network(inputs["x_tp1"], inputs["t"], inputs["z"])
    else:
        network = SmallDiscriminator(in_channels=config["num_channels"], ngf=config["ngf"], t_emb_dim=config["t_emb_dim"])
        load_official_discriminator_state(network, weights).eval()
        with torch.no_grad():
            output = network(inputs["x_t"], inputs["t"], inputs["x_tp1"])
    assert fixture["output"].abs().max() > 0.1  # the fixture exercises the network, not a near-zero init
    _assert_parity(output, fixture["output"])


def test_reverse_mapping_round_trips_official_state():
    fixture = _load("official_generator_parity.pt")
    generator = load_official_generator(fixture["state"], generator_kwargs_from_official_args(fixture["config"]))
    exported = to_official_state(generator)
    assert list(exported) == ["module." + k for k in fixture["state"]]
    for key, value in fixture["state"].items():
        assert torch.equal(exported["module." + key], value), key
    small = _load("official_discriminator_small_parity.pt")
    discriminator = SmallDiscriminator(in_channels=3, ngf=small["config"]["ngf"], t_emb_dim=small["config"]["t_emb_dim"])
    load_official_discriminator_state(discriminator, small["state"])
    exported = to_official_state(discriminator, prefix="")
    assert list(exported) == list(small["state"])
    assert all(torch.equal(exported[k], v) for k, v in small["state"].items())


def test_released_file_with_ddp_prefix_loads_from_disk(tmp_path):
    fixture = _load("official_generator_parity.pt")
    path = tmp_path / "netG_1200.pth"
    torch.save(OrderedDict(("module." + k, v) for k, v in fixture["state"].items()), path)
    generator = load_official_generator(str(path), generator_kwargs_from_official_args(fixture["config"]))
    inputs = fixture["inputs"]
    with torch.no_grad():
        _assert_parity(generator(inputs["x_tp1"], inputs["t"], inputs["z"]), fixture["output"])


# ---------------------------------------------------------------------------------------------
# mismatched checkpoints fail loudly


def _tiny_state_and_kwargs():
    fixture = _load("official_generator_parity.pt")
    return OrderedDict(fixture["state"]), generator_kwargs_from_official_args(fixture["config"])


def test_wrong_n_mlp_names_missing_keys_and_the_setting():
    state, kwargs = _tiny_state_and_kwargs()
    with pytest.raises(OfficialCheckpointError) as error:
        load_official_generator(state, dict(kwargs, n_mlp=3))
    message = str(error.value)
    assert "2 missing keys: z_transform.7.weight, z_transform.7.bias" in message
    assert "n_mlp: the file has 2, the network 3" in message


def test_missing_extra_and_reshaped_keys_are_all_reported():
    state, kwargs = _tiny_state_and_kwargs()
    del state["all_modules.7.NIN_3.W"]
    state["all_modules.99.weight"] = torch.zeros(1)
    state["all_modules.3.Conv_0.weight"] = torch.zeros(16, 16, 5, 5)
    with pytest.raises(OfficialCheckpointError) as error:
        load_official_generator(state, kwargs)
    message = str(error.value)
    assert "1 missing keys: all_modules.7.NIN_3.W" in message
    assert "1 unexpected keys: all_modules.99.weight" in message
    assert "all_modules.3.Conv_0.weight: file (16, 16, 5, 5) vs network (16, 16, 3, 3)" in message


def test_wrong_base_channels_is_named():
    state, kwargs = _tiny_state_and_kwargs()
    with pytest.raises(OfficialCheckpointError, match="base_channels: the file has 16, the network 32"):
        load_official_generator(state, dict(kwargs, base_channels=32))


def test_paper_checkpoint_loaded_with_wrong_preset_names_fitting_presets():
    # A 256px layout (meta tensors: no memory) loaded as CIFAR-10.
    state = to_official_state(_meta(NCSNppGenerator, **PAPER_GENERATORS["lsun_church"]))
    with pytest.raises(OfficialCheckpointError) as error:
        load_official_generator(state, "cifar10")
    message = str(error.value)
    assert "n_mlp: the file has 3, the network 4" in message
    assert "base_channels: the file has 64, the network 128" in message
    assert "fits the preset(s) ['celeba_256', 'lsun_church']" in message


def test_discriminator_mismatch_names_the_setting():
    small = _load("official_discriminator_small_parity.pt")
    with pytest.raises(OfficialCheckpointError, match=r"4 down-blocks \(small \(32px\) discriminator\), the network 6"):
        load_official_discriminator_state(LargeDiscriminator(ngf=16, t_emb_dim=32), small["state"])


def test_content_file_given_to_generator_loader_is_redirected(tmp_path):
    path = tmp_path / "content.pth"
    torch.save({"netG_dict": {}, "args": {"dataset": "cifar10"}}, path)
    with pytest.raises(OfficialCheckpointError, match="load_official_content"):
        load_official_generator(str(path), "cifar10")


# ---------------------------------------------------------------------------------------------
# content.pth (training state)


def _official_content(tmp_path, use_ema=True, dataset="cifar10"):
    """A content.pth laid out as the official trainer saves it, for the tiny networks."""
    generator_fixture = _load("official_generator_parity.pt")
    small = _load("official_discriminator_small_parity.pt")
    args = argparse.Namespace(**generator_fixture["config"], dataset=dataset, use_ema=use_ema, exp="tiny")
    params = [torch.nn.Parameter(v.clone()) for v in generator_fixture["state"].values()]
    optimizer = torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.9))
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()
    if use_ema:
        for p, original in zip(params, generator_fixture["state"].values()):
            optimizer.state[p]["ema"] = 0.5 * original  # distinct from the raw weights
    content = {
        "epoch": 1201, "global_step": 234000, "args": args,
        "netG_dict": OrderedDict(("module." + k, p.detach()) for k, p in zip(generator_fixture["state"], params)),
        "optimizerG": optimizer.state_dict(), "schedulerG": {"last_epoch": 1200},
        "netD_dict": OrderedDict(("module." + k, v) for k, v in small["state"].items()),
        "optimizerD": {"state": {}, "param_groups": []}, "schedulerD": {"last_epoch": 1200},
    }
    torch.save(content, tmp_path / "content.pth")
    return tmp_path / "content.pth", content, generator_fixture


def test_content_loads_raw_and_ema_generators_discriminator_and_args(tmp_path):
    path, content, generator_fixture = _official_content(tmp_path)
    loaded = load_official_content(path)
    assert loaded["epoch"] == 1201 and loaded["global_step"] == 234000
    assert loaded["args"]["exp"] == "tiny" and isinstance(loaded["args"], dict)
    assert loaded["preset"] == "cifar10" and loaded["generator_kwargs"]["image_size"] == 16
    raw, ema = to_official_state(loaded["generator"], ""), to_official_state(loaded["generator_ema"], "")
    for key, original in generator_fixture["state"].items():
        assert torch.equal(raw[key], content["netG_dict"]["module." + key])
        assert torch.equal(ema[key], 0.5 * original)
    assert not torch.equal(raw["all_modules.2.weight"], ema["all_modules.2.weight"])  # Adam moved the raw weights
    assert isinstance(loaded["discriminator"], SmallDiscriminator)
    exported = to_official_state(loaded["discriminator"])
    assert all(torch.equal(exported[k], v) for k, v in content["netD_dict"].items())


def test_content_without_ema_and_with_explicit_kwargs(tmp_path):
    path, _, generator_fixture = _official_content(tmp_path, use_ema=False, dataset="lsun")
    with pytest.raises(OfficialCheckpointError, match="base_channels: the file has 16, the network 64"):
        load_official_content(path, preset="lsun_church")  # a 256px preset for a 16px tiny run
    kwargs = generator_kwargs_from_official_args(generator_fixture["config"])
    with pytest.raises(OfficialCheckpointError, match=r"4 down-blocks \(small \(32px\) discriminator\), the network 6"):
        load_official_content(path, preset=kwargs)  # dataset 'lsun' -> large D from the args: wrong for this file
    path, _, _ = _official_content(tmp_path, use_ema=False)
    loaded = load_official_content(path, preset=kwargs)
    assert loaded["generator_ema"] is None and loaded["preset"] is None


class _Untrusted:
    pass


def test_content_with_foreign_objects_needs_explicit_trust(tmp_path):
    path, content, _ = _official_content(tmp_path)
    content["extra"] = _Untrusted()
    torch.save(content, path)
    with pytest.raises(OfficialCheckpointError, match="trusted=True"):
        load_official_content(path)
    assert load_official_content(path, trusted=True)["epoch"] == 1201


def test_unsupported_official_settings_are_refused():
    config = dict(_load("official_generator_parity.pt")["config"], embedding_type="fourier")
    with pytest.raises(OfficialCheckpointError, match="embedding_type"):
        generator_kwargs_from_official_args(config)
