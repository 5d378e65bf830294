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

from baselines.gaussian_diffusion import SAMPLERS, VARIANCES, GaussianDiffusion, resolve_sampling_options
from baselines.schedules import LINEAR_BETAS, SPACINGS, training_betas
from ddgan.core.methods import Method
from ddgan.base.options import Option

# The options of a discrete-time Gaussian diffusion: its schedule, and the defaults of its samplers
# (overridable per call of `sample`). Latent diffusion's denoiser takes the same.
GAUSSIAN_DIFFUSION_OPTIONS = (
    Option("num_timesteps", int, 1000, min=1, help="T, the number of diffusion steps"),
    Option("schedule", str, "linear", choices=("linear", "ddgan_vp"),
           help="linear betas (DDPM) or DDGAN's T-step variance-preserving schedule"),
    Option("beta_start", float, LINEAR_BETAS[0], above=0, below=1, when=("schedule", ("linear",)),
           help="the first beta"),
    Option("beta_end", float, LINEAR_BETAS[1], above=0, below=1, when=("schedule", ("linear",)), help="the last beta"),
    Option("beta_min", float, 0.1, above=0, when=("schedule", ("ddgan_vp",)), help="DDGAN's beta_min"),
    Option("beta_max", float, 20.0, above=0, when=("schedule", ("ddgan_vp",)), help="DDGAN's beta_max"),
    # checked by resolve_sampling_options when the method is built, as a sampler asked for at sampling time
    Option("sampler", str, "ancestral", help=f"the default sampler: {' or '.join(SAMPLERS)}"),
    Option("sample_steps", int, None, min=1, allow_none=True, help="default sampling steps (null: all T)"),
    Option("spacing", str, "uniform", choices=SPACINGS, help="which steps a shorter sampler visits"),
    Option("eta", float, 0.0, min=0, help="DDIM's default eta (0: deterministic)"),
    Option("variance", str, "small", choices=VARIANCES,
           help="ancestral variance: small (posterior) or large (beta)"),
    Option("clip_x0", bool, True, help="clip the x0 estimate to [-1, 1] in ancestral sampling (DDPM's code)"),
    Option("ddim_clip_x0", bool, False, help="clip the x0 estimate in DDIM sampling (the DDIM code does not)"),
)


class DDPM(Method):
    title = "DDPM"
    sampling_network = "denoiser"
    OPTIONS = GAUSSIAN_DIFFUSION_OPTIONS

    def __init__(self, config, sampling_only=False):
        super().__init__(config, sampling_only)
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
        schedule = self.options["schedule"]
        name = "Gaussian denoiser" if schedule == "ddgan_vp" else "DDPM"
        resolved = self.sampling_options()
        sampler = "" if resolved["sampler"] == "ancestral" else f" DDIM eta={resolved['eta']:g}"
        return f"{name} T={self.num_timesteps},{sampler} {self.nfe()} steps"
