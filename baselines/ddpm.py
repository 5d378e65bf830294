"""DDPM (Ho et al. 2020): an eps-prediction denoiser trained with L_simple; sampled ancestrally
(DDPM) or with DDIM (Song et al. 2021) from the same trained network.

The same class serves two roles in the comparison:
- the DDPM baseline: linear betas 1e-4..0.02 over T = 1000 steps (`schedule: "linear"`);
- a Gaussian denoiser on DDGAN's own T-step schedule (`schedule: "ddgan_vp"`): the same large
  steps as DDGAN, but the reverse step is the Gaussian q(x_{t-1} | x_t, x0_hat), which is what the
  paper argues cannot model the multimodal denoising distribution of large steps.

Sampling (keyword options of `sample` and `nfe`; defaults from the config's method section):
    method.sample(n, rng=g, net=ema)                                   # DDPM, all T steps
    method.sample(n, rng=g, net=ema, steps=100)                        # DDPM respaced to 100 steps
    method.sample(n, rng=g, net=ema, sampler="ddim", steps=50, eta=0)  # DDIM, 50 steps
    method.sample(..., spacing="quadratic")                            # the DDIM paper's CIFAR-10 choice
"""
import torch

from baselines.gaussian_diffusion import GaussianDiffusion, resolve_sampling_options
from baselines.schedules import training_betas
from ddgan.methods import Method


class DDPM(Method):
    sampling_network = "denoiser"

    def __init__(self, config, sampling_only=False):
        super().__init__(config, sampling_only)
        self.options = config["method"]
        self.num_timesteps = self.options["num_timesteps"]
        self.diffusion = GaussianDiffusion(training_betas(self.options))
        self.sampling_options()          # a bad default in the config fails here, not after training

    def sampling_options(self, **overrides):
        return resolve_sampling_options(self.options, overrides)

    def training_step(self, x_0, step, update):
        loss = self.diffusion.loss(self.networks["denoiser"], x_0)
        update("denoiser", loss)
        return {"loss": loss.detach()}

    @torch.no_grad()
    def sample(self, n, *, rng=None, net=None, x_T=None, **options):
        net = self.networks["denoiser"] if net is None else net
        x_T = self.randn(n, *self.data_shape, rng=rng) if x_T is None else x_T
        return self.diffusion.sample(net, x_T, rng=rng, **self.sampling_options(**options))

    def nfe(self, **options):
        resolved = self.sampling_options(**options)
        return len(self.diffusion.timesteps(resolved["steps"], resolved["spacing"]))

    def describe(self):
        schedule = self.options.get("schedule", "linear")
        name = "Gaussian denoiser" if schedule == "ddgan_vp" else "DDPM"
        resolved = self.sampling_options()
        sampler = "" if resolved["sampler"] == "ancestral" else f" DDIM eta={resolved['eta']:g}"
        return f"{name} T={self.num_timesteps},{sampler} {self.nfe()} steps"
