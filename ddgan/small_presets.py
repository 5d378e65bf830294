"""Small image presets: your own images on a CPU.

    ddgan data prepare folder PATH --name mine --size 32
    ddgan train --preset small32 --set data.dataset=mine            # DDGAN T=4
    ddgan train --preset small32_ddpm --set data.dataset=mine       # the DDPM baseline, same network width

The generator is the cpu profile's conv U-Net (reproduce.profiles) at base 32, three levels down to 8x8
(four at 64 px); the discriminator is the paper's small one (ddgan.nets.discriminators) at ngf 16 (4 at
64 px). The cpu profile's conv discriminator sat at chance from the first 100 steps on these images, and
500 steps gave speckled grids; the paper's D stays ahead of the generator and gave smooth, varied colour
fields (docs/small-presets.md). Measured s/step: results/bench/small-presets-*.md and README.md.

The presets train in bf16 where the CPU or GPU computes it natively (train.mixed_precision "auto"), warm
the EMA up so that a short run's grids show samples (optim.ema_warmup), and use no loader workers: a
prepared dataset is a memory-mapped array, and workers would only compete with training for the cores.
"""
from ddgan.presets import ddgan_method

SMALL_SIZES = (32, 64)
SMALL_WIDTH = {32: 32, 64: 16}   # base channels by image size: 4x the pixels at 64 px, so a quarter of the width
SMALL_D_WIDTH = {32: 16, 64: 4}  # the discriminator's ngf: at 64 px, what keeps a training step under 1 s here (6: 1.02 s)
SMALL_DATA = {"dataset": "cifar10", "root": None, "split": "train", "hflip": True}
SMALL_TRAIN = {"batch_size": 64, "steps": 20_000, "seed": 0, "log_every": 50, "checkpoint_every": 500,
               "sample_every": 500, "num_workers": 0, "mixed_precision": "auto"}
SMALL_OPTIM = {"betas": [0.5, 0.9], "lr_schedule": "constant", "ema_decay": 0.999, "ema_warmup": True}


def small_network(image_size):
    """base_channels and channel_mult of every small-preset network: [1, 2, 2] at 32 px, one more level a doubling."""
    return {"base_channels": SMALL_WIDTH[image_size], "channel_mult": [1, 2, 2] + [2] * ((image_size // 32).bit_length() - 1)}


def small_data(image_size):
    return {**SMALL_DATA, "shape": [3, image_size, image_size]}


def small_ddgan(image_size=32):
    """DDGAN T=4: the small conv U-Net generator and the paper's small discriminator, on image_size^2 RGB images."""
    width = small_network(image_size)
    return {
        "name": f"small{image_size}",
        "method": ddgan_method(4, nz=100, r1_gamma=0.02, lazy_reg=15),
        "networks": {
            "generator": {"arch": "conv_unet", "image_size": image_size, "in_channels": 3, **width, "nz": 100,
                          "z_emb_dim": 64, "output": "tanh"},
            "discriminator": {"arch": "small_discriminator", "in_channels": 3, "ngf": SMALL_D_WIDTH[image_size],
                              "t_emb_dim": 64},
        },
        "data": small_data(image_size),
        "optim": {**SMALL_OPTIM, "lr": {"generator": 2e-4, "discriminator": 2e-4}},
        "train": dict(SMALL_TRAIN),
    }


PRESETS = {f"small{size}": (lambda size=size: small_ddgan(size)) for size in SMALL_SIZES}
