"""Network registry: a config names an architecture and its keyword arguments.

    build_network({"arch": "conv_unet", "image_size": 8, "nz": 16})
"""
import importlib
import inspect

# arch name -> (module, class); modules are imported on first use
ARCHITECTURES = {
    "mlp": ("ddgan.nets.small", "MLPDenoiser"),
    "mlp_discriminator": ("ddgan.nets.small", "MLPDiscriminator"),
    "conv_unet": ("ddgan.nets.small", "ConvUNet"),
    "conv_discriminator": ("ddgan.nets.small", "ConvDiscriminator"),
    "ncsnpp": ("ddgan.nets.ncsnpp", "NCSNppGenerator"),
    "small_discriminator": ("ddgan.nets.discriminators", "SmallDiscriminator"),
    "large_discriminator": ("ddgan.nets.discriminators", "LargeDiscriminator"),
    "ddpm_unet": ("baselines.unet", "DDPMUNet"),
    "conv_encoder": ("baselines.autoencoder", "ConvEncoder"),
    "conv_decoder": ("baselines.autoencoder", "ConvDecoder"),
    "mlp_encoder": ("baselines.autoencoder", "MLPEncoder"),
    "mlp_decoder": ("baselines.autoencoder", "MLPDecoder"),
    "latent_generator": ("baselines.latent_diffusion", "LatentGenerator"),
    "vdm_model": ("baselines.vdm_networks", "VDMModel"),
}


def network_class(arch):
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown network architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    module, name = ARCHITECTURES[arch]
    return getattr(importlib.import_module(module), name)


def build_network(spec):
    """Instantiate the network described by `spec` ({"arch": ..., **kwargs})."""
    spec = dict(spec)
    arch = spec.pop("arch", None)
    if arch is None:
        raise ValueError(f"network config {spec} has no 'arch' key; known: {', '.join(sorted(ARCHITECTURES))}")
    cls = network_class(arch)
    accepted = inspect.signature(cls).parameters
    unknown = sorted(set(spec) - set(accepted))
    if unknown:
        raise ValueError(f"network {arch!r} does not take {unknown}; it accepts {sorted(accepted)}")
    return cls(**spec)
