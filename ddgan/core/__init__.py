"""The framework every method shares, on the base layer, datasets, metrics and networks: run configs,
the `Method` interface, the one trainer and its optimisation step, the one sampler, checkpoints, run
directories and monitoring, and the Gaussian diffusion math. It imports nothing above it
(CONTRIBUTING.md): the package on top hands the registry the catalogues of what is registered."""
