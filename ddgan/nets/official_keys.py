"""Correspondence between the official DDGAN state-dict keys and this package's modules.

The official generator is one flat ``all_modules`` ModuleList (indexed in construction order) plus a
``z_transform`` Sequential; the official discriminators name their blocks ``conv1``...``convN``. Each
function here walks our named stages in the official construction order and returns, for every
tensor, ``KeyPair(official, ours, transpose)``; ``transpose`` marks the attention projections, which
the official code stores as (in, out) matrices and ``nn.Linear`` as (out, in).
"""

import itertools
from typing import NamedTuple


class KeyPair(NamedTuple):
    official: str
    ours: str
    transpose: bool = False


# our local tensor name -> (official local name, transpose), per kind of module
_PLAIN = {"weight": ("weight", False), "bias": ("bias", False)}
_RESIDUAL_BLOCK = {
    "norm0.style.weight": ("GroupNorm_0.style.weight", False),
    "norm0.style.bias": ("GroupNorm_0.style.bias", False),
    "conv0.weight": ("Conv_0.weight", False),
    "conv0.bias": ("Conv_0.bias", False),
    "t_proj.weight": ("Dense_0.weight", False),
    "t_proj.bias": ("Dense_0.bias", False),
    "norm1.style.weight": ("GroupNorm_1.style.weight", False),
    "norm1.style.bias": ("GroupNorm_1.style.bias", False),
    "conv1.weight": ("Conv_1.weight", False),
    "conv1.bias": ("Conv_1.bias", False),
    "skip.weight": ("Conv_2.weight", False),
    "skip.bias": ("Conv_2.bias", False),
}
_ATTENTION = {
    "norm.weight": ("GroupNorm_0.weight", False),
    "norm.bias": ("GroupNorm_0.bias", False),
    **{
        f"{ours}.{tensor}": (f"NIN_{i}.{'W' if tensor == 'weight' else 'b'}", tensor == "weight")
        for i, ours in enumerate(("query", "key", "value", "out"))
        for tensor in ("weight", "bias")
    },
}
_PYRAMID = {"conv.weight": ("Conv2d_0.weight", False), "conv.bias": ("Conv2d_0.bias", False)}
_DISCRIMINATOR_BLOCK = {
    "conv1.weight": ("conv1.0.weight", False),
    "conv1.bias": ("conv1.0.bias", False),
    "conv2.weight": ("conv2.0.weight", False),
    "conv2.bias": ("conv2.0.bias", False),
    "t_proj.weight": ("dense_t1.weight", False),
    "t_proj.bias": ("dense_t1.bias", False),
    "skip.weight": ("skip.0.weight", False),
}


def _expand(network, modules):
    """modules: (official prefix, our prefix, name table) -> one KeyPair per tensor of our module."""
    pairs = []
    for official_prefix, our_prefix, table in modules:
        for local in network.get_submodule(our_prefix).state_dict().keys():
            official_local, transpose = table[local]
            pairs.append(KeyPair(f"{official_prefix}.{official_local}", f"{our_prefix}.{local}", transpose))
    return pairs


def generator_key_pairs(generator):
    """KeyPairs of an NCSNppGenerator, in the official key order (official keys without 'module.')."""
    index = itertools.count()
    modules = []

    def official(our_prefix, table=_PLAIN):
        modules.append((f"all_modules.{next(index)}", our_prefix, table))

    official("time_embedding.linear1")
    official("time_embedding.linear2")
    official("input_conv")
    for i, level in enumerate(generator.down):
        for j in range(len(level.blocks)):
            official(f"down.{i}.blocks.{j}", _RESIDUAL_BLOCK)
            if level.attn is not None:
                official(f"down.{i}.attn.{j}", _ATTENTION)
        if level.downsample is not None:
            official(f"down.{i}.downsample", _RESIDUAL_BLOCK)
            official(f"input_pyramid.{i}", _PYRAMID)
    official("middle.block0", _RESIDUAL_BLOCK)
    official("middle.attn", _ATTENTION)
    official("middle.block1", _RESIDUAL_BLOCK)
    for i, level in enumerate(generator.up):
        for j in range(len(level.blocks)):
            official(f"up.{i}.blocks.{j}", _RESIDUAL_BLOCK)
        if level.attn is not None:
            official(f"up.{i}.attn", _ATTENTION)
        if level.upsample is not None:
            official(f"up.{i}.upsample", _RESIDUAL_BLOCK)
    official("output.norm")
    official("output.conv")
    # z_transform = Sequential(PixelNorm, Linear, SiLU, Linear, SiLU, ...): the Linears sit at odd indices.
    for k in range(len(generator.z_mapping.layers)):
        modules.append((f"z_transform.{2 * k + 1}", f"z_mapping.layers.{k}", _PLAIN))
    return _expand(generator, modules)


def discriminator_key_pairs(discriminator):
    """KeyPairs of a Small/LargeDiscriminator, in the official key order."""
    modules = [
        ("t_embed.main.0", "time_embedding.linear1", _PLAIN),
        ("t_embed.main.2", "time_embedding.linear2", _PLAIN),
        ("start_conv", "input_conv", _PLAIN),
    ]
    modules += [(f"conv{i + 1}", f"blocks.{i}", _DISCRIMINATOR_BLOCK) for i in range(len(discriminator.blocks))]
    modules += [("final_conv", "final_conv", _PLAIN), ("end_linear", "head", _PLAIN)]
    return _expand(discriminator, modules)
