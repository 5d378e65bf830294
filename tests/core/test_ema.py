"""The EMA of the sampling network: the official average, and the optional warm-up for short runs."""
import torch
from torch import nn

from ddgan.core.ema import EMA


def weights_after(updates, warmup, decay=0.999):
    """The EMA weight of a one-parameter network that takes the values 1, 2, ..., updates."""
    net = nn.Linear(1, 1, bias=False)
    ema = EMA(net, decay, warmup=warmup)
    for value in range(1, updates + 1):
        net.weight.data.fill_(value)
        ema.update(net)
    return ema.net.weight.item(), ema


def test_the_official_ema_starts_from_the_first_update_and_then_averages_at_its_decay():
    value, _ = weights_after(2, warmup=False, decay=0.9)
    assert value == torch.tensor(0.9 * 1 + 0.1 * 2).item()


def test_the_warm_up_follows_recent_weights_early_and_reaches_the_decay_later():
    _, ema = weights_after(1, warmup=True)
    assert [round(ema.decay_at(n), 4) for n in (1, 20, 460, 10_000, 100_000)] == [0.4054, 0.8981, 0.9899, 0.999, 0.999]
    # after 20 updates the warmed-up average sits near the last weights; the plain 0.999 one near the first
    warm, _ = weights_after(20, warmup=True)
    cold, _ = weights_after(20, warmup=False)
    assert 12 < warm < 20 and cold < 1.2


def test_an_ema_state_round_trips_its_count_and_an_old_state_still_loads():
    _, ema = weights_after(5, warmup=True)
    restored = EMA(nn.Linear(1, 1, bias=False), 0.5)
    restored.load_state_dict(ema.state_dict())
    assert (restored.updates, restored.warmup, restored.decay) == (5, True, 0.999)
    old = {"decay": 0.9, "started": True, "net": ema.net.state_dict()}      # written before the warm-up existed
    restored.load_state_dict(old)
    assert (restored.updates, restored.warmup, restored.started) == (1, False, True)
