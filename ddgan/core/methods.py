"""The interface every method implements, and the registry that builds one from a run config.

A method is a small object that knows its networks, its loss (one training step) and its reverse
process (sampling). The trainer (ddgan.core.trainer) and the evaluation code only talk to this
interface, so DDGAN and every baseline share one training loop and one sampler entry point.
"""
import abc

import torch
from torch import nn

from ddgan.base import registry
from ddgan.core.draws import GLOBAL_DRAWS
from ddgan.base.options import check_section
from ddgan.nets import build_network


class Method(nn.Module, abc.ABC):
    """Base class. Subclasses set `sampling_network`, `title` and `OPTIONS` and implement `training_step` and
    `sample`.

    title: the method's name in result tables, whatever its options (e.g. "VAE"; `describe()` adds them).

    OPTIONS: the keys of the config's method section (ddgan.base.options.Option, listed by `ddgan options NAME`);
    `self.options` holds their values with the defaults filled in.
    networks: nn.ModuleDict built from config["networks"]; the trainer keeps an EMA copy of
    networks[sampling_network] and passes that copy to `sample` for evaluation.
    """

    sampling_network = None
    title = None
    OPTIONS = ()
    draws = GLOBAL_DRAWS      # a step's random numbers (ddgan.core.draws; a test may replay recorded ones)

    def __init__(self, config, sampling_only=False):
        super().__init__()
        self.config = config
        self.options = check_section(self.OPTIONS, config["method"], "method.", extra=("name",))
        self.data_shape = tuple(config["data"]["shape"])
        specs = config["networks"]
        if sampling_only:     # evaluation needs only the network that generates
            specs = {self.sampling_network: specs[self.sampling_network]}
        self.networks = nn.ModuleDict({name: build_network(spec) for name, spec in specs.items()})

    def optimizer_groups(self):
        """Optimiser name -> names of the networks it updates (default: one optimiser per network)."""
        return {name: [name] for name in self.networks}

    @abc.abstractmethod
    def training_step(self, x_0, step, update):
        """One training iteration on a batch of data `x_0` in [-1, 1].

        `update(optimizer_name, loss)` backpropagates `loss`, averages gradients over processes and
        steps that optimiser. Returns a dict of scalar tensors to log.
        """

    @abc.abstractmethod
    def sample(self, n, *, rng=None, net=None, **options):
        """n samples in the data space ([-1, 1]); `net` defaults to the live sampling network."""

    @abc.abstractmethod
    def nfe(self, **options):
        """Network function evaluations per sample for the given sampling options."""

    def step_network(self, net):
        """The part of the sampling network evaluated once per sampling step (what NFE counts)."""
        return net

    def can_sample(self, net):
        """Whether `net` can generate yet (a two-stage method cannot during its first stage)."""
        return True

    def describe(self):
        """A short name for tables, e.g. 'DDGAN T=4'."""
        return self.config["method"]["name"]

    # helpers shared by methods
    def device(self):
        return next(self.parameters()).device

    def randn(self, *shape, rng=None):
        return self.draws.randn(*shape, generator=rng, device=self.device())


def method_class(name):
    """The Method subclass registered as `name` (ddgan/base/registry.py)."""
    if name not in registry.METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(sorted(registry.METHODS.names()))}")
    return registry.METHODS.get(name)


def build_method(config, sampling_only=False):
    return method_class(config["method"]["name"])(config, sampling_only=sampling_only)


def requires_grad(net, flag):
    for p in net.parameters():
        p.requires_grad_(flag)
