"""Our training loop against the official one, iteration by iteration.

tests/fixtures/official_training_trajectory.pt holds 32 iterations of the official training loop
(train_ddgan.py's body, EMA.py, Adam, lazy R1, per-epoch cosine learning rate) run in float64 from tiny
networks: the initial weights, the batches, every random draw in call order, every loss and the final
weights (tests/fixtures/official_fixtures.md). We load the same weights into our networks, replay the same
draws and batches through our method, optimisation step and learning-rate schedule in float64, and
compare. Reordering the official loop's backward passes moved no number by more than 1.1e-15, and moving
the lazy R1 by one step moved the losses by 3.7e-6: agreement to 1e-9 is exact.
"""

import pytest
import torch

from ddgan.core.methods import build_method
from ddgan.core.optimisation import Optimisation
from ddgan.core.trainer import learning_rate
from ddgan.official import generator_kwargs_from_official_args, load_official_discriminator_state, \
    load_official_generator_state, to_official_state

from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "official_training_trajectory.pt"
TOLERANCE = 1e-9


class ReplayedDraws:
    """The recorded draws, in order; each must be asked for by the function and with the shape that
    drew it in the official loop (so a draw taken out of order fails here, not as a loss far away)."""

    def __init__(self, draws, functions):
        self.queue = list(zip(functions, draws))

    def _next(self, function, shape):
        assert self.queue, f"{function}{tuple(shape)} asked for after every recorded draw was used"
        recorded, value = self.queue.pop(0)
        assert (recorded, tuple(value.shape)) == (function, tuple(shape)), \
            f"{function}{tuple(shape)} asked for where the official loop drew {recorded}{tuple(value.shape)}"
        return value

    def randint(self, high, size, device):
        return self._next("randint", size).to(device)

    def randn_like(self, x):
        return self._next("randn_like", x.shape).to(x)

    def randn(self, *shape, generator=None, device=None):
        return self._next("randn", shape).to(device)


def fixture():
    return torch.load(FIXTURE, weights_only=True)


def ddgan_config(official):
    """Our run config for the fixture's official settings (the official trainer's argument names)."""
    net, train = official["generator"], official["train"]
    generator = generator_kwargs_from_official_args(official["args"])
    return {
        "name": "official-training-parity",
        "method": {"name": "ddgan", "num_timesteps": net["num_timesteps"], "schedule": "vp",
                   "beta_min": net["beta_min"], "beta_max": net["beta_max"], "nz": net["nz"],
                   "r1_gamma": train["r1_gamma"], "lazy_reg": train["lazy_reg"]},
        "networks": {
            "generator": {"arch": "ncsnpp", **generator},
            "discriminator": {"arch": "small_discriminator", "in_channels": net["num_channels"],
                              "ngf": net["ngf"], "t_emb_dim": net["t_emb_dim"]},
        },
        "data": {"dataset": "official-fixture", "shape": [net["num_channels"], net["image_size"], net["image_size"]]},
        "optim": {"lr": {"generator": train["lr_g"], "discriminator": train["lr_d"]},
                  "betas": [train["beta1"], train["beta2"]], "lr_schedule": "cosine", "lr_min": train["eta_min"],
                  "ema_decay": train["ema_decay"], "ema_warmup": False, "weight_decay": 0.0, "grad_clip": None, "warmup_steps": 0},
    }


def replay(trajectory, r1_step_shift=0, ema_from_initial_weights=False, iterations=None):
    """Runs our loop over the fixture's iterations; returns (per-iteration logs, our method, our EMA).
    The two knobs alter the loop on purpose, to show that the comparison sees it."""
    config = ddgan_config(trajectory["config"])
    method = build_method(config)
    method.networks.double()       # the schedule stays float32, as the official coefficients
    load_official_generator_state(method.networks["generator"], trajectory["initial_state"]["generator"])
    load_official_discriminator_state(method.networks["discriminator"], trajectory["initial_state"]["discriminator"])
    optimisation = Optimisation(method, config["optim"])
    optimisation.ema.updates = int(ema_from_initial_weights)    # as if the first update had already been made
    train = trajectory["config"]["train"]
    steps_per_epoch = train["dataset_size"] // train["batch_size"]
    total_steps = train["num_epoch"] * steps_per_epoch
    logs = []
    records = list(zip(trajectory["log"], trajectory["draws"]))[:iterations]
    for step, (record, draws) in enumerate(records):
        for name, optimizer in optimisation.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config["optim"]["lr"][name], config["optim"], step, steps_per_epoch,
                                            total_steps)
        method.draws = ReplayedDraws(draws, trajectory["draw_functions"])
        batch = trajectory["data"][record["batch_index"]]
        logs.append({**optimisation.step(batch, step + r1_step_shift),
                     "lr": {name: o.param_groups[0]["lr"] for name, o in optimisation.optimizers.items()}})
        assert not method.draws.queue, f"iteration {step} left draws unused"
    return logs, method, optimisation.ema


@pytest.fixture(scope="module")
def trajectory():
    return fixture()


@pytest.fixture(scope="module")
def replayed(trajectory):
    return replay(trajectory)


def max_difference(ours, official):
    """The largest difference of any tensor entry, over every tensor of `official` (all must be in `ours`)."""
    assert set(official) <= set(ours), sorted(set(official) - set(ours))
    return max((ours[k].double() - official[k].double()).abs().max().item() for k in official)


def test_every_loss_and_r1_penalty_matches_the_official_loop(trajectory, replayed):
    logs, _, _ = replayed
    for step, (ours, official) in enumerate(zip(logs, trajectory["log"])):
        assert ours["lr"] == pytest.approx(official["lr"], rel=1e-12, abs=0), f"learning rates at iteration {step}"
        assert ours["loss_d_real"].dtype == torch.float64
        for our_name, official_name in (("loss_d_real", "errD_real"), ("loss_d_fake", "errD_fake"),
                                        ("loss_g", "errG")):
            assert abs(ours[our_name].item() - official[official_name]) < TOLERANCE, (step, our_name)
        if official["r1_penalty"] is None:
            assert "r1" not in ours, f"R1 applied at iteration {step}, off the lazy schedule"
        else:
            assert abs(ours["r1"].item() - official["r1_penalty"]) < TOLERANCE, (step, "r1")


def test_final_generator_discriminator_and_ema_weights_match_the_official_loop(trajectory, replayed):
    _, method, ema = replayed
    final = trajectory["final_state"]
    generator = to_official_state(method.networks["generator"], prefix="")
    discriminator = to_official_state(method.networks["discriminator"], prefix="")
    ema_weights = to_official_state(ema.net, prefix="")
    moved = max_difference(generator, trajectory["initial_state"]["generator"])
    assert moved > 1e-4          # the weights did move: agreement below is not agreement of untouched tensors
    assert max_difference(generator, final["generator"]) < TOLERANCE
    assert max_difference(discriminator, final["discriminator"]) < TOLERANCE
    assert max_difference(ema_weights, final["generator_ema"]) < TOLERANCE


def loss_difference(logs, trajectory):
    return max(abs(ours[key].item() - official[theirs]) for ours, official in zip(logs, trajectory["log"])
               for key, theirs in (("loss_d_real", "errD_real"), ("loss_d_fake", "errD_fake"), ("loss_g", "errG")))


def test_the_comparison_fails_when_the_lazy_r1_moves_by_one_step(trajectory):
    logs, _, _ = replay(trajectory, r1_step_shift=1, iterations=16)    # R1 at iteration 14, not 0 and 15
    assert [step for step, ours in enumerate(logs) if "r1" in ours] == [14]
    assert loss_difference(logs, trajectory) > 1e3 * TOLERANCE


def test_the_comparison_fails_when_the_ema_starts_from_the_initial_weights(trajectory):
    _, _, ema = replay(trajectory, ema_from_initial_weights=True)
    ema_weights = to_official_state(ema.net, prefix="")
    assert max_difference(ema_weights, trajectory["final_state"]["generator_ema"]) > 1e3 * TOLERANCE
