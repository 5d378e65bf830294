"""VDM: the monotone schedule, the continuous-time ELBO against closed forms on Gaussian data,
the discrete likelihood and prior against direct computations, the ancestral step, training."""
import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from baselines.presets import demo_config
from baselines.vdm_networks import LinearSchedule, MonotoneMLPSchedule, VDMModel, fourier_features
from ddgan.core.methods import build_method
from ddgan.core.trainer import train


class FunctionNet(torch.nn.Module):
    """A stand-in denoiser: any function of (input, time), counting its calls."""

    def __init__(self, function):
        super().__init__()
        self.function, self.calls = function, 0

    def forward(self, h, time):
        self.calls += 1
        return self.function(h, time)


def vdm(dataset="mixture25", **method):
    config = demo_config("vdm", dataset, steps=10)
    config["method"].update(method)
    return build_method(config)


def scrambled_schedule(seed=0):
    """The monotone MLP with large random weights (some negative), so gamma is clearly nonlinear."""
    torch.manual_seed(seed)
    schedule = MonotoneMLPSchedule(-10.0, 6.0, n_features=64)
    with torch.no_grad():
        schedule.w2.normal_(0, 4.0)
        schedule.b2.normal_(0, 2.0)
        schedule.w3.normal_(0, 30.0)
    return schedule


@pytest.mark.parametrize("schedule", [scrambled_schedule(), MonotoneMLPSchedule(), LinearSchedule(-13.3, 5.0)])
def test_gamma_is_monotone_and_its_closed_form_derivative_is_right(schedule):
    t = torch.linspace(0, 1, 201, requires_grad=True)
    gamma = schedule(t)
    assert (gamma[1:] > gamma[:-1]).all()
    autograd, = torch.autograd.grad(gamma.sum(), t)
    torch.testing.assert_close(schedule.derivative(t.detach()), autograd, rtol=1e-4, atol=1e-4)
    assert (schedule.derivative(t.detach()) > 0).all()


def test_schedule_starts_at_gamma_min_and_max():
    schedule = MonotoneMLPSchedule(-13.3, 5.0)
    ends = schedule(torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(ends, torch.tensor([-13.3, 5.0]), atol=0.02, rtol=0)


class OptimalGaussianDenoiser(torch.nn.Module):
    """E[eps | z_t] for data x ~ N(0, s^2 I): sigma_t z_t / (alpha_t^2 s^2 + sigma_t^2)."""

    def __init__(self, data_variance, gamma_min, gamma_max):
        super().__init__()
        self.s2, self.gamma_min, self.gamma_max = data_variance, gamma_min, gamma_max

    def forward(self, z, time):
        gamma = self.gamma_min + time / 1000.0 * (self.gamma_max - self.gamma_min)
        alpha2, sigma2 = torch.sigmoid(-gamma)[:, None], torch.sigmoid(gamma)[:, None]
        return sigma2.sqrt() * z / (alpha2 * self.s2 + sigma2)


def test_continuous_elbo_on_gaussian_data_matches_its_closed_form():
    """With the optimal eps-model for Gaussian data each term has a closed form; the diffusion term
    (1/2 int gamma' E||eps - eps_hat||^2 dt) depends only on gamma(0), gamma(1) whatever gamma is
    between, so this checks the gamma'-weighting, the time sampling and the three terms together."""
    method = vdm()
    model = method.networks["model"]
    model.schedule = scrambled_schedule(1)
    s2, D = 0.25, 2
    model.denoiser = OptimalGaussianDenoiser(s2, model.gamma_min, model.gamma_max)
    torch.manual_seed(0)
    x = math.sqrt(s2) * torch.randn(200_000, D)
    with torch.no_grad():
        terms = method.elbo_terms(x)
        gamma_0, gamma_1 = model.gamma(torch.tensor([0.0, 1.0])).double()
    closed = {
        "reconstruction": 0.5 * D * (1 + math.log(2 * math.pi) + gamma_0),
        "prior": 0.5 * D * (torch.sigmoid(-gamma_1) * s2 + torch.sigmoid(gamma_1) - torch.log(torch.sigmoid(gamma_1)) - 1),
        "diffusion": 0.5 * D * (torch.log1p(s2 * torch.exp(-gamma_0)) - torch.log1p(s2 * torch.exp(-gamma_1))),
    }
    for name, value in terms.items():
        standard_error = value.double().std() / math.sqrt(len(value))
        assert abs(value.double().mean() - closed[name]) < 4 * standard_error + 1e-6, name
    assert terms["diffusion"].double().std() / math.sqrt(len(x)) < 0.01 * closed["diffusion"]
    # and the bound is (nearly) tight: the true NLL of N(0, s^2) per example
    nll = 0.5 * D * math.log(2 * math.pi * math.e * s2)
    total = sum(closed.values()).item()
    assert nll <= total < nll + 0.05


def test_discrete_reconstruction_and_prior_match_direct_computations():
    method = vdm("stacked_digits")
    V = method.vocab_size
    x = torch.randint(0, V, (4, 3, 8, 8)).float() / (V - 1) * 2 - 1
    gamma_0 = torch.tensor(-3.0)
    z = method.encode(x) + 0.3 * torch.randn_like(x)
    log_probs = method.level_log_probs(z, gamma_0)
    levels = [2 * (k + 0.5) / V - 1 for k in range(V)]
    i = (0, 1, 2, 3)
    direct = torch.tensor([-0.5 * (z[i] - e) ** 2 / math.exp(-3.0) for e in levels])
    torch.testing.assert_close(log_probs[i], direct - torch.logsumexp(direct, 0))
    assert torch.equal(method.to_levels(x), torch.round((x + 1) / 2 * (V - 1)).long())

    # the prior term is KL(q(z_1 | x) || N(0, I)) with q(z_1 | x) = N(alpha_1 f, sigma_1^2)
    model = method.networks["model"]
    with torch.no_grad():
        gamma_1 = model.gamma(torch.tensor([1.0]))
        prior = method.elbo_terms(x)["prior"]
    f = method.encode(x)
    q = Normal(torch.sigmoid(-gamma_1).sqrt() * f, torch.sigmoid(gamma_1).sqrt().expand_as(f))
    torch.testing.assert_close(prior, kl_divergence(q, Normal(0.0, 1.0)).flatten(1).sum(1), rtol=1e-5, atol=1e-6)


def test_fourier_features():
    z = torch.tensor([[0.1, -0.3]])
    features = fourier_features(z, 6, 8)
    angles = [2**6 * 2 * math.pi * 0.1, 2**7 * 2 * math.pi * 0.1, -(2**6) * 2 * math.pi * 0.3,
              -(2**7) * 2 * math.pi * 0.3]
    expected = torch.tensor([[math.sin(a) for a in angles] + [math.cos(a) for a in angles]])
    torch.testing.assert_close(features, expected, rtol=0, atol=1e-4)     # float32 angles of up to 80 rad


def test_model_with_fourier_features_needs_matching_input_channels():
    config = demo_config("vdm", "stacked_digits", steps=10)
    config["networks"]["model"].update(fourier_features=[2, 4], denoiser={
        "arch": "ddpm_unet", "image_size": 8, "in_channels": 3, "ch": 32, "ch_mult": [1], "num_res_blocks": 1,
        "attn_resolutions": []})
    with pytest.raises(ValueError, match="in_channels to 15"):
        build_method(config)
    config["networks"]["model"]["denoiser"].update(in_channels=15, out_channels=3)
    method = build_method(config)
    assert method.sample(2, rng=torch.Generator().manual_seed(0), steps=3).shape == (2, 3, 8, 8)


def test_one_ancestral_step_is_the_posterior_given_the_predicted_x():
    """steps=1: z_0 ~ q(z_0 | z_1, x_hat) with x_hat = (z_1 - sigma_1 eps_hat) / alpha_1 (continuous data)."""
    method = vdm()
    model = method.networks["model"]
    model.denoiser = FunctionNet(lambda h, time: 0.2 * h + 0.1)
    rng = torch.Generator().manual_seed(0)
    out = method.sample(5, rng=rng, steps=1)
    rng = torch.Generator().manual_seed(0)
    z_1, noise = torch.randn(5, 2, generator=rng), torch.randn(5, 2, generator=rng)
    with torch.no_grad():
        gamma_0, gamma_1 = model.gamma(torch.tensor([0.0, 1.0])).double()
    a0, s0 = torch.sigmoid(-gamma_0).sqrt(), torch.sigmoid(gamma_0).sqrt()
    a1, s1 = torch.sigmoid(-gamma_1).sqrt(), torch.sigmoid(gamma_1).sqrt()
    z_1 = z_1.double()
    x_hat = (z_1 - s1 * (0.2 * z_1 + 0.1)) / a1
    a_10 = a1 / a0
    var_10 = s1**2 - a_10**2 * s0**2
    mean = a_10 * s0**2 / s1**2 * z_1 + a0 * var_10 / s1**2 * x_hat
    z_0 = mean + (var_10 * s0**2 / s1**2).sqrt() * noise.double()
    torch.testing.assert_close(out.double(), z_0 / a0, rtol=1e-4, atol=1e-4)


def test_samples_of_discrete_data_lie_on_its_levels_and_nfe_counts_calls():
    method = vdm("stacked_digits")
    counting = FunctionNet(method.networks["model"].denoiser)
    method.networks["model"].denoiser = counting
    x = method.sample(3, rng=torch.Generator().manual_seed(1), steps=7)
    assert counting.calls == 7 == method.nfe(steps=7)
    k = (x + 1) / 2 * 16
    torch.testing.assert_close(k, k.round(), rtol=0, atol=1e-5)


def test_bits_per_dim_reports_the_terms():
    method = vdm("stacked_digits")
    x = torch.randint(0, 17, (8, 3, 8, 8)).float() / 16 * 2 - 1
    torch.manual_seed(0)
    report = method.bits_per_dim(x)
    assert report["bpd"] == pytest.approx(report["reconstruction"] + report["prior"] + report["diffusion"])
    assert 0 < report["bpd"] < 100


def test_vdm_training_through_the_shared_trainer_lowers_the_loss(tmp_path):
    config = demo_config("vdm", "mixture25", steps=300)
    config["networks"]["model"]["denoiser"].update(hidden=64, depth=2)
    config["train"].update(log_every=20, batch_size=128)
    train(config, tmp_path, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.5
