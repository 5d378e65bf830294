"""ddgan: Denoising Diffusion GANs (Xiao, Kreis, Vahdat, ICLR 2022), the baselines and their evaluation.

The public API; each name is imported on first use, so `import ddgan` itself imports nothing heavy:

    import ddgan
    config = ddgan.get_preset("mixture25")                      # a named run config (dict)
    ddgan.train(config, "runs/mixture25")                       # resumes an existing run directory
    sampler = ddgan.load_sampler("runs/mixture25/snapshot.pt")  # a snapshot, training state or netG_*.pth
    x = sampler.sample(1000, torch.Generator().manual_seed(0))  # in [-1, 1]
    generator = ddgan.load_official_generator("netG_1200.pth", "cifar10")
    records = ddgan.evaluate_samples(sampler.sample, dataset="cifar10", metrics=["fid"], network=sampler.network)
"""
from ddgan.base import registry

# what this package and its baselines provide, read by the registries on first use: handed over from
# here, the top of the package, so that the framework (ddgan.core) names no higher layer
registry.add_catalogues("ddgan.core.catalog", "baselines.catalog")

API = {
    "get_preset": "ddgan.presets:get_preset",
    "train": "ddgan.core.trainer:train",
    "load_sampler": "ddgan.sampling:load_sampler",
    "load_official_generator": "ddgan.official:load_official_generator",
    # not `evaluate`: importing the module ddgan.evaluate sets that attribute of the package
    "evaluate_samples": "ddgan.evaluate:evaluate",
    "build_method": "ddgan.core.methods:build_method",
}
__all__ = sorted(API)


def __getattr__(name):
    if name not in API:
        raise AttributeError(f"module 'ddgan' has no attribute {name!r}; its API is {', '.join(__all__)}")
    value = globals()[name] = registry.resolve(API[name])
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
