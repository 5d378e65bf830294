"""The framework every method shares: the registries, run configs and their options, the `Method`
interface, the one trainer and its optimisation step, the one sampler, checkpoints, run directories
and monitoring, and the Gaussian diffusion math. It imports nothing above it (CONTRIBUTING.md): the
package on top hands it the catalogues of what is registered."""
