"""Denoising Diffusion GAN (paper Sec. 3-4): the adversarial training step and the reverse step.

Parametrisations of the generator (Table 2 of the paper):
- "x0" (default): G(x_{t+1}, t, z) predicts x_0; x_t ~ q(x_t | x_{t+1}, x_0') (eq. 8-9).
- "direct": G outputs x_t itself (the "direct denoising" ablation).
- "eps": G outputs the noise eps; x_0' = (x_{t+1} - sqrt(1 - abar) eps) / sqrt(abar), then posterior.
- "oneshot": a one-step GAN, G(x_T, T-1, z) -> x_0, whose real and fake samples are both diffused
  into pairs for a t-conditioned D (the "diffusion as data augmentation" ablation); NFE = 1.
`use_latent: false` feeds z = 0 (the "without latent variable z" ablation).
`diversity_weight` > 0 adds a mode-seeking term to the generator loss (a departure, off by default):
lambda / (mean|G(x, z1) - G(x, z2)| / mean|z1 - z2| + 1e-5), as MSGAN (Mao et al. 2019), for a generator
that learns to ignore z.
"""
import torch

from ddgan.core.methods import Method, requires_grad
from ddgan.core.options import ConfigError, Option
from ddgan.core.sampler import run_reverse_chain
from ddgan.diffusion import VARIANCE_SCHEDULES, DDGANDiffusion
from ddgan.losses import discriminator_loss, generator_loss, r1_penalty, r1_weight

PARAMETRISATIONS = ("x0", "direct", "eps", "oneshot")


class DenoisingDiffusionGAN(Method):
    title = "Denoising Diffusion GAN"
    sampling_network = "generator"
    # defaults as the official train_ddgan.py's arguments
    OPTIONS = (
        Option("num_timesteps", int, 4, min=1, help="T, the number of denoising steps"),
        Option("schedule", str, "vp", choices=tuple(VARIANCE_SCHEDULES), help="the variance schedule (paper App. B)"),
        Option("beta_min", float, 0.1, above=0, help="the schedule's beta_min"),
        Option("beta_max", float, 20.0, above=0, help="the schedule's beta_max"),
        Option("nz", int, 100, min=1, help="dimension of the generator's latent z"),
        Option("r1_gamma", float, 0.05, min=0, help="weight of the R1 gradient penalty on real pairs"),
        Option("lazy_reg", int, None, min=1, allow_none=True,
               help="apply R1 every lazy_reg discriminator steps (null: every step)"),
        Option("r1_rescale", bool, False,
               help="multiply a lazy R1 by lazy_reg (StyleGAN2); the official code does not"),
        Option("parametrisation", str, "x0", choices=PARAMETRISATIONS,
               help="what G outputs: x0 (paper), direct x_t, eps, or oneshot (a one-step GAN)"),
        Option("use_latent", bool, True, help="false feeds z = 0 (the 'without latent variable' ablation)"),
        Option("diversity_weight", float, 0.0, min=0,
               help="weight of a mode-seeking term on G's outputs for two z (0: the paper, none)"),
    )

    def __init__(self, config, sampling_only=False):
        super().__init__(config, sampling_only)
        options = self.options
        self.parametrisation = options["parametrisation"]
        if not sampling_only and set(self.networks) != {"generator", "discriminator"}:
            raise ValueError(f"DDGAN needs networks 'generator' and 'discriminator', got {sorted(self.networks)}")
        self.diffusion = DDGANDiffusion(options["num_timesteps"], options["schedule"], options["beta_min"],
                                        options["beta_max"])
        self.nz = options["nz"]
        self.use_latent = options["use_latent"]
        self.r1_gamma = options["r1_gamma"]
        self.lazy_reg = options["lazy_reg"]
        self.r1_rescale = options["r1_rescale"]
        self.diversity_weight = options["diversity_weight"]
        if self.diversity_weight and (not self.use_latent or self.parametrisation == "oneshot"):
            raise ConfigError("method.diversity_weight needs a latent z and a reverse step: set use_latent true "
                              "and a parametrisation other than oneshot, or diversity_weight 0")

    @property
    def num_timesteps(self):
        return self.diffusion.num_timesteps

    def latent(self, n, rng=None):
        if not self.use_latent:
            return torch.zeros(n, self.nz, device=self.device())
        return self.randn(n, self.nz, rng=rng)

    def generated_x_t(self, G, x_tp1, t, z, noise=None):
        """The generator's x_t given x_{t+1}: one reverse step p_theta(x_t | x_{t+1}) (eq. 9)."""
        return self.reverse_step_from_output(G(x_tp1, t, z), x_tp1, t, noise)

    def reverse_step_from_output(self, out, x_tp1, t, noise=None):
        """x_t from the generator's output for x_{t+1}, by the parametrisation."""
        if self.parametrisation == "direct":
            return out
        x_0 = self.diffusion.x0_from_eps(x_tp1, t, out) if self.parametrisation == "eps" else out
        if noise is None:
            noise = self.draws.randn_like(x_tp1)
        return self.diffusion.posterior_sample(x_0, x_tp1, t, noise)

    def one_shot(self, G, x_T, rng=None):
        """The one-step generator of the "oneshot" ablation: x_0 = G(x_T, T-1, z)."""
        start = torch.full((len(x_T),), self.num_timesteps - 1, device=x_T.device, dtype=torch.long)
        return G(x_T, start, self.latent(len(x_T), rng))

    def fake_pair(self, G, x_0, t, x_tp1=None):
        """A generated pair (x_t', x_{t+1}) for steps t; x_{t+1} is diffused from the real x_0
        unless given (the D step scores real and fake x_t against the same x_{t+1})."""
        if self.parametrisation == "oneshot":
            return self.diffusion.q_sample_pairs(self.one_shot(G, self.draws.randn_like(x_0)), t, self.draws.randn_like)
        if x_tp1 is None:
            _, x_tp1 = self.diffusion.q_sample_pairs(x_0, t, self.draws.randn_like)
        return self.generated_x_t(G, x_tp1, t, self.latent(len(x_0))), x_tp1

    def fake_pair_and_diversity(self, G, x_0, t):
        """fake_pair, and how far G's outputs for the first half of the pairs move with a second z: one
        generator pass over n + n/2 inputs, mean|G(x, z1) - G(x, z2)| / mean|z1 - z2|."""
        _, x_tp1 = self.diffusion.q_sample_pairs(x_0, t, self.draws.randn_like)
        n, half = len(x_0), max(len(x_0) // 2, 1)
        z, z_other = self.latent(n), self.latent(half)
        out = G(torch.cat([x_tp1, x_tp1[:half]]), torch.cat([t, t[:half]]), torch.cat([z, z_other]))
        out, out_other = out[:n], out[n:]
        diversity = (out[:half] - out_other).abs().mean() / (z[:half] - z_other).abs().mean()
        return self.reverse_step_from_output(out, x_tp1, t), x_tp1, diversity

    def training_step(self, x_0, step, update):
        G, D = self.networks["generator"], self.networks["discriminator"]
        n = len(x_0)

        # Discriminator: real pairs vs generated pairs, R1 on real pairs every lazy_reg steps.
        requires_grad(D, True)
        t = self.draws.randint(self.num_timesteps, (n,), x_0.device)
        x_t, x_tp1 = self.diffusion.q_sample_pairs(x_0, t, self.draws.randn_like)
        r1_scale = r1_weight(step, self.lazy_reg, self.r1_rescale)
        x_t.requires_grad_(r1_scale > 0)
        logits_real = D(x_t, t, x_tp1)
        with torch.no_grad():
            fake_t, fake_tp1 = self.fake_pair(G, x_0, t, x_tp1)
        loss_real, loss_fake = discriminator_loss(logits_real, D(fake_t, t, fake_tp1))
        loss_d = loss_real + loss_fake
        logs = {"loss_d_real": loss_real.detach(), "loss_d_fake": loss_fake.detach()}
        if r1_scale:
            r1 = r1_penalty(logits_real, x_t, self.r1_gamma)
            loss_d = loss_d + r1_scale * r1
            logs["r1"] = r1.detach()
        update("discriminator", loss_d)

        # Generator: a fresh t and pair, D frozen.
        requires_grad(D, False)
        t = self.draws.randint(self.num_timesteps, (n,), x_0.device)
        if self.diversity_weight:
            fake_t, fake_tp1, diversity = self.fake_pair_and_diversity(G, x_0, t)
            loss_g = generator_loss(D(fake_t, t, fake_tp1))
            logs["diversity"] = diversity.detach()
            loss_g_total = loss_g + self.diversity_weight / (diversity + 1e-5)
        else:
            fake_t, fake_tp1 = self.fake_pair(G, x_0, t)
            loss_g = loss_g_total = generator_loss(D(fake_t, t, fake_tp1))
        update("generator", loss_g_total)
        requires_grad(D, True)
        logs["loss_g"] = loss_g.detach()
        return logs

    @torch.no_grad()
    def sample(self, n, *, rng=None, net=None, x_T=None):
        G = self.networks["generator"] if net is None else net
        if x_T is None:
            x_T = self.randn(n, *self.data_shape, rng=rng)
        if self.parametrisation == "oneshot":
            return self.one_shot(G, x_T, rng)

        def reverse_step(x_tp1, t):
            return self.generated_x_t(G, x_tp1, t, self.latent(n, rng), self.randn(*x_tp1.shape, rng=rng))

        return run_reverse_chain(reverse_step, x_T, reversed(range(self.num_timesteps)))

    def nfe(self):
        return 1 if self.parametrisation == "oneshot" else self.num_timesteps

    def describe(self):
        name = "DDGAN" if self.parametrisation == "x0" else f"DDGAN ({self.parametrisation})"
        if not self.use_latent:
            name += " no z"
        return f"{name} T={self.num_timesteps}"
