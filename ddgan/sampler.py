"""The one sampling loop shared by every discrete-time method (DDGAN, DDPM, DDIM, ...).

A method supplies its reverse step p_theta(x_prev | x, t); the loop walks the given steps from
x_T. One network evaluation per step, so NFE = len(timesteps) for DDGAN.
"""
import torch


@torch.no_grad()
def run_reverse_chain(reverse_step, x_T, timesteps):
    """x_T -> x_0 by x <- reverse_step(x, t) for t in `timesteps` (given from noisiest to cleanest)."""
    x = x_T
    for step in timesteps:
        t = torch.full((len(x),), int(step), dtype=torch.long, device=x.device)
        x = reverse_step(x, t)
    return x
