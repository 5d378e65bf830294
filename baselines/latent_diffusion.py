"""Latent diffusion (Rombach et al. 2022): a KL-regularised autoencoder, then a diffusion model of
its latents; a sample is drawn in latent space and decoded once.

Both stages run in the one trainer as a staged training step:
- steps 0 .. autoencoder_steps-1: the autoencoder, loss -(E_q[log p(x|z)] - kl_weight KL) per data
  dimension (Gaussian likelihood with its maximum-likelihood scale, baselines/autoencoder.py, where
  Rombach et al. learn a scalar log-variance over an L1 + perceptual loss; as they, a tiny KL weight,
  1e-6, so the latents stay close to a plain autoencoder's), optimiser "autoencoder";
- from then on: the encoder and decoder are frozen and the latent denoiser is trained with DDPM's
  L_simple on z * latent_scale, z ~ q(z | x), optimiser "denoiser". latent_scale = 1 / std of the
  latents of the first stage-2 batch (their "scale_by_std"), so the latents have unit variance.

Networks: `encoder` and `generator`, a LatentGenerator holding the `denoiser`, the `decoder` and the
`latent_scale` buffer: the generator is the sampling network, so its EMA snapshot carries all that
sampling needs. The EMA of the decoder follows the trained decoder during stage 1 and converges to
the frozen one during stage 2 (at rate ema_decay per step).

Sampling: the denoiser's DDPM or DDIM sampler (the same options as baselines/ddpm.py: sampler, steps,
eta, spacing, ...) in latent space, then one decoder pass. NFE counts the denoiser's evaluations
(the visited steps), as LSGM counts its score model; the one decoder pass is not counted.

`latent_model: "ddgan"` trains a denoising diffusion GAN on the latents instead (the DDGAN method's
own training step, options under `method.ddgan`: num_timesteps, nz, r1_gamma, lazy_reg, ...); it
needs a third network `discriminator` (on latents) and the optimisers "generator" and
"discriminator"; NFE = T.
"""
import dataclasses

import torch
import torch.distributed as dist
from torch import nn

from baselines.autoencoder import autoencoder_loss, sample_posterior
from baselines.ddpm import GAUSSIAN_DIFFUSION_OPTIONS
from baselines.gaussian_diffusion import GaussianDiffusion, resolve_sampling_options
from baselines.schedules import training_betas
from ddgan.core.methods import Method
from ddgan.base.options import Option
from ddgan.denoising_gan import DenoisingDiffusionGAN
from ddgan.nets import build_network

LATENT_MODELS = ("ddpm", "ddgan")


def latent_ddpm_option(option):
    """A Gaussian-diffusion option for the latent denoiser; latents are not bounded to [-1, 1], so
    the x0 estimate is not clipped by default."""
    default = False if option.name in ("clip_x0", "ddim_clip_x0") else option.default
    when = option.when if option.when else ("latent_model", ("ddpm",))
    return dataclasses.replace(option, default=default, when=when)


class LatentDiffusionError(RuntimeError):
    """Sampling from a latent diffusion run whose denoiser has not been trained."""


class LatentGenerator(nn.Module):
    """The sampling network of latent diffusion: latent denoiser + decoder + latent scale."""

    OPTION_FIELDS = {"denoiser": dict(type=dict, help="the latent denoiser's network spec ({arch: ..., ...})"),
                     "decoder": dict(type=dict, help="the decoder's network spec ({arch: ..., ...})")}

    def __init__(self, denoiser, decoder):
        super().__init__()
        self.denoiser = build_network(denoiser)
        self.decoder = build_network(decoder)
        self.register_buffer("latent_scale", torch.zeros(()))     # 0 until stage 2 sets it

    @property
    def latent_shape(self):
        return self.decoder.latent_shape

    def decode(self, z_scaled):
        return self.decoder(z_scaled / self.latent_scale)


class LatentDiffusion(Method):
    title = "Latent diffusion"
    sampling_network = "generator"
    OPTIONS = (
        Option("latent_model", str, "ddpm", choices=LATENT_MODELS, help="the model of the latents"),
        Option("autoencoder_steps", int, min=0, help="training steps of the autoencoder stage"),
        Option("kl_weight", float, 1e-6, min=0, help="weight of the autoencoder's KL term"),
        Option("ddgan", dict, schema=DenoisingDiffusionGAN.OPTIONS, when=("latent_model", ("ddgan",)),
               help="the latent DDGAN's options (those of `ddgan options ddgan`)"),
        *(latent_ddpm_option(option) for option in GAUSSIAN_DIFFUSION_OPTIONS),
    )

    def __init__(self, config, sampling_only=False):
        super().__init__(config, sampling_only)
        self.latent_model = self.options["latent_model"]
        expected = {"encoder", "generator"} | ({"discriminator"} if self.latent_model == "ddgan" else set())
        if not sampling_only and set(self.networks) != expected:
            raise ValueError(f"latent diffusion with latent_model {self.latent_model!r} needs networks "
                             f"{sorted(expected)} (generator: arch latent_generator), got {sorted(self.networks)}")
        self.autoencoder_steps = self.options["autoencoder_steps"]
        self.kl_weight = self.options["kl_weight"]
        if self.latent_model == "ddpm":
            self.diffusion = GaussianDiffusion(training_betas(self.options))
            self.sampling_options()
        else:
            self.latent_gan = self.build_latent_gan(config, sampling_only)

    def build_latent_gan(self, config, sampling_only):
        """A DDGAN on the latents whose generator and discriminator are this method's own modules."""
        generator = self.networks["generator"]
        gan_config = {"method": {"name": "ddgan", **self.options["ddgan"]},
                      "networks": {"generator": config["networks"]["generator"]["denoiser"]},
                      "data": {"shape": list(generator.latent_shape)}}
        gan = DenoisingDiffusionGAN(gan_config, sampling_only=True)
        # its own generator (built from the spec) is replaced by the shared one
        shared = {"generator": generator.denoiser}
        if not sampling_only:
            shared["discriminator"] = self.networks["discriminator"]
        gan.networks = nn.ModuleDict(shared)
        return gan

    def optimizer_groups(self):
        groups = {"autoencoder": ["encoder", "generator.decoder"]}
        if self.latent_model == "ddgan":
            return {**groups, "generator": ["generator.denoiser"], "discriminator": ["discriminator"]}
        return {**groups, "denoiser": ["generator.denoiser"]}

    def sampling_options(self, **overrides):
        if self.latent_model == "ddgan":
            if overrides:
                raise ValueError(f"a latent DDGAN samples with its T steps and takes no options, got {sorted(overrides)}")
            return {}
        return resolve_sampling_options(self.options, overrides)

    # ---------------------------------------------------------------- training
    def training_step(self, x_0, step, update):
        if step < self.autoencoder_steps:
            return self.autoencoder_step(x_0, update)
        return self.denoiser_step(x_0, step, update)

    def autoencoder_step(self, x_0, update):
        loss, _, kl = autoencoder_loss(self.networks["encoder"], self.networks["generator"].decoder, x_0, self.kl_weight)
        update("autoencoder", loss)
        return {"loss_autoencoder": loss.detach(), "kl": kl}

    @torch.no_grad()
    def latents(self, x_0):
        """z ~ q(z | x) from the frozen encoder."""
        return sample_posterior(*self.networks["encoder"](x_0))

    def denoiser_step(self, x_0, step, update):
        generator = self.networks["generator"]
        z = self.latents(x_0)
        if generator.latent_scale == 0:
            generator.latent_scale.copy_(1.0 / latent_std(z))
        if self.latent_model == "ddgan":
            return self.latent_gan.training_step(z * generator.latent_scale, step, update)
        loss = self.diffusion.loss(generator.denoiser, z * generator.latent_scale)
        update("denoiser", loss)
        return {"loss_denoiser": loss.detach()}

    # ---------------------------------------------------------------- sampling
    def can_sample(self, net):
        return bool(net.latent_scale != 0)      # set by the first step of the denoiser stage

    @torch.no_grad()
    def sample(self, n, *, rng=None, net=None, **options):
        generator = self.networks["generator"] if net is None else net
        if not self.can_sample(generator):
            raise LatentDiffusionError("this latent diffusion model has no trained denoiser (training stopped within "
                                       "the autoencoder stage): train beyond method.autoencoder_steps")
        if self.latent_model == "ddgan":
            self.sampling_options(**options)
            return generator.decode(self.latent_gan.sample(n, rng=rng, net=generator.denoiser))
        z_T = self.randn(n, *generator.latent_shape, rng=rng)
        z_0 = self.diffusion.sample(generator.denoiser, z_T, rng=rng, **self.sampling_options(**options))
        return generator.decode(z_0)

    def nfe(self, **options):
        """Latent denoiser evaluations (as LSGM's NFE counts its score model); the single decoder
        pass at the end is not counted."""
        if self.latent_model == "ddgan":
            self.sampling_options(**options)
            return self.latent_gan.nfe()
        resolved = self.sampling_options(**options)
        return len(self.diffusion.timesteps(resolved["steps"], resolved["spacing"]))

    def step_network(self, net):
        return net.denoiser

    def describe(self):
        if self.latent_model == "ddgan":
            return f"Latent DDGAN T={self.latent_gan.num_timesteps}"
        resolved = self.sampling_options()
        sampler = "DDPM" if resolved["sampler"] == "ancestral" else f"DDIM eta={resolved['eta']:g}"
        return f"Latent diffusion ({sampler}, {self.nfe()} steps)"


def latent_std(z):
    """The standard deviation of a batch of latents, pooled over all processes when distributed."""
    moments = torch.stack([z.mean(), (z**2).mean()])
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(moments)
        moments /= dist.get_world_size()
    return (moments[1] - moments[0] ** 2).clamp(min=1e-12).sqrt()
