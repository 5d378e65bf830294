"""One optimisation step as every run takes it: the method's training step with one Adam(W) update
per optimiser (gradients averaged over processes, clipped when configured), then the EMA update of
the sampling network. ddgan.core.trainer runs it in its loop; benchmarks.bench times the same object.
"""
import contextlib

import torch
import torch.distributed as dist

from ddgan.core.config import ConfigError
from ddgan.core.ema import EMA
from ddgan.base.options import suggestion


def average_gradients(params, world_size):
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat.div_(world_size)
    for grad, averaged in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
        grad.copy_(averaged)


def build_optimizers(method, optim, fused=True):
    """Optimiser name -> Adam (AdamW when optim.weight_decay is set) over the networks it updates."""
    optimizers = {}
    for name, nets in method.optimizer_groups().items():
        if name not in optim["lr"]:
            raise ConfigError(f"optim.lr has no learning rate for optimiser {name!r} (has {sorted(optim['lr'])})")
        # a name may be dotted to select part of a network (e.g. "generator.decoder")
        params = [p for net in nets for p in method.networks.get_submodule(net).parameters()]
        # Adam as the paper; decoupled weight decay (AdamW) only when a config asks for it
        adam = torch.optim.AdamW if optim["weight_decay"] else torch.optim.Adam
        extra = {"weight_decay": optim["weight_decay"]} if optim["weight_decay"] else {}
        # fused: one kernel for all parameters (several times faster per step on CPU and GPU)
        optimizers[name] = adam(params, lr=optim["lr"][name], betas=tuple(optim["betas"]), fused=fused or None,
                                **extra)
    for name in sorted(set(optim["lr"]) - set(optimizers)):
        raise ConfigError(f"unknown key optim.lr.{name}: {method.describe()} has no optimiser {name!r}; "
                          f"{suggestion(name, list(optimizers), 'optim.lr.')}"
                          f"its optimisers are {', '.join(optimizers)}")
    return optimizers


class Optimisation:
    """A method with its optimisers and the EMA of its sampling network.

    `backward(loss)` and `autocast()` come from the trainer's Accelerator (loss.backward and no
    autocast without one); `world_size` > 1 averages the gradients over the processes of the group.
    """

    def __init__(self, method, optim, *, world_size=1, backward=torch.Tensor.backward,
                 autocast=contextlib.nullcontext, fused=True):
        self.method, self.optim, self.world_size = method, optim, world_size
        self.backward, self.autocast = backward, autocast
        self.optimizers = build_optimizers(method, optim, fused)
        self.ema = EMA(method.networks[method.sampling_network], optim["ema_decay"], optim["ema_warmup"])

    def update(self, name, loss):
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        self.backward(loss)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.world_size > 1:
            average_gradients(params, self.world_size)
        if self.optim["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(params, self.optim["grad_clip"])
        optimizer.step()

    def step(self, x_0, step):
        """One optimisation step on the batch `x_0` at training step `step`; returns the method's logs."""
        with self.autocast():
            logs = self.method.training_step(x_0, step, self.update)
        self.ema.update(self.method.networks[self.method.sampling_network])
        return logs
