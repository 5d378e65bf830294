"""Loading of the official released checkpoints into the paper's networks (ddgan.presets holds
their configurations).

Official files (NVlabs/denoising-diffusion-gan):

* ``netG_{epoch}.pth``: the EMA generator's state dict as saved from DistributedDataParallel
  (every key prefixed ``module.``). Read with ``load_official_generator(path, preset)``.
* ``content.pth``: training state: raw ``netG_dict`` / ``netD_dict`` (``module.`` prefixed), Adam
  states with the generator EMA inside ``optimizerG['state'][i]['ema']``, LR schedulers, ``epoch``
  (the next epoch to run), ``global_step`` and the pickled argparse ``args``. Read with
  ``load_official_content(path)``.

Every key of a file must land on exactly one of our tensors with the same shape and every tensor of
ours must be filled; anything else raises ``OfficialCheckpointError`` naming the keys, the shapes and
the setting that most likely differs. ``to_official_state`` goes the other way.
"""

import argparse
import pickle
from collections import OrderedDict
from collections.abc import Mapping

import torch

from ddgan.core.checkpoint import ddgan_file_kind, why_unreadable
from ddgan.nets.discriminators import LargeDiscriminator, SmallDiscriminator
from ddgan.nets.ncsnpp import NCSNppGenerator
from ddgan.nets.official_keys import discriminator_key_pairs, generator_key_pairs
from ddgan.presets import PAPER_DISCRIMINATORS, PAPER_GENERATORS

DISCRIMINATORS = {"small": SmallDiscriminator, "large": LargeDiscriminator}
# the official trainer's --dataset names
OFFICIAL_DATASETS = {"cifar10": "cifar10", "stackmnist": "stackedmnist", "celeba_256": "celeba_256", "lsun": "lsun_church"}

# Settings of the official trainer that this package fixes to the paper's values.
_FIXED_OFFICIAL_SETTINGS = {
    "centered": True, "conditional": True, "resamp_with_conv": True, "fir": True, "skip_rescale": True,
    "resblock_type": "biggan", "progressive": "none", "progressive_input": "residual",
    "progressive_combine": "sum", "embedding_type": "positional",
}


class OfficialCheckpointError(ValueError):
    """An official checkpoint that does not fit the requested network, or cannot be read."""


def _preset_name(preset):
    name = OFFICIAL_DATASETS.get(preset, preset)
    if name not in PAPER_GENERATORS:
        raise ValueError(
            f"unknown preset {preset!r}: use one of {sorted(PAPER_GENERATORS)} or a dict of NCSNppGenerator kwargs"
        )
    return name


def generator_kwargs(preset):
    """NCSNppGenerator kwargs of a preset name (official dataset names accepted) or a kwargs dict."""
    if isinstance(preset, Mapping):
        return dict(preset)
    return dict(PAPER_GENERATORS[_preset_name(preset)])


def build_discriminator(preset):
    """A fresh discriminator of a preset: SmallDiscriminator or LargeDiscriminator with its kwargs."""
    spec = PAPER_DISCRIMINATORS[_preset_name(preset)]
    return DISCRIMINATORS[spec["type"]](**spec["kwargs"])


def generator_kwargs_from_official_args(args):
    """NCSNppGenerator kwargs from the official trainer's arguments (a Namespace or dict)."""
    args = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    unsupported = {
        k: args[k] for k, v in _FIXED_OFFICIAL_SETTINGS.items() if k in args and str(args[k]).lower() != str(v).lower()
    }
    if unsupported:
        paper = {k: _FIXED_OFFICIAL_SETTINGS[k] for k in unsupported}
        raise OfficialCheckpointError(
            f"official settings {unsupported} differ from the paper's {paper}; "
            "this package implements the paper's NCSN++ configuration only"
        )
    names = dict(
        image_size="image_size", in_channels="num_channels", base_channels="num_channels_dae", channel_mult="ch_mult",
        num_res_blocks="num_res_blocks", attn_resolutions="attn_resolutions", dropout="dropout", nz="nz",
        z_emb_dim="z_emb_dim", n_mlp="n_mlp", fir_kernel="fir_kernel",
    )
    _require(args, [*names.values(), "not_use_tanh"], "the generator")
    kwargs = {ours: args[theirs] for ours, theirs in names.items()}
    for key in ("channel_mult", "attn_resolutions", "fir_kernel"):
        kwargs[key] = tuple(int(v) for v in kwargs[key])
    kwargs["use_tanh"] = not args["not_use_tanh"]
    return kwargs


def _require(args, names, what):
    missing = sorted(n for n in names if n not in args)
    if missing:
        raise OfficialCheckpointError(f"the official args lack {missing}; cannot rebuild {what}")


def _discriminator_from_official_args(args):
    _require(args, ["num_channels", "ngf", "t_emb_dim"], "the discriminator")
    kind = "small" if args.get("dataset") in ("cifar10", "stackmnist") else "large"  # the official trainer's rule
    return DISCRIMINATORS[kind](in_channels=args["num_channels"], ngf=args["ngf"], t_emb_dim=args["t_emb_dim"])


# ---------------------------------------------------------------------------------------------
# key conversion


def _strip_ddp_prefix(state, what):
    prefixed = [k.startswith("module.") for k in state]
    if any(prefixed) and not all(prefixed):
        odd = [k for k, p in zip(state, prefixed) if not p][:5]
        raise OfficialCheckpointError(f"the {what} state dict mixes keys with and without 'module.' (e.g. {odd})")
    return OrderedDict((k[len("module."):] if k.startswith("module.") else k, v) for k, v in state.items())


def _listing(items, limit=8):
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _shape(t):
    return tuple(t.shape)


def _official_shapes(network, pairs):
    state = network.state_dict()
    return OrderedDict(
        (p.official, _shape(state[p.ours].t()) if p.transpose else _shape(state[p.ours])) for p in pairs
    )


def _layout_problems(file_state, expected_shapes):
    missing = [k for k in expected_shapes if k not in file_state]
    unexpected = [k for k in file_state if k not in expected_shapes]
    mismatched = [
        f"{k}: file {_shape(file_state[k])} vs network {expected_shapes[k]}"
        for k in expected_shapes
        if k in file_state and _shape(file_state[k]) != expected_shapes[k]
    ]
    return missing, unexpected, mismatched


def _count_official_modules(keys):
    return len({k.split(".")[1] for k in keys if k.startswith("all_modules.")})


def _generator_hints(file_state, kwargs):
    """Settings readable straight from the file that differ from the requested network."""
    found = {}
    z_layers = [k for k in file_state if k.startswith("z_transform.") and k.endswith(".weight")]
    if z_layers:
        found["n_mlp"] = len(z_layers) - 1
    if "z_transform.1.weight" in file_state:
        found["z_emb_dim"], found["nz"] = _shape(file_state["z_transform.1.weight"])
    if "all_modules.0.weight" in file_state:
        found["base_channels"] = _shape(file_state["all_modules.0.weight"])[1]
    if "all_modules.2.weight" in file_state and len(_shape(file_state["all_modules.2.weight"])) == 4:
        found["in_channels"] = _shape(file_state["all_modules.2.weight"])[1]
    hints = [f"{k}: the file has {v}, the network {kwargs[k]}" for k, v in found.items() if kwargs.get(k) != v]
    in_file = _count_official_modules(file_state)
    in_network = _count_official_modules(p.official for p in generator_key_pairs(_meta_generator(kwargs)))
    if in_file != in_network:
        hints.append(
            f"the file has {in_file} modules in all_modules, the network {in_network}: "
            "check channel_mult, num_res_blocks, attn_resolutions and image_size"
        )
    fits = [name for name, kw in PAPER_GENERATORS.items() if _fits(file_state, kw)]
    if fits:
        hints.append(f"the file fits the preset(s) {fits}")
    return hints


def _discriminator_hints(file_state, network):
    hints = []
    blocks = len({k.split(".")[0] for k in file_state if k.startswith("conv")})
    if blocks != len(network.blocks):
        kind = {4: "small (32px)", 6: "large (256px)"}.get(blocks, "unknown")
        hints.append(f"the file has {blocks} down-blocks ({kind} discriminator), the network {len(network.blocks)}")
    if "start_conv.weight" in file_state:
        ngf = _shape(file_state["start_conv.weight"])[0] // 2
        if ngf * 2 != network.input_conv.out_channels:
            hints.append(f"ngf: the file has {ngf}, the network {network.input_conv.out_channels // 2}")
    if "t_embed.main.0.weight" in file_state:
        t_dim = _shape(file_state["t_embed.main.0.weight"])[1]
        if t_dim != network.time_embedding.embedding_dim:
            hints.append(f"t_emb_dim: the file has {t_dim}, the network {network.time_embedding.embedding_dim}")
    return hints


def _meta_generator(kwargs):
    with torch.device("meta"):
        return NCSNppGenerator(**kwargs)


def _fits(file_state, kwargs):
    network = _meta_generator(kwargs)
    return not any(_layout_problems(file_state, _official_shapes(network, generator_key_pairs(network))))


def _load_official_state(network, pairs, file_state, description, hints):
    """Copy an official state dict (prefix already stripped) into network, or explain why it does not fit."""
    non_tensors = [k for k, v in file_state.items() if not isinstance(v, torch.Tensor)]
    if non_tensors:
        raise OfficialCheckpointError(f"the {description} file holds non-tensor entries: {_listing(non_tensors)}")
    missing, unexpected, mismatched = _layout_problems(file_state, _official_shapes(network, pairs))
    if missing or unexpected or mismatched:
        lines = [f"the official checkpoint does not fit the {description}:"]
        if missing:
            lines.append(f"  {len(missing)} missing keys: {_listing(missing)}")
        if unexpected:
            lines.append(f"  {len(unexpected)} unexpected keys: {_listing(unexpected)}")
        if mismatched:
            lines.append(f"  {len(mismatched)} shape mismatches: {_listing(mismatched, 4)}")
        lines += [f"  likely cause: {h}" for h in hints()] or ["  check the preset or kwargs the file was trained with"]
        raise OfficialCheckpointError("\n".join(lines))
    ours = {p.ours: file_state[p.official].t() if p.transpose else file_state[p.official] for p in pairs}
    network.load_state_dict(ours, strict=True)
    return network


def load_official_generator_state(generator, state, description="generator"):
    """Fill an NCSNppGenerator in place from an official generator state dict ('module.' optional)."""
    state = _strip_ddp_prefix(state, description)
    kwargs = generator.config
    return _load_official_state(
        generator, generator_key_pairs(generator), state, description, lambda: _generator_hints(state, kwargs)
    )


def load_official_discriminator_state(discriminator, state, description="discriminator"):
    """Fill a Small/LargeDiscriminator in place from an official discriminator state dict."""
    state = _strip_ddp_prefix(state, description)
    return _load_official_state(
        discriminator, discriminator_key_pairs(discriminator), state, description,
        lambda: _discriminator_hints(state, discriminator),
    )


def to_official_state(network, prefix="module."):
    """Our generator or discriminator's state dict under the official key names (default: as saved
    from DDP, loadable by the official test_ddgan.py)."""
    pairs = generator_key_pairs(network) if isinstance(network, NCSNppGenerator) else discriminator_key_pairs(network)
    state = network.state_dict()
    return OrderedDict(
        (prefix + p.official, (state[p.ours].t() if p.transpose else state[p.ours]).detach().clone()) for p in pairs
    )


# ---------------------------------------------------------------------------------------------
# public loaders


def _read_state_dict(path_or_state_dict):
    if isinstance(path_or_state_dict, Mapping):
        return path_or_state_dict
    path = path_or_state_dict
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise OfficialCheckpointError(
            f"{why_unreadable(path, error)}; an official generator is a released netG_*.pth "
            "(the official training state content.pth is read by load_official_content)"
        ) from None
    if ddgan_file_kind(state):
        raise OfficialCheckpointError(f"{path} is a ddgan {ddgan_file_kind(state)}: use --checkpoint {path}")
    if "netG_dict" in state:
        raise OfficialCheckpointError(
            f"{path} is an official training state (content.pth); use load_official_content"
        )
    return state


def load_official_generator(path_or_state_dict, preset):
    """An NCSNppGenerator (eval mode) holding a released ``netG_{epoch}.pth`` (the EMA generator).

    preset: 'cifar10', 'celeba_256', 'lsun_church', 'stackedmnist' (or the official dataset names
    'lsun', 'stackmnist'), or a dict of NCSNppGenerator kwargs.
    """
    kwargs = generator_kwargs(preset)
    state = _read_state_dict(path_or_state_dict)     # before building: a wrong file fails at once
    generator = NCSNppGenerator(**kwargs)
    label = preset if isinstance(preset, str) else "requested"
    load_official_generator_state(generator, state, f"{label} generator {kwargs}")
    return generator.eval()


def _read_content(path, trusted):
    if trusted:
        return torch.load(path, map_location="cpu", weights_only=False)
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:
        raise OfficialCheckpointError(
            "reading content.pth safely needs torch >= 2.5 (torch.serialization.safe_globals); "
            "upgrade torch, or pass trusted=True for a file you trust"
        )
    try:
        with safe_globals([argparse.Namespace]):  # the pickled trainer args: the one non-tensor class inside
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise OfficialCheckpointError(
            f"{why_unreadable(path, error)}; "
            "pass trusted=True only if you trust the file (it then runs arbitrary pickle code)"
        ) from None


def _ema_state(content, raw_state):
    """The EMA generator weights: the official EMA optimizer wrapper keeps them in the Adam state of each
    parameter, indexed in netG.parameters() order (= the order of netG_dict)."""
    optimizer = content["optimizerG"]
    param_ids = [i for group in optimizer["param_groups"] for i in group["params"]]
    if len(param_ids) != len(raw_state):
        raise OfficialCheckpointError(
            f"optimizerG covers {len(param_ids)} parameters but netG_dict has {len(raw_state)}; the file is inconsistent"
        )
    ema = OrderedDict((key, optimizer["state"].get(i, {}).get("ema")) for key, i in zip(raw_state, param_ids))
    absent = [k for k, v in ema.items() if v is None]
    if len(absent) == len(ema):
        return None  # trained without --use_ema
    if absent:
        raise OfficialCheckpointError(f"optimizerG has EMA weights for some parameters only; missing for {_listing(absent)}")
    return ema


def load_official_content(path, preset=None, trusted=False):
    """Read an official ``content.pth`` into our networks (all in eval mode).

    preset: None to rebuild the networks from the pickled trainer args (recommended), a preset name,
    or a dict of generator kwargs (the discriminator then comes from the args). The file is unpickled
    with ``weights_only=True`` and only ``argparse.Namespace`` allowed; ``trusted=True`` falls back to
    a full unpickle (``weights_only=False``), which can run arbitrary code from the file.

    Returns a dict: generator (raw weights), generator_ema (None if trained without EMA),
    discriminator, epoch (the next epoch to run, as the official trainer stores it), global_step,
    args (the official arguments as a plain dict), preset (name or None) and generator_kwargs.
    """
    content = _read_content(path, trusted)
    needed = ["args", "netG_dict", "netD_dict", "optimizerG", "epoch", "global_step"]
    if not isinstance(content, Mapping) or any(k not in content for k in needed):
        raise OfficialCheckpointError(f"{path} is not an official content.pth (it needs the entries {needed})")
    args = content["args"]
    args = dict(vars(args) if isinstance(args, argparse.Namespace) else args)

    if preset is None:
        kwargs = generator_kwargs_from_official_args(args)
        discriminator = _discriminator_from_official_args(args)
        preset_name = OFFICIAL_DATASETS.get(args.get("dataset"))
    else:
        kwargs = generator_kwargs(preset)
        preset_name = None if isinstance(preset, Mapping) else _preset_name(preset)
        discriminator = build_discriminator(preset_name) if preset_name else _discriminator_from_official_args(args)

    raw_state = _strip_ddp_prefix(content["netG_dict"], "netG_dict")
    generator = NCSNppGenerator(**kwargs)
    load_official_generator_state(generator, raw_state, f"generator {kwargs}")
    ema_state = _ema_state(content, raw_state)
    generator_ema = None
    if ema_state is not None:
        generator_ema = NCSNppGenerator(**kwargs)
        load_official_generator_state(generator_ema, ema_state, f"EMA generator {kwargs}")
        generator_ema.eval()
    load_official_discriminator_state(discriminator, content["netD_dict"], f"{type(discriminator).__name__}")
    return {
        "generator": generator.eval(),
        "generator_ema": generator_ema,
        "discriminator": discriminator.eval(),
        "epoch": int(content["epoch"]),
        "global_step": int(content["global_step"]),
        "args": args,
        "preset": preset_name,
        "generator_kwargs": kwargs,
    }
