"""Exponential moving average of a network's weights, used for sampling (paper App. C)."""
import copy

import torch


class EMA:
    """Shadow copy of `net` with p_ema <- decay p_ema + (1 - decay) p after every optimiser step.

    As the official implementation, the average starts from the weights after the first update
    (not from the initialisation), and buffers are copied, not averaged.
    """

    def __init__(self, net, decay):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self.started = False

    @torch.no_grad()
    def update(self, net):
        ema_params = list(self.net.parameters())
        params = [p.detach() for p in net.parameters()]
        if self.started:
            torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        else:
            torch._foreach_copy_(ema_params, params)
            self.started = True
        for ema_buffer, buffer in zip(self.net.buffers(), net.buffers()):
            ema_buffer.copy_(buffer)

    def state_dict(self):
        return {"decay": self.decay, "started": self.started, "net": self.net.state_dict()}

    def load_state_dict(self, state):
        self.decay = state["decay"]
        self.started = state["started"]
        self.net.load_state_dict(state["net"])
