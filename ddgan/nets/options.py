"""The config keys of the networks: each architecture's keys are its constructor's keyword arguments, and
their defaults are the constructor's own, so the signature stays the one place a default is written.
What a key accepts and what it means is written here once per key name, shared by every architecture that
takes the key; a network class declares the keys that are its own in `OPTION_FIELDS` (same fields).

`ddgan options` shows these Options, and the config check of every run checks the values against them.
"""
import inspect

from ddgan.base.options import REQUIRED, Option

# key name -> the Option fields other than name and default
SHARED_FIELDS = {
    "image_size": dict(type=int, min=1, help="height and width of the images, in pixels"),
    "in_channels": dict(type=int, min=1, help="channels of the input images (3 for RGB)"),
    "out_channels": dict(type=int, min=1, help="channels of the output images"),
    "base_channels": dict(type=int, min=1,
                          help="channels at the full resolution; level i has base_channels * channel_mult[i]"),
    "channel_mult": dict(type=list, items=int, min=1,
                         help="one width multiplier per resolution level; the resolution halves between levels"),
    "num_res_blocks": dict(type=int, min=1, help="residual blocks per resolution level"),
    "attn_resolutions": dict(type=list, items=int, min=1,
                             help="the resolutions (in pixels) whose levels end with a self-attention block"),
    "dropout": dict(type=float, min=0, below=1, help="dropout probability inside the residual blocks"),
    "nz": dict(type=int, min=0, help="dimension of the latent z (0: none, the network is a plain denoiser)"),
    "z_emb_dim": dict(type=int, min=1, help="width of the style vector that the mapping network makes of z"),
    "z_dim": dict(type=int, min=1, help="width of the embedding of z"),
    "t_dim": dict(type=int, min=1, help="width of the time embedding"),
    "t_emb_dim": dict(type=int, min=1, help="width of the time embedding"),
    "data_dim": dict(type=int, min=1, help="dimension of the data vectors (2 for the 25-Gaussians)"),
    "hidden": dict(type=int, min=1, help="width of the hidden layers"),
    "depth": dict(type=int, min=1, help="number of hidden layers"),
    "fourier_octaves": dict(type=int, min=0,
                            help="sin/cos features of the inputs at 2^k, k < octaves (0: the raw inputs)"),
}


def network_options(cls):
    """cls's config keys as Options: one per constructor keyword, in signature order, with its default."""
    own = getattr(cls, "OPTION_FIELDS", {})
    options = []
    for name, parameter in inspect.signature(cls).parameters.items():
        fields = own.get(name, SHARED_FIELDS.get(name))
        if fields is None:
            raise TypeError(f"{cls.__name__} takes {name!r}, which neither ddgan/nets/options.py nor its "
                            f"OPTION_FIELDS declares")
        default = parameter.default
        default = REQUIRED if default is inspect.Parameter.empty else default
        options.append(Option(name, default=list(default) if isinstance(default, tuple) else default, **fields))
    return tuple(options)
