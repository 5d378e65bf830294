"""A variational autoencoder (Kingma & Welling 2014) as a baseline: one decoder pass per sample (NFE 1).

q(z | x) = N(mu(x), diag sigma^2(x)), p(z) = N(0, I), and a Gaussian likelihood
p(x | z) = N(decoder(z), s^2 I) with one scale s for all dimensions at its maximum-likelihood value
(baselines/autoencoder.py).
The loss is the negative ELBO per data dimension in nats, -(E_q[log p(x | z)] - KL) / D, estimated
with one reparameterised z per example. Optional KL warm-up (Bowman et al. 2016; Sonderby et al.
2016): the KL weight rises linearly from 0 to `kl_weight` over the first `kl_warmup_steps` steps,
which keeps low-dimensional data (the 2D mixture) from settling in the collapsed posterior
q(z | x) = p(z) early on; the logged `loss` is always the full negative ELBO. Samples are the decoder's mean at z ~ N(0, I) (the usual
choice: adding the likelihood's noise only adds pixel noise), hence blurry but smooth images.

Networks: `encoder` (conv_encoder / mlp_encoder) and `decoder` (conv_decoder / mlp_decoder), trained
together by the optimiser "vae"; the decoder is the sampling network (its EMA is the snapshot).
"""
import torch

from baselines.autoencoder import autoencoder_loss
from ddgan.core.methods import Method
from ddgan.base.options import Option


class VAE(Method):
    title = "VAE"
    sampling_network = "decoder"
    OPTIONS = (
        Option("kl_weight", float, 1.0, min=0, help="weight of the KL term (1: the ELBO)"),
        Option("kl_warmup_steps", int, 0, min=0, help="raise the KL weight linearly from 0 over the first N steps"),
    )

    def __init__(self, config, sampling_only=False):
        super().__init__(config, sampling_only)
        if not sampling_only and set(self.networks) != {"encoder", "decoder"}:
            raise ValueError(f"the VAE needs networks 'encoder' and 'decoder', got {sorted(self.networks)}")
        self.kl_weight = self.options["kl_weight"]
        self.kl_warmup_steps = self.options["kl_warmup_steps"]

    def optimizer_groups(self):
        return {"vae": ["encoder", "decoder"]}

    def training_step(self, x_0, step, update):
        warmup = min(1.0, (step + 1) / self.kl_warmup_steps) if self.kl_warmup_steps else 1.0
        loss, reconstruction, kl = autoencoder_loss(self.networks["encoder"], self.networks["decoder"], x_0,
                                                    warmup * self.kl_weight)
        update("vae", loss)
        return {"loss": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}

    @torch.no_grad()
    def sample(self, n, *, rng=None, net=None, z=None):
        decoder = self.networks["decoder"] if net is None else net
        z = self.randn(n, *decoder.latent_shape, rng=rng) if z is None else z
        return decoder(z)

    def nfe(self):
        return 1

    def describe(self):
        return "VAE"
