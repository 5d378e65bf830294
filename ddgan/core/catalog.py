"""What the ddgan package registers (ddgan/base/registry.py): the DDGAN method, its networks, its presets
and the in-memory toy datasets. One line an entry; nothing is imported here."""

METHODS = {
    "ddgan": "ddgan.denoising_gan:DenoisingDiffusionGAN",
}

ARCHITECTURES = {
    "mlp": "ddgan.nets.small:MLPDenoiser",
    "mlp_discriminator": "ddgan.nets.small:MLPDiscriminator",
    "conv_unet": "ddgan.nets.small:ConvUNet",
    "conv_discriminator": "ddgan.nets.small:ConvDiscriminator",
    "ncsnpp": "ddgan.nets.ncsnpp:NCSNppGenerator",
    "small_discriminator": "ddgan.nets.discriminators:SmallDiscriminator",
    "large_discriminator": "ddgan.nets.discriminators:LargeDiscriminator",
}

PRESET_TABLES = {
    "ddgan": "ddgan.presets:PRESETS",
    "small": "ddgan.small_presets:PRESETS",
}

DATASETS = {
    "mixture25": "ddgan.datasets.toy:MIXTURE25",
    "stacked_digits": "ddgan.datasets.toy:STACKED_DIGITS",
}

RESULT_LABELS = {
    "official": "a released DDGAN checkpoint (ddgan/official.py), evaluated without training",
}
