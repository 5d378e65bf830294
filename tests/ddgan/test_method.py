"""The DDGAN training step and sampler against a literal transcription of the official algorithm."""
import copy

import pytest
import torch
import torch.nn.functional as F

from ddgan.core.methods import build_method
from ddgan.presets import mixture25_ddgan


def tiny_config(**method):
    config = mixture25_ddgan(num_timesteps=4)
    config["networks"]["generator"].update(hidden=32, depth=2)
    config["networks"]["discriminator"].update(hidden=32, depth=2)
    config["method"].update(r1_gamma=0.5, **method)
    return config


def official_iteration(G, D, opt_g, opt_d, diffusion, x_0, nz, r1_gamma, apply_r1):
    """One iteration as train_ddgan.py does it: separate backwards, G forward kept in the D step."""
    def pairs(t):
        noise = torch.randn_like(x_0)
        x_t = diffusion.a_s_cum[t][:, None] * x_0 + diffusion.sigmas_cum[t][:, None] * torch.randn_like(x_0)
        return x_t, diffusion.a_s[t + 1][:, None] * x_t + diffusion.sigmas[t + 1][:, None] * noise

    def posterior(x0_pred, x_tp1, t):
        mean = diffusion.posterior_mean_coef1[t][:, None] * x0_pred + diffusion.posterior_mean_coef2[t][:, None] * x_tp1
        log_var = diffusion.posterior_log_variance_clipped[t][:, None]
        noise = torch.randn_like(x_tp1)
        return mean + (1 - (t == 0).float())[:, None] * torch.exp(0.5 * log_var) * noise

    for p in D.parameters():
        p.requires_grad = True
    D.zero_grad()
    t = torch.randint(0, 4, (len(x_0),))
    x_t, x_tp1 = pairs(t)
    x_t.requires_grad = True
    d_real = D(x_t, t, x_tp1.detach()).view(-1)
    F.softplus(-d_real).mean().backward(retain_graph=True)
    if apply_r1:
        grad, = torch.autograd.grad(d_real.sum(), x_t, create_graph=True)
        (r1_gamma / 2 * grad.view(len(grad), -1).norm(2, dim=1).pow(2).mean()).backward()
    z = torch.randn(len(x_0), nz)
    x_pos = posterior(G(x_tp1.detach(), t, z), x_tp1, t)
    F.softplus(D(x_pos, t, x_tp1.detach()).view(-1)).mean().backward()
    opt_d.step()

    for p in D.parameters():
        p.requires_grad = False
    G.zero_grad()
    t = torch.randint(0, 4, (len(x_0),))
    x_t, x_tp1 = pairs(t)
    z = torch.randn(len(x_0), nz)
    x_pos = posterior(G(x_tp1.detach(), t, z), x_tp1, t)
    F.softplus(-D(x_pos, t, x_tp1.detach()).view(-1)).mean().backward()
    opt_g.step()


@pytest.mark.parametrize("lazy_reg,step", [(None, 0), (3, 3), (3, 4)])
def test_training_step_matches_official_iteration(lazy_reg, step):
    torch.manual_seed(0)
    method = build_method(tiny_config(lazy_reg=lazy_reg))
    official = copy.deepcopy(method)
    G, D = official.networks["generator"], official.networks["discriminator"]
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.9)), torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.9))
    optimizers = {"generator": torch.optim.Adam(method.networks["generator"].parameters(), 1e-3, betas=(0.5, 0.9)),
                  "discriminator": torch.optim.Adam(method.networks["discriminator"].parameters(), 1e-3, betas=(0.5, 0.9))}

    def update(name, loss):
        optimizers[name].zero_grad()
        loss.backward()
        optimizers[name].step()

    x_0 = torch.randn(16, 2) * 0.5
    torch.manual_seed(1)
    method.training_step(x_0, step, update)
    torch.manual_seed(1)
    official_iteration(G, D, opt_g, opt_d, official.diffusion, x_0, nz=16, r1_gamma=0.5,
                       apply_r1=lazy_reg is None or step % lazy_reg == 0)
    for (name, ours), theirs in zip(method.named_parameters(), official.parameters()):
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5, msg=name)
    assert all(p.requires_grad for p in method.parameters())


class CountingNet(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, *args):
        self.calls += 1
        return self.net(*args)


@pytest.mark.parametrize("parametrisation,steps,expected_nfe", [
    ("x0", 1, 1), ("x0", 2, 2), ("x0", 4, 4), ("x0", 8, 8), ("direct", 4, 4), ("eps", 4, 4), ("oneshot", 4, 1)])
def test_sampler_calls_the_generator_nfe_times_and_is_seeded(parametrisation, steps, expected_nfe):
    torch.manual_seed(0)
    config = tiny_config(parametrisation=parametrisation)
    config["method"]["num_timesteps"] = steps
    method = build_method(config)
    G = CountingNet(method.networks["generator"])
    a = method.sample(10, rng=torch.Generator().manual_seed(3), net=G)
    assert G.calls == expected_nfe == method.nfe()
    b = method.sample(10, rng=torch.Generator().manual_seed(3), net=G)
    c = method.sample(10, rng=torch.Generator().manual_seed(4), net=G)
    assert a.shape == (10, 2) and torch.equal(a, b) and not torch.equal(a, c)


def test_sampling_follows_the_posterior_chain():
    """With G returning a fixed x_0 the chain is a product of known Gaussian steps: check it by hand."""
    config = tiny_config()
    method = build_method(config)
    target = torch.tensor([0.3, -0.6])
    G = lambda x, t, z: target.expand_as(x)
    rng = torch.Generator().manual_seed(5)
    out = method.sample(3, rng=rng, net=G)
    rng = torch.Generator().manual_seed(5)
    d = method.diffusion
    x = torch.randn(3, 2, generator=rng)
    for step in reversed(range(4)):
        torch.randn(3, 16, generator=rng)              # z, drawn and ignored by this G
        noise = torch.randn(3, 2, generator=rng)
        std = d.posterior_variance[step].sqrt() if step else 0.0
        x = d.posterior_mean_coef1[step] * target + d.posterior_mean_coef2[step] * x + std * noise
    torch.testing.assert_close(out, x)
    torch.testing.assert_close(out, target.expand(3, 2), atol=1e-3, rtol=0)   # last step is noiseless


def test_without_latent_z_the_generator_sees_zeros():
    method = build_method(tiny_config(use_latent=False))
    seen = []
    G = lambda x, t, z: seen.append(z) or x
    method.sample(4, rng=torch.Generator().manual_seed(0), net=G)
    assert all(torch.equal(z, torch.zeros(4, 16)) for z in seen)


def test_unknown_parametrisation_is_refused():
    with pytest.raises(ValueError, match="parametrisation"):
        build_method(tiny_config(parametrisation="v"))


def test_diversity_is_the_output_distance_per_latent_distance_of_two_z():
    method = build_method(tiny_config(diversity_weight=1.0))
    x_0, t = torch.randn(8, 2), torch.randint(0, 4, (8,))
    seen = []

    def G(x, t, z):
        seen.append(z)
        return 3 * z[:, :2]
    torch.manual_seed(2)
    fake_t, x_tp1, diversity = method.fake_pair_and_diversity(G, x_0, t)
    z = seen[0]
    z_1, z_2 = z[:4], z[8:]               # the first half of the pairs, then their second latents
    expected = (3 * (z_1[:, :2] - z_2[:, :2])).abs().mean() / (z_1 - z_2).abs().mean()
    torch.testing.assert_close(diversity, expected)
    assert fake_t.shape == x_tp1.shape == (8, 2)
    _, _, none = method.fake_pair_and_diversity(lambda x, t, z: x, x_0, t)
    assert none == 0


def test_diversity_term_makes_the_generator_use_z():
    """A few G steps with the mode-seeking term spread G's outputs over z far more than the GAN loss alone."""
    def spread_after_training(weight):
        torch.manual_seed(0)
        method = build_method(tiny_config(diversity_weight=weight))
        optimizers = {name: torch.optim.Adam(net.parameters(), 1e-3, betas=(0.5, 0.9))
                      for name, net in method.networks.items()}

        def update(name, loss):
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
        x_0 = torch.randn(64, 2) * 0.5
        for step in range(30):
            method.training_step(x_0, step, update)
        x_tp1, t = torch.randn(1, 2).expand(256, 2), torch.full((256,), 1)
        with torch.no_grad():
            return method.networks["generator"](x_tp1, t, torch.randn(256, 16)).std(0).mean().item()
    assert spread_after_training(1.0) > 3 * spread_after_training(0.0)


def test_diversity_needs_a_latent():
    with pytest.raises(ValueError, match="diversity_weight needs a latent z"):
        build_method(tiny_config(diversity_weight=1.0, use_latent=False))
