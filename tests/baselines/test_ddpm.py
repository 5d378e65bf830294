"""DDPM and DDIM: schedules, posterior and sampler steps against diffusers and the DDIM code's loop,
golden values, NFE counting, and training through the shared trainer."""
import json

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from baselines.ddim import ddim_sigma, ddim_step
from baselines.presets import demo_config
from baselines.schedules import ScheduleError, linear_betas, spaced_timesteps
from ddgan.core.methods import build_method
from ddgan.core.trainer import train

T = 1000


def dummy_eps(x, t):
    """A deterministic stand-in for a trained eps-model that depends on x and t."""
    return 0.3 * x + 0.1 * torch.sin(t.float()[:, None] / 100.0 + x)


def ddpm(**method):
    config = demo_config("ddpm", "mixture25", steps=10)
    config["method"].update(method)
    return build_method(config)


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ schedules and coefficients

def test_linear_schedule_and_alphas_cumprod_match_diffusers():
    ours = ddpm().diffusion
    theirs = DDPMScheduler(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
    torch.testing.assert_close(ours.betas, theirs.betas, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(ours.alphas_cumprod, theirs.alphas_cumprod, rtol=2e-5, atol=0)
    torch.testing.assert_close(linear_betas(T), torch.from_numpy(np.linspace(1e-4, 0.02, T)))


@pytest.mark.parametrize("variance,diffusers_type", [("small", "fixed_small"), ("large", "fixed_large")])
def test_posterior_variance_matches_diffusers(variance, diffusers_type):
    ours = ddpm().diffusion.respaced_posterior(torch.arange(T), variance)
    theirs = DDPMScheduler(num_train_timesteps=T, variance_type=diffusers_type)
    for t in (1, 2, 10, 500, 999):
        torch.testing.assert_close(torch.exp(ours["posterior_log_variance_clipped"][t]).float(),
                                   theirs._get_variance(t), rtol=1e-3, atol=1e-9)


def test_golden_coefficients():
    """Pinned values (DDPM linear schedule, float64): a silent change of the schedule fails here."""
    diffusion = ddpm().diffusion
    assert diffusion.alphas_cumprod64[999].item() == pytest.approx(4.035829e-05, rel=1e-6)
    assert diffusion.alphas_cumprod64[499].item() == pytest.approx(0.078587243, rel=1e-6)
    posterior = diffusion.respaced_posterior(torch.arange(T))
    assert posterior["posterior_variance"][1].item() == pytest.approx(5.4531877e-05, rel=1e-6)
    assert posterior["posterior_mean_coef1"][10].item() == pytest.approx(0.13627786, rel=1e-6)
    # DDIM's sigma at the 10-step uniform sub-sequence, from t = 900 to t = 800 with eta = 1
    abar = diffusion.alphas_cumprod64
    assert ddim_sigma(abar[900], abar[800], 1.0).item() == pytest.approx(0.90538394, rel=1e-6)


# ------------------------------------------------------------------ timestep spacing

def test_uniform_spacing_is_diffusers_leading_and_the_ddim_code():
    for steps in (10, 20, 50, 100, 1000):
        scheduler = DDIMScheduler(num_train_timesteps=T, timestep_spacing="leading", steps_offset=0)
        scheduler.set_timesteps(steps)
        ours = spaced_timesteps(T, steps, "uniform")
        assert torch.equal(ours.flip(0), scheduler.timesteps)
        assert ours.tolist() == list(range(0, T, T // steps))          # the DDIM code: range(0, T, T // S)


def test_linspace_spacing_is_diffusers_linspace():
    scheduler = DDIMScheduler(num_train_timesteps=T, timestep_spacing="linspace")
    scheduler.set_timesteps(7)
    assert torch.equal(spaced_timesteps(T, 7, "linspace").flip(0), scheduler.timesteps)


def test_quadratic_spacing_golden_values_and_repeats_dropped():
    assert spaced_timesteps(T, 10, "quadratic").tolist() == [0, 9, 39, 88, 158, 246, 355, 483, 632, 800]
    as_in_ddim_code = [int(s) for s in np.linspace(0, np.sqrt(T * 0.8), 50) ** 2]
    assert spaced_timesteps(T, 50, "quadratic").tolist() == sorted(set(as_in_ddim_code))
    assert len(spaced_timesteps(T, 50, "quadratic")) == 49          # 0 appears twice in the DDIM code's sequence


@pytest.mark.parametrize("steps,spacing", [(0, "uniform"), (1001, "uniform"), (2.5, "uniform"), (10, "cosine")])
def test_bad_sampling_steps_are_refused_clearly(steps, spacing):
    with pytest.raises(ScheduleError, match="steps must be|unknown timestep spacing"):
        spaced_timesteps(T, steps, spacing)


def test_bad_sampler_options_are_refused_clearly():
    method = ddpm()
    with pytest.raises(ScheduleError, match="unknown sampler"):
        method.sample(2, sampler="plms")
    with pytest.raises(ScheduleError, match="eta` applies to sampler='ddim'"):
        method.sample(2, eta=0.5)
    with pytest.raises(ScheduleError, match="unknown sampling option"):
        method.sample(2, step=10)
    with pytest.raises(ScheduleError, match="unknown sampler"):
        ddpm(sampler="euler")


# ------------------------------------------------------------------ sampler steps and loops vs diffusers

def diffusers_loop(scheduler, shape, generator, **step_kwargs):
    x = torch.randn(shape, generator=generator)
    for t in scheduler.timesteps:
        t_batch = torch.full((shape[0],), int(t))
        x = scheduler.step(dummy_eps(x, t_batch), int(t), x, generator=generator, **step_kwargs).prev_sample
    return x


@pytest.mark.parametrize("variance,steps,spacing,clip", [
    ("small", 1000, "uniform", True), ("large", 1000, "uniform", False), ("small", 10, "uniform", True),
    ("large", 25, "linspace", True), ("small", 20, "quadratic", False)])
def test_ancestral_sampling_loop_matches_diffusers_ddpm(variance, steps, spacing, clip):
    method = ddpm(variance=variance, clip_x0=clip)
    ours = method.sample(64, rng=seeded(3), net=dummy_eps, steps=steps, spacing=spacing)
    scheduler = DDPMScheduler(num_train_timesteps=T, variance_type=f"fixed_{variance}", clip_sample=clip,
                              timestep_spacing="leading" if spacing == "uniform" else "linspace")
    if spacing == "quadratic":
        scheduler.set_timesteps(timesteps=spaced_timesteps(T, steps, spacing).flip(0).tolist())
    elif steps < T:
        scheduler.set_timesteps(steps)
    theirs = diffusers_loop(scheduler, (64, 2), seeded(3))
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=2e-4)


@pytest.mark.parametrize("eta", [0.0, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("steps", [10, 50])
def test_ddim_loop_matches_diffusers_ddim(eta, steps):
    method = ddpm()
    ours = method.sample(64, rng=seeded(4), net=dummy_eps, sampler="ddim", steps=steps, eta=eta)
    scheduler = DDIMScheduler(num_train_timesteps=T, timestep_spacing="leading", steps_offset=0,
                              set_alpha_to_one=True, clip_sample=False)
    scheduler.set_timesteps(steps)
    theirs = diffusers_loop(scheduler, (64, 2), seeded(4), eta=eta)
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=2e-4)


def test_ddim_single_step_matches_diffusers_with_clipping():
    scheduler = DDIMScheduler(num_train_timesteps=T, steps_offset=0, clip_sample=True)
    scheduler.set_timesteps(20)
    abar = ddpm().diffusion.alphas_cumprod
    x = 2.0 * torch.randn(16, 2, generator=seeded(5))
    eps = dummy_eps(x, torch.full((16,), 450))
    noise = torch.randn(16, 2, generator=seeded(6))
    theirs = scheduler.step(eps, 450, x, eta=0.7, variance_noise=noise).prev_sample
    ours = ddim_step(x, eps, abar[450], abar[400], eta=0.7, noise=noise, clip_x0=True)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def ddim_code_loop(x, seq, eps_model, betas):
    """The DDIM code's deterministic loop (eta = 0): seq may repeat indices; t = -1 means abar = 1."""
    abar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])
    for i, j in zip(reversed(seq), reversed([-1] + list(seq[:-1]))):
        a_t, a_next = abar[i + 1].float(), abar[j + 1].float()
        e = eps_model(x, torch.full((len(x),), i))
        x0 = (x - e * (1 - a_t).sqrt()) / a_t.sqrt()
        x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * e
    return x


def test_quadratic_ddim_matches_the_ddim_code_loop_with_its_repeated_steps():
    method = ddpm()
    x_T = torch.randn(32, 2, generator=seeded(7))
    ours = method.sample(32, net=dummy_eps, x_T=x_T, sampler="ddim", steps=50, spacing="quadratic")
    seq = [int(s) for s in np.linspace(0, np.sqrt(T * 0.8), 50) ** 2]
    torch.testing.assert_close(ours, ddim_code_loop(x_T, seq, dummy_eps, linear_betas(T)), rtol=1e-4, atol=1e-5)


GOLDEN_ANCESTRAL_SUM = -20.6295      # 100 ancestral steps, 100 samples, seed 0
GOLDEN_DDIM_SUM = -72.6987           # 20 DDIM steps with eta = 0.5, 100 samples, seed 0


def test_golden_sums_of_seeded_sampling_loops():
    """Pinned sums of seeded loops with the dummy model: any change of a sampler's math fails here."""
    method = ddpm(clip_x0=True)
    ancestral = method.sample(100, rng=seeded(0), net=dummy_eps, steps=100)
    ddim = method.sample(100, rng=seeded(0), net=dummy_eps, sampler="ddim", steps=20, eta=0.5)
    assert ancestral.sum().item() == pytest.approx(GOLDEN_ANCESTRAL_SUM, abs=1e-3)
    assert ddim.sum().item() == pytest.approx(GOLDEN_DDIM_SUM, abs=1e-3)


# ------------------------------------------------------------------ NFE, seeding, training

class CountingNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, t):
        self.calls += 1
        return dummy_eps(x, t)


@pytest.mark.parametrize("options", [{}, {"steps": 4}, {"sampler": "ddim", "steps": 10},
                                     {"sampler": "ddim", "steps": 50, "spacing": "quadratic"}])
def test_nfe_counts_network_calls_and_sampling_is_seeded(options):
    method = ddpm()
    net = CountingNet()
    a = method.sample(8, rng=seeded(1), net=net, **options)
    assert net.calls == method.nfe(**options)
    assert torch.equal(a, method.sample(8, rng=seeded(1), net=dummy_eps, **options))
    assert not torch.equal(a, method.sample(8, rng=seeded(2), net=dummy_eps, **options))


def test_ddim_eta_zero_is_deterministic_given_x_T():
    method = ddpm()
    x_T = torch.randn(8, 2, generator=seeded(0))
    a = method.sample(8, rng=seeded(1), net=dummy_eps, x_T=x_T, sampler="ddim", steps=10)
    b = method.sample(8, rng=seeded(2), net=dummy_eps, x_T=x_T, sampler="ddim", steps=10)
    assert torch.equal(a, b)


def window_means(run_dir, key):
    values = [json.loads(line)[key] for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return np.mean(values[:3]), np.mean(values[-3:])


def test_ddpm_training_through_the_shared_trainer_lowers_the_loss(tmp_path):
    config = demo_config("ddpm", "mixture25", steps=300)
    config["networks"]["denoiser"].update(hidden=64, depth=2)
    config["train"].update(log_every=20, batch_size=128)
    trainer = train(config, tmp_path, progress=False)
    first, last = window_means(tmp_path, "loss")
    assert last < 0.8 * first
    assert trainer.method.sample(5, rng=seeded(0), net=trainer.ema.net, sampler="ddim", steps=4).shape == (5, 2)
