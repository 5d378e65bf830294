"""Network registry: a config names an architecture and its keyword arguments.

    build_network({"arch": "conv_unet", "image_size": 8, "nz": 16})
"""
import inspect

from ddgan.base import registry


def network_class(arch):
    """The network class registered as `arch` (ddgan/base/registry.py; modules are imported on first use)."""
    if arch not in registry.ARCHITECTURES:
        raise ValueError(f"unknown network architecture {arch!r}; known: {', '.join(sorted(registry.ARCHITECTURES.names()))}")
    return registry.ARCHITECTURES.get(arch)


def build_network(spec):
    """Instantiate the network described by `spec` ({"arch": ..., **kwargs})."""
    spec = dict(spec)
    arch = spec.pop("arch", None)
    if arch is None:
        raise ValueError(f"network config {spec} has no 'arch' key; known: {', '.join(sorted(registry.ARCHITECTURES.names()))}")
    cls = network_class(arch)
    accepted = inspect.signature(cls).parameters
    unknown = sorted(set(spec) - set(accepted))
    if unknown:
        raise ValueError(f"network {arch!r} does not take {unknown}; it accepts {sorted(accepted)}")
    return cls(**spec)
