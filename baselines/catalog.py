"""What the baselines register (ddgan/base/registry.py): their methods, networks and presets. A new
baseline is its module plus one line in METHODS (and one per network it adds); nothing is imported here."""

METHODS = {
    "ddpm": "baselines.ddpm:DDPM",
    "vae": "baselines.vae:VAE",
    "ldm": "baselines.latent_diffusion:LatentDiffusion",
    "vdm": "baselines.vdm:VDM",
}

ARCHITECTURES = {
    "ddpm_unet": "baselines.unet:DDPMUNet",
    "conv_encoder": "baselines.autoencoder:ConvEncoder",
    "conv_decoder": "baselines.autoencoder:ConvDecoder",
    "mlp_encoder": "baselines.autoencoder:MLPEncoder",
    "mlp_decoder": "baselines.autoencoder:MLPDecoder",
    "latent_generator": "baselines.latent_diffusion:LatentGenerator",
    "vdm_model": "baselines.vdm_networks:VDMModel",
}

PRESET_TABLES = {
    "baselines": "baselines.presets:PRESETS",
}

RESULT_LABELS = {
    "ddim": "DDIM sampling (baselines/ddim.py) of a trained ddpm run",
}
