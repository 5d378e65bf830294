"""Denoising Diffusion GAN (Xiao, Kreis, Vahdat, ICLR 2022), in one module next to the paper's equations:

1. the forward process: T large Gaussian steps on the VP (or geometric) schedule (Sec. 3, App. B), and the
   training pairs (x_t, x_{t+1}) drawn from it;
2. the adversarial losses of eq. 4-5, non-saturating, and the R1 penalty on real pairs, lazily applied;
3. the reverse step of eq. 8-9: G(x_{t+1}, t, z) predicts x_0, and x_t is drawn from the posterior
   q(x_t | x_{t+1}, x_0);
4. the method: one training step (D on real and generated pairs, then G on a fresh pair) and the reverse
   chain x_T -> x_0 in T generator evaluations.
The Gaussian math that the diffusion baselines share (posterior coefficients, q(x_t | x_0)) is written once,
in ddgan/core/gaussian.py. tests/ddgan/test_official_training_parity.py replays the official training loop
through this module and agrees with it to 1e-15 in float64.

Indices follow the package's convention (ddgan/core/gaussian.py): a training pair is (x_t, x_{t+1}) with
t in {0, ..., T-1} naming the less noisy member. The generator sees x_{t+1} and t, the discriminator
scores (x_t, t, x_{t+1}), and sampling walks t = T-1, ..., 0 through q(x_t | x_{t+1}, x_0).

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
import torch.nn.functional as F
from torch import nn

from ddgan.core.gaussian import batch_view, diffuse, posterior_coefficients, posterior_mean, posterior_std, x0_from_eps
from ddgan.core.methods import Method, requires_grad
from ddgan.base.options import ConfigError, Option
from ddgan.core.sampler import run_reverse_chain


# ---------------------------------------------------------------------------------------------
# 1. The forward process (Sec. 3, App. B). Coefficients are computed exactly as the official
# implementation does (float64 time grid, float32 from the betas on), so they match its numbers.

EPS_SMALL = 1e-3      # the time grid starts at t = 1e-3, not 0
FIRST_BETA = 1e-8     # a near-zero step is prepended so that index 0 means "data"


def time_grid(num_timesteps):
    """t_k = k/T (1 - 1e-3) + 1e-3 for k = 0..T (float64)."""
    k = torch.arange(num_timesteps + 1, dtype=torch.float64)
    return k / num_timesteps * (1.0 - EPS_SMALL) + EPS_SMALL


def vp_variance(t, beta_min, beta_max):
    """VP-SDE marginal variance: 1 - exp(-1/2 t^2 (beta_max - beta_min) - t beta_min)."""
    log_mean_coeff = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min
    return 1.0 - torch.exp(2.0 * log_mean_coeff)


def geometric_variance(t, beta_min, beta_max):
    """Geometric variance schedule: beta_min (beta_max / beta_min)^t."""
    return beta_min * (beta_max / beta_min) ** t


VARIANCE_SCHEDULES = {"vp": vp_variance, "geometric": geometric_variance}


def ddgan_betas(num_timesteps, schedule="vp", beta_min=0.1, beta_max=20.0):
    """Per-step betas for k = 0..T (float32); entry 0 is the prepended 1e-8.

    beta_k = 1 - abar(t_k) / abar(t_{k-1}) with abar = 1 - var(t).
    """
    if int(num_timesteps) != num_timesteps or num_timesteps < 1:
        raise ValueError(f"num_timesteps must be an integer >= 1, got {num_timesteps!r}")
    if schedule not in VARIANCE_SCHEDULES:
        raise ValueError(f"unknown variance schedule {schedule!r}; choose one of {sorted(VARIANCE_SCHEDULES)}")
    var = VARIANCE_SCHEDULES[schedule](time_grid(num_timesteps), beta_min, beta_max)
    alpha_bars = 1.0 - var
    betas = 1.0 - alpha_bars[1:] / alpha_bars[:-1]
    return torch.cat([torch.tensor([FIRST_BETA], dtype=torch.float64), betas]).float()


def per_sample(coefficients, t, like):
    """coefficients[t] shaped to broadcast against a batch `like`."""
    return batch_view(coefficients[t], like)


class DDGANDiffusion(nn.Module):
    """The T-step forward process q and the posterior used for sampling.

    Buffers (index k = 0..T): `sigmas`, `a_s` (one step x_{k-1} -> x_k), `a_s_cum`, `sigmas_cum`
    (q(x_k | x_0)). Posterior buffers (index t = 0..T-1, from betas[1:]).
    """

    def __init__(self, num_timesteps, schedule="vp", beta_min=0.1, beta_max=20.0):
        super().__init__()
        self.num_timesteps = int(num_timesteps)
        self.schedule = schedule
        betas = ddgan_betas(num_timesteps, schedule, beta_min, beta_max)
        a_s = torch.sqrt(1.0 - betas)
        a_s_cum = torch.cumprod(a_s, 0)
        buffers = {
            "betas": betas[1:],
            "sigmas": betas**0.5,
            "a_s": a_s,
            "a_s_cum": a_s_cum,
            "sigmas_cum": torch.sqrt(1.0 - a_s_cum**2),
            **posterior_coefficients(betas[1:]),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)

    def q_sample(self, x_0, t, noise=None):
        """x_t ~ q(x_t | x_0) = N(a_s_cum[t] x_0, sigmas_cum[t]^2 I)."""
        if noise is None:
            noise = torch.randn_like(x_0)
        return diffuse(x_0, per_sample(self.a_s_cum, t, x_0), per_sample(self.sigmas_cum, t, x_0), noise)

    def q_sample_pairs(self, x_0, t, randn_like=torch.randn_like):
        """A training pair (x_t, x_{t+1}): x_t ~ q(x_t | x_0), then one forward step q(x_{t+1} | x_t) (eq. 1)
        to x_{t+1}. As the official code, the noise of the forward step is drawn before that of x_t."""
        noise = randn_like(x_0)
        x_t = self.q_sample(x_0, t, randn_like(x_0))
        x_tp1 = diffuse(x_t, per_sample(self.a_s, t + 1, x_0), per_sample(self.sigmas, t + 1, x_0), noise)
        return x_t, x_tp1

    def posterior_mean(self, x_0, x_tp1, t):
        return posterior_mean(per_sample(self.posterior_mean_coef1, t, x_tp1),
                              per_sample(self.posterior_mean_coef2, t, x_tp1), x_0, x_tp1)

    def posterior_sample(self, x_0, x_tp1, t, noise=None):
        """x_t ~ q(x_t | x_{t+1}, x_0) (eq. 9 with x_0 = G's prediction); no noise is added into the data
        step (t = 0)."""
        if noise is None:
            noise = torch.randn_like(x_tp1)
        std = posterior_std(per_sample(self.posterior_log_variance_clipped, t, x_tp1))
        nonzero = batch_view((t != 0).to(x_tp1.dtype), x_tp1)
        return self.posterior_mean(x_0, x_tp1, t) + nonzero * std * noise

    def x0_from_eps(self, x_tp1, t, eps):
        """x_0 from the noise eps in x_{t+1} (the posterior chain's abar[t])."""
        return x0_from_eps(x_tp1, per_sample(self.alphas_cumprod, t, x_tp1), eps)


# ---------------------------------------------------------------------------------------------
# 2. The adversarial losses (eq. 4-5) and R1. D(x_t, t, x_{t+1}) returns logits; D maximises
# log D(real) + log(1 - D(fake)), G maximises log D(fake). With logits, -log sigmoid(l) = softplus(-l)
# and -log(1 - sigmoid(l)) = softplus(l).

def _full_precision(logits):
    """Logits in at least float32: under bf16 autocast D's head returns bf16, whose 8-bit mantissa would
    round the losses (and their gradients) to about 3 digits; float64 stays float64."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def discriminator_loss(logits_real, logits_fake):
    """D's loss (eq. 4): (-log D(real pair), -log(1 - D(generated pair))), each a batch mean; D minimises
    their sum."""
    return F.softplus(-_full_precision(logits_real)).mean(), F.softplus(_full_precision(logits_fake)).mean()


def generator_loss(logits_fake):
    """G's non-saturating loss (eq. 5): -log D(x_t', t, x_{t+1}) for generated x_t'."""
    return F.softplus(-_full_precision(logits_fake)).mean()


def r1_penalty(logits_real, x_real, gamma):
    """R1 = gamma/2 E ||grad_{x_t} D(x_t, t, x_{t+1})||^2 on real pairs (Mescheder et al. 2018).

    `x_real` must require grad and be the input `logits_real` was computed from. The graph is kept
    (create_graph) so the penalty can be differentiated w.r.t. D's parameters.
    """
    (grad,) = torch.autograd.grad(logits_real.sum(), x_real, create_graph=True)
    return gamma / 2 * grad.flatten(1).pow(2).sum(1).mean()


def r1_weight(step, lazy_reg, rescale=False):
    """Multiplier of R1 at `step`: lazy R1 is applied every `lazy_reg` steps.

    The official code applies it unscaled (weight 1 on those steps); `rescale=True` multiplies by
    the interval instead, as StyleGAN2's lazy regularisation does, keeping the average strength.
    """
    if not lazy_reg:
        return 1.0
    if step % lazy_reg:
        return 0.0
    return float(lazy_reg) if rescale else 1.0


# ---------------------------------------------------------------------------------------------
# 3-4. The reverse step (eq. 8-9) and the method: training step and reverse chain.

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
        """The generator's x_t given x_{t+1}: one reverse step p_theta(x_t | x_{t+1}) = q(x_t | x_{t+1},
        x_0 = G(x_{t+1}, z, t)) with z ~ N(0, I) (eq. 8-9)."""
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
