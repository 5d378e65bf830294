"""What `ddgan presets` shows of each preset besides its method and dataset: resolution, parameters and
the hardware it is meant for.

Counting parameters builds the networks (torch, and seconds for the paper's). The counts are kept in
preset_cards.json, written by `python -m ddgan.preset_cards` and checked against the presets by
tests/ddgan/test_small_presets.py, so that `ddgan presets` answers without importing torch.
"""
import json
import sys
from pathlib import Path

CARDS_FILE = Path(__file__).with_name("preset_cards.json")
# a preset with at most this many parameters in all and images of at most CPU_PIXELS a side is meant for a CPU
CPU_PARAMETERS = 5_000_000
CPU_PIXELS = 64


def count_parameters(config):
    """Network name -> parameter count, built on the meta device (no memory, no initialisation cost)."""
    import torch

    from ddgan.core.config import validate
    from ddgan.core.methods import build_method
    with torch.device("meta"):
        method = build_method(validate(config))
    return {name: sum(p.numel() for p in net.parameters()) for name, net in method.networks.items()}


def hardware(parameters, shape):
    pixels = max(shape[1:]) if len(shape) == 3 else 0
    return "CPU" if sum(parameters.values()) <= CPU_PARAMETERS and pixels <= CPU_PIXELS else "GPU"


def card(config):
    shape = config["data"]["shape"]
    parameters = count_parameters(config)
    return {"resolution": "x".join(map(str, shape[1:])) if len(shape) == 3 else f"{shape[0]}-D points",
            "parameters": parameters, "hardware": hardware(parameters, shape)}


def read_cards():
    return json.loads(CARDS_FILE.read_text()) if CARDS_FILE.exists() else {}


def compute_cards():
    from ddgan.presets import all_presets, get_preset
    return {name: card(get_preset(name)) for name in sorted(all_presets())}


def short_count(n):
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def describe(card):
    """'32x32  848k  CPU': resolution, parameters, hardware (or how to count them for a preset not in the file)."""
    if card is None:
        return "? (run python -m ddgan.preset_cards)"
    return f"{card['resolution']:10s} {short_count(sum(card['parameters'].values())):>6s}  {card['hardware']}"


if __name__ == "__main__":
    cards = compute_cards()
    CARDS_FILE.write_text("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in cards.items()) + "\n}\n")
    print(f"wrote {CARDS_FILE}", file=sys.stderr)
