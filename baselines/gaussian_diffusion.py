"""A discrete-time Gaussian diffusion with an eps-prediction network (Ho et al. 2020), shared by the
DDPM baseline and the denoiser of latent diffusion: the forward process q(x_t | x_0), the training
loss L_simple, and two samplers of the same trained network:
- "ancestral": DDPM's Algorithm 2, p(x_prev | x_t) = q(x_prev | x_t, x0_hat) with a fixed variance
  ("small": the posterior variance beta-tilde, "large": beta), on all T steps or a sub-sequence
  whose betas are recomputed from alpha-bar (respacing, Nichol & Dhariwal 2021);
- "ddim": eq. 12 of the DDIM paper with any eta (baselines/ddim.py).
Both walk a sub-sequence of 0..T-1 (baselines/schedules.py) through the shared reverse-chain loop,
one network evaluation per visited step.
"""
import torch
import torch.nn.functional as F
from torch import nn

from baselines.ddim import ddim_step
from baselines.schedules import ScheduleError, spaced_timesteps
from ddgan.diffusion import batch_view, posterior_coefficients
from ddgan.sampler import run_reverse_chain

SAMPLERS = ("ancestral", "ddim")
VARIANCES = ("small", "large")


class GaussianDiffusion(nn.Module):
    """Buffers `betas` and `alphas_cumprod` (float32, t = 0..T-1); sampling coefficients are
    computed in float64 from the float64 schedule, as DDPM's code does."""

    def __init__(self, betas):
        super().__init__()
        betas = betas.double()
        self.num_timesteps = len(betas)
        self.alphas_cumprod64 = torch.cumprod(1.0 - betas, 0)     # stays on the CPU in float64
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alphas_cumprod", self.alphas_cumprod64.float(), persistent=False)

    def q_sample(self, x_0, t, noise):
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (DDPM eq. 4)."""
        abar = batch_view(self.alphas_cumprod[t], x_0)
        return abar.sqrt() * x_0 + (1.0 - abar).sqrt() * noise

    def loss(self, net, x_0):
        """L_simple = E_{t, x_0, eps} ||eps - eps_theta(x_t, t)||^2 (DDPM eq. 14), mean over dimensions."""
        t = torch.randint(0, self.num_timesteps, (len(x_0),), device=x_0.device)
        noise = torch.randn_like(x_0)
        return F.mse_loss(net(self.q_sample(x_0, t, noise), t), noise)

    def x0_from_eps(self, x_t, t, eps):
        abar = batch_view(self.alphas_cumprod[t], x_t)
        return (x_t - (1.0 - abar).sqrt() * eps) / abar.sqrt()

    def respaced_posterior(self, timesteps, variance="small"):
        """Coefficients of q(x_prev | x_t, x_0) for the chain visiting only `timesteps` (float64).

        Entry i belongs to the step from timesteps[i] to timesteps[i-1] (to the data for i = 0).
        """
        abar = self.alphas_cumprod64[timesteps]
        abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
        betas = 1.0 - abar / abar_prev
        coefficients = posterior_coefficients(betas)
        if variance == "large":
            # sigma^2 = beta; DDPM's code uses the posterior variance for the first step (its log is finite)
            large = torch.cat([coefficients["posterior_variance"][1:2], betas[1:]]) if len(betas) > 1 else betas
            coefficients["posterior_log_variance_clipped"] = torch.log(large)
        return coefficients

    def timesteps(self, steps, spacing):
        return spaced_timesteps(self.num_timesteps, steps, spacing)

    @torch.no_grad()
    def sample(self, net, x_T, *, sampler="ancestral", steps=None, spacing="uniform", eta=0.0, variance="small",
               clip_x0=True, rng=None):
        """x_T -> x_0 with `sampler` over `steps` steps (default: all T)."""
        if sampler not in SAMPLERS:
            raise ScheduleError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if variance not in VARIANCES:
            raise ScheduleError(f"variance must be 'small' (posterior) or 'large' (beta), got {variance!r}")
        if not 0.0 <= eta:
            raise ScheduleError(f"DDIM eta must be >= 0 (0: deterministic, 1: DDPM-like), got {eta!r}")
        timesteps = self.timesteps(steps or self.num_timesteps, spacing)
        position = {int(t): i for i, t in enumerate(timesteps)}

        def randn(like):
            return torch.randn(like.shape, generator=rng, device=like.device, dtype=like.dtype)

        if sampler == "ancestral":
            coefficients = {k: v.to(x_T.device, torch.float32)
                            for k, v in self.respaced_posterior(timesteps, variance).items()}

            def reverse_step(x_t, t):
                i = position[int(t[0])]
                x0_hat = self.x0_from_eps(x_t, t, net(x_t, t))
                if clip_x0:
                    x0_hat = x0_hat.clamp(-1.0, 1.0)
                mean = coefficients["posterior_mean_coef1"][i] * x0_hat + coefficients["posterior_mean_coef2"][i] * x_t
                if i == 0:
                    return mean
                return mean + torch.exp(0.5 * coefficients["posterior_log_variance_clipped"][i]) * randn(x_t)
        else:
            abar = self.alphas_cumprod64[timesteps]
            abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
            abar, abar_prev = abar.to(x_T.device, torch.float32), abar_prev.to(x_T.device, torch.float32)

            def reverse_step(x_t, t):
                i = position[int(t[0])]
                eps = net(x_t, t)
                noise = randn(x_t) if eta > 0 else None
                return ddim_step(x_t, eps, abar[i], abar_prev[i], eta, noise, clip_x0)

        return run_reverse_chain(reverse_step, x_T, timesteps.flip(0).tolist())


SAMPLING_OPTIONS = ("sampler", "steps", "spacing", "eta", "variance", "clip_x0")


def resolve_sampling_options(method_options, overrides):
    """Sampling options for GaussianDiffusion.sample: explicit `overrides` (keyword arguments of a
    method's `sample`) over the run config's method section.

    Config keys: sampler ("ancestral"), sample_steps (T), spacing ("uniform"), eta (0, DDIM only),
    variance ("small", ancestral only), clip_x0 (True: DDPM's code clips x0_hat in ancestral
    sampling) and ddim_clip_x0 (False: the DDIM code does not clip).
    """
    unknown = sorted(set(overrides) - set(SAMPLING_OPTIONS))
    if unknown:
        raise ScheduleError(f"unknown sampling option(s) {unknown}; options are {', '.join(SAMPLING_OPTIONS)}")
    sampler = overrides.get("sampler") or method_options.get("sampler", "ancestral")
    if sampler not in SAMPLERS:
        raise ScheduleError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    clip_default = method_options.get("clip_x0", True) if sampler == "ancestral" else method_options.get("ddim_clip_x0", False)
    resolved = {
        "sampler": sampler,
        "steps": overrides.get("steps") or method_options.get("sample_steps") or method_options["num_timesteps"],
        "spacing": overrides.get("spacing") or method_options.get("spacing", "uniform"),
        "clip_x0": clip_default if overrides.get("clip_x0") is None else overrides["clip_x0"],
    }
    if sampler == "ddim":
        if overrides.get("variance") is not None:
            raise ScheduleError("`variance` applies to sampler='ancestral'; DDIM's noise is set by `eta`")
        resolved["eta"] = float(method_options.get("eta", 0.0) if overrides.get("eta") is None else overrides["eta"])
    else:
        if overrides.get("eta") is not None:
            raise ScheduleError("`eta` applies to sampler='ddim'; pass sampler='ddim' (eta = 1 is DDPM-like)")
        resolved["variance"] = overrides.get("variance") or method_options.get("variance", "small")
    return resolved
