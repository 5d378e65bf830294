"""VAE and latent diffusion: ELBO terms against direct computations, the staged training of latent
diffusion in the shared trainer, and sampling from its EMA snapshot."""
import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from baselines.autoencoder import elbo_terms, gaussian_kl_to_standard, gaussian_log_likelihood
from baselines.latent_diffusion import LatentDiffusionError
from baselines.presets import demo_config
from ddgan.core.methods import build_method
from ddgan.core.trainer import train
from ddgan.sampling import load_sampler


def logged(run_dir, key):
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r[key] for r in records if key in r]


def test_gaussian_terms_match_torch_distributions():
    torch.manual_seed(0)
    mean, log_variance = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    q = Normal(mean, torch.exp(0.5 * log_variance))
    torch.testing.assert_close(gaussian_kl_to_standard(mean, log_variance),
                               kl_divergence(q, Normal(0.0, 1.0)).flatten(1).sum(1))
    x, mu, log_scale = torch.randn(5, 7), torch.randn(5, 7), torch.tensor(-0.7)
    torch.testing.assert_close(gaussian_log_likelihood(x, mu, log_scale),
                               Normal(mu, log_scale.exp()).log_prob(x).sum(1))


def test_elbo_terms_use_one_reparameterised_sample():
    method = build_method(demo_config("vae", "stacked_digits", steps=10))
    encoder, decoder = method.networks["encoder"], method.networks["decoder"]
    x = torch.rand(4, 3, 8, 8) * 2 - 1
    torch.manual_seed(3)
    reconstruction, kl = elbo_terms(encoder, decoder, x)
    torch.manual_seed(3)
    mean, log_variance = encoder(x)
    z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
    x_mean = decoder(z)
    log_scale = ((x - x_mean) ** 2).mean().sqrt().log()      # the maximum-likelihood scale of the batch,
    log_scale = -6 + torch.nn.functional.softplus(log_scale + 6)  # soft-clipped at -6
    expected = -Normal(x_mean, log_scale.exp()).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(reconstruction, expected)
    torch.testing.assert_close(kl, kl_divergence(Normal(mean, torch.exp(0.5 * log_variance)), Normal(0.0, 1.0))
                               .flatten(1).sum(1))
    assert z.shape[1:] == decoder.latent_shape == (8, 2, 2)


def test_vae_elbo_bounds_the_likelihood_of_a_linear_gaussian_model():
    """For p(z) = N(0, 1), p(x | z) = N(w z, s^2) the exact log p(x) is known: the ELBO estimate
    must lie below it, and equal it (up to Monte Carlo error) at the exact posterior."""
    w, s, x = 1.5, 0.5, torch.full((100_000, 1), 0.8)
    posterior_variance = 1 / (1 + w**2 / s**2)
    posterior_mean = posterior_variance * w * x / s**2

    class Exact(torch.nn.Module):
        def forward(self, x):
            return posterior_mean[: len(x)], torch.full_like(x, math.log(posterior_variance))

    class Linear(torch.nn.Module):
        def forward(self, z):
            return w * z

    torch.manual_seed(0)
    reconstruction, kl = elbo_terms(Exact(), Linear(), x, log_scale=torch.tensor(math.log(s)))
    log_px = Normal(0.0, math.sqrt(w**2 + s**2)).log_prob(torch.tensor(0.8)).item()
    assert -(reconstruction + kl).mean().item() == pytest.approx(log_px, abs=0.02)

    class Wrong(Exact):
        def forward(self, x):
            return torch.zeros_like(x), torch.zeros_like(x)

    reconstruction, kl = elbo_terms(Wrong(), Linear(), x, log_scale=torch.tensor(math.log(s)))
    assert -(reconstruction + kl).mean().item() < log_px - 0.2


@pytest.mark.parametrize("dataset", ["mixture25", "stacked_digits"])
def test_vae_training_lowers_the_loss_and_samples_in_one_pass(tmp_path, dataset):
    config = demo_config("vae", dataset, steps=150)
    config["train"].update(log_every=10, batch_size=64)
    if dataset == "stacked_digits":
        for net in config["networks"].values():
            net["base_channels"] = 8
    trainer = train(config, tmp_path, progress=False)
    losses = logged(tmp_path, "loss")
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.1
    calls = []
    trainer.ema.net.register_forward_hook(lambda *args: calls.append(1))
    x = trainer.method.sample(6, rng=torch.Generator().manual_seed(0), net=trainer.ema.net)
    assert x.shape == (6, *config["data"]["shape"]) and len(calls) == 1 == trainer.method.nfe()


def tiny_ldm(steps, autoencoder_steps):
    config = demo_config("ldm", "mixture25", steps=steps)
    config["method"]["autoencoder_steps"] = autoencoder_steps
    for net in (config["networks"]["encoder"], config["networks"]["generator"]["decoder"],
                config["networks"]["generator"]["denoiser"]):
        net.update(hidden=64, depth=2)
    config["train"].update(log_every=10, batch_size=128)
    return config


def test_latent_diffusion_trains_in_two_stages_through_the_shared_trainer(tmp_path):
    config = tiny_ldm(steps=400, autoencoder_steps=200)
    trainer = train(config, tmp_path / "stage1", stop_at=200, progress=False)
    generator = trainer.method.networks["generator"]
    assert generator.latent_scale == 0
    with pytest.raises(LatentDiffusionError, match="autoencoder_steps"):
        trainer.method.sample(2)
    before = {k: v.clone() for k, v in trainer.method.state_dict().items()}

    trainer = train(config, tmp_path / "stage1", progress=False)        # resume into stage 2
    generator = trainer.method.networks["generator"]
    after = trainer.method.state_dict()
    changed = {k.split(".")[1] + "." + k.split(".")[2] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"generator.denoiser", "generator.latent_scale"}     # the autoencoder is frozen

    # latent_scale = 1 / std of the frozen encoder's latents (of the first stage-2 batch)
    x = torch.from_numpy(trainer.batches[200][1].numpy())
    torch.manual_seed(0)
    z = trainer.method.latents(x)
    assert generator.latent_scale.item() == pytest.approx(1 / z.std().item(), rel=0.1)

    autoencoder, denoiser = logged(tmp_path / "stage1", "loss_autoencoder"), logged(tmp_path / "stage1", "loss_denoiser")
    assert len(autoencoder) == len(denoiser) == 20
    assert np.mean(autoencoder[-3:]) < np.mean(autoencoder[:3]) - 0.2
    assert np.mean(denoiser[-3:]) < 0.8 * np.mean(denoiser[:3])


def test_latent_diffusion_snapshot_samples_with_decoder_and_scale(tmp_path):
    config = tiny_ldm(steps=30, autoencoder_steps=10)
    trainer = train(config, tmp_path, progress=False)
    sampler = load_sampler(tmp_path / "snapshot.pt")
    assert set(sampler.method.networks) == {"generator"}
    assert sampler.net.latent_scale == trainer.ema.net.latent_scale != 0
    x = sampler.method.sample(5, rng=torch.Generator().manual_seed(0), net=sampler.net, sampler="ddim", steps=10)
    assert x.shape == (5, 2) and torch.isfinite(x).all()
    assert sampler.method.nfe(sampler="ddim", steps=10) == 10      # denoiser calls; the decoder runs once
    assert sampler.network is sampler.net.denoiser

    calls = {"denoiser": 0, "decoder": 0}
    for name in calls:
        getattr(sampler.net, name).register_forward_hook(lambda *args, name=name: calls.update({name: calls[name] + 1}))
    sampler.method.sample(3, rng=torch.Generator().manual_seed(0), net=sampler.net, steps=25)
    assert calls == {"denoiser": 25, "decoder": 1}


def test_latent_diffusion_refuses_a_wrong_network_set():
    config = demo_config("ldm", "mixture25", steps=10)
    config["networks"]["decoder"] = config["networks"]["generator"].pop("decoder")
    config["networks"]["generator"] = config["networks"]["generator"]["denoiser"]
    with pytest.raises(ValueError, match="needs networks \\['encoder', 'generator'\\]"):
        build_method(config)


@pytest.mark.parametrize("dataset", ["mixture25", "stacked_digits"])
def test_latent_ddgan_trains_the_gan_on_latents_and_samples_in_T_denoiser_calls(tmp_path, dataset):
    config = demo_config("ldm", dataset, steps=6, latent_model="ddgan")
    config["method"]["autoencoder_steps"] = 3
    config["data"]["size"] = 512
    trainer = train(config, tmp_path, progress=False)
    method = trainer.method
    assert set(method.optimizer_groups()) == {"autoencoder", "generator", "discriminator"}
    # the GAN's networks are the method's own modules, so the trainer's optimisers update them
    assert method.latent_gan.networks["generator"] is method.networks["generator"].denoiser
    assert method.latent_gan.networks["discriminator"] is method.networks["discriminator"]
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert "loss_g" in records[-1] and "loss_d_real" in records[-1]

    sampler = load_sampler(tmp_path / "snapshot.pt")
    calls = {"denoiser": 0, "decoder": 0}
    for name in calls:
        getattr(sampler.net, name).register_forward_hook(lambda *args, name=name: calls.update({name: calls[name] + 1}))
    x = sampler.method.sample(3, rng=torch.Generator().manual_seed(0), net=sampler.net)
    assert x.shape == (3, *config["data"]["shape"]) and calls == {"denoiser": 4, "decoder": 1}
    assert sampler.method.nfe() == 4
    with pytest.raises(ValueError, match="takes no options"):
        sampler.method.sample(3, net=sampler.net, steps=10)
