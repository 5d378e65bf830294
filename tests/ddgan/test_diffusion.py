"""The forward process and posterior against the official implementation's numbers."""
import pytest
import torch

from ddgan.denoising_gan import DDGANDiffusion, ddgan_betas
from tests.conftest import FIXTURES

OFFICIAL = torch.load(FIXTURES / "official_schedules.pt", weights_only=True)
COEFFICIENTS = ["sigmas", "a_s", "a_s_cum", "sigmas_cum", "betas", "posterior_variance",
                "posterior_mean_coef1", "posterior_mean_coef2", "posterior_log_variance_clipped"]


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_coefficients_match_official(name):
    reference = OFFICIAL[name]
    schedule, steps = name.split("_T")
    diffusion = DDGANDiffusion(int(steps), schedule, reference["beta_min"], reference["beta_max"])
    for key in COEFFICIENTS:
        ours = getattr(diffusion, key)
        assert ours.shape == reference[key].shape, key
        torch.testing.assert_close(ours, reference[key], atol=1e-6, rtol=0, msg=f"{name} {key}")


def test_all_four_step_counts_and_both_schedules_are_covered():
    assert sorted(OFFICIAL) == sorted(f"{s}_T{t}" for s in ("vp", "geometric") for t in (1, 2, 4, 8))


@pytest.mark.parametrize("steps", [0, -1, 2.5])
def test_invalid_number_of_steps_is_refused(steps):
    with pytest.raises(ValueError, match="num_timesteps"):
        ddgan_betas(steps)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="geometric"):
        DDGANDiffusion(4, "cosine")


def test_pairs_have_the_forward_marginals():
    """x_t ~ N(a_cum[t] x0, s_cum[t]^2) and x_{t+1} ~ N(a_cum[t+1] x0, s_cum[t+1]^2)."""
    torch.manual_seed(0)
    diffusion = DDGANDiffusion(4)
    x_0 = torch.full((200_000, 1), 0.7)
    for step in range(4):
        t = torch.full((len(x_0),), step)
        x_t, x_tp1 = diffusion.q_sample_pairs(x_0, t)
        for x, k in ((x_t, step), (x_tp1, step + 1)):
            assert x.mean().item() == pytest.approx(0.7 * diffusion.a_s_cum[k].item(), abs=5e-3)
            assert x.std().item() == pytest.approx(diffusion.sigmas_cum[k].item(), abs=5e-3)
        # one step: x_{t+1} - a_s[t+1] x_t is independent noise of std sigmas[t+1]
        residual = x_tp1 - diffusion.a_s[step + 1] * x_t
        assert residual.std().item() == pytest.approx(diffusion.sigmas[step + 1].item(), abs=5e-3)


def test_posterior_sample_is_mean_plus_scaled_noise_and_exact_at_t0():
    diffusion = DDGANDiffusion(4)
    x_0, x_tp1, noise = torch.randn(3, 4, 2, 3, 3).unbind(0)
    t = torch.tensor([0, 1, 2, 3])
    sample = diffusion.posterior_sample(x_0, x_tp1, t, noise)
    for i, step in enumerate(t.tolist()):
        mean = diffusion.posterior_mean_coef1[step] * x_0[i] + diffusion.posterior_mean_coef2[step] * x_tp1[i]
        std = 0.0 if step == 0 else diffusion.posterior_variance[step].sqrt()
        torch.testing.assert_close(sample[i], mean + std * noise[i], atol=1e-6, rtol=1e-5)


def test_posterior_of_the_true_x0_has_the_forward_marginal():
    """If x_0 is exact, x_t ~ q(x_t | x_{t+1}, x_0) with x_{t+1} ~ q(x_{t+1} | x_0) gives q(x_t | x_0)."""
    torch.manual_seed(1)
    diffusion = DDGANDiffusion(4)
    x_0 = torch.full((200_000, 1), -0.4)
    for step in range(1, 4):
        t = torch.full((len(x_0),), step)
        x_tp1 = diffusion.q_sample(x_0, t + 1)
        x_t = diffusion.posterior_sample(x_0, x_tp1, t)
        # the posterior uses betas[1:], whose cumulative product equals a_s_cum^2 up to the 1e-8 first step
        assert x_t.mean().item() == pytest.approx(-0.4 * diffusion.a_s_cum[step].item(), abs=5e-3)
        assert x_t.std().item() == pytest.approx(diffusion.sigmas_cum[step].item(), abs=5e-3)


def test_x0_from_eps_inverts_the_forward_step():
    diffusion = DDGANDiffusion(4)
    x_0, eps = torch.randn(2, 4, 3)
    t = torch.tensor([0, 1, 2, 3])
    abar = diffusion.alphas_cumprod[t][:, None]
    x_tp1 = abar.sqrt() * x_0 + (1 - abar).sqrt() * eps
    torch.testing.assert_close(diffusion.x0_from_eps(x_tp1, t, eps), x_0, atol=2e-4, rtol=1e-4)
