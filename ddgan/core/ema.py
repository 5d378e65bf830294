"""Exponential moving average of a network's weights, used for sampling (paper App. C)."""
import copy

import torch

# the warm-up's decay after n updates, 1 - (1 + n)^-power (diffusers' EMA warm-up with inv_gamma 1): 0.90
# after 20 updates, 0.99 after 460, 0.999 after 10,000, so short runs sample from recent weights
EMA_WARMUP_POWER = 0.75


class EMA:
    """Shadow copy of `net` with p_ema <- decay p_ema + (1 - decay) p after every optimiser step.

    As the official implementation, the average starts from the weights after the first update
    (not from the initialisation), and buffers are copied, not averaged. With `warmup`, the decay
    after n updates is min(decay, 1 - (1 + n)^-EMA_WARMUP_POWER) (a departure, for short runs: the
    official 0.9999 would still weigh the first steps' weights after thousands of steps).
    """

    def __init__(self, net, decay, warmup=False):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self.updates = 0

    @property
    def started(self):
        return self.updates > 0

    def decay_at(self, updates):
        """The decay applied by update number `updates` (1, 2, ...)."""
        if not self.warmup:
            return self.decay
        return min(self.decay, 1.0 - (1.0 + updates) ** -EMA_WARMUP_POWER)

    @torch.no_grad()
    def update(self, net):
        ema_params = list(self.net.parameters())
        params = [p.detach() for p in net.parameters()]
        if self.started:
            torch._foreach_lerp_(ema_params, params, 1.0 - self.decay_at(self.updates + 1))
        else:
            torch._foreach_copy_(ema_params, params)
        self.updates += 1
        for ema_buffer, buffer in zip(self.net.buffers(), net.buffers()):
            ema_buffer.copy_(buffer)

    def state_dict(self):
        return {"decay": self.decay, "warmup": self.warmup, "updates": self.updates, "net": self.net.state_dict()}

    def load_state_dict(self, state):
        self.decay = state["decay"]
        self.warmup = state.get("warmup", False)          # states written before the warm-up existed
        # those recorded only whether the average had started; the count matters only with a warm-up
        self.updates = state["updates"] if "updates" in state else int(state["started"])
        self.net.load_state_dict(state["net"])
