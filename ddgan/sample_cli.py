"""`ddgan sample`: write exactly N generated images (or 2-D points) to a folder, for metrics and for looking at.

    ddgan sample --official-checkpoint netG_1200.pth --preset cifar10 -n 50000 --out samples/cifar10 --jpeg
    ddgan sample --checkpoint runs/cifar10/snapshot.pt -n 50000 --out samples/cifar10-ours
    ddgan sample --checkpoint runs/m25/snapshot.pt -n 10000 --out samples/m25

Models of vector data (the 25-Gaussians) write points.npy, float32 (N, D) in the data's original
units (the 25-Gaussian grid's centres at -4..4, whatever scale the model was trained at), in one
array file, as fast as sampler.sample in Python; with --figure, for the 25-Gaussians, also points.png:
the points over the true centres (matplotlib).

Images are named by index (000000.png, 000001.png, ...), one file per sample, PNG by default
(lossless). ``--jpeg`` reproduces the official evaluation exactly: its test script writes every
sample with torchvision's save_image to a .jpg, i.e. PIL's JPEG at quality 75, and FID is computed on
those files. Unlike that script, exactly N files are written even when the batch size does not
divide N, and a folder that already holds files is refused (unless --overwrite) so that stale
samples never enter an FID.

Samples depend on the seed (default EVAL_SEED, 42 as the official script), the batch size and the device.
"""
import argparse
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ddgan.core.config import ConfigError
from ddgan.metrics.images import quantize
from ddgan.core.sampler import EVAL_SEED
from ddgan.presets import PAPER_TRAINING

PAPER_PRESETS = tuple(PAPER_TRAINING)     # the presets of the released checkpoints
JPEG_QUALITY = 75            # PIL's default, hence the quality of the official samples
SAMPLE_NAME = re.compile(r"^(\d+\.(png|jpg)|points\.(npy|png))$")
POINTS_FILE, POINTS_FIGURE = "points.npy", "points.png"


class SampleError(ValueError):
    """Bad sampling arguments or an output folder that cannot be used."""


def sample_file_name(index, n, jpeg):
    width = max(6, len(str(n - 1)))
    return f"{index:0{width}d}.{'jpg' if jpeg else 'png'}"


def save_image(pixels, path):
    """One HWC uint8 image; .jpg at the official quality, anything else lossless."""
    array = pixels.numpy()
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    if path.suffix == ".jpg":
        image.save(path, quality=JPEG_QUALITY)
    else:
        image.save(path)


def prepare_output_dir(out_dir, overwrite=False):
    """Create out_dir, or check it is empty. With overwrite, earlier samples (files named like
    000123.png / 123.jpg) are deleted; anything else in the folder is refused, never deleted."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SampleError(f"--out {out_dir} is a file, not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = sorted(out_dir.iterdir())
    if not entries:
        return out_dir
    if not overwrite:
        raise SampleError(f"--out {out_dir} is not empty ({len(entries)} entries, e.g. {entries[0].name}); "
                          "choose a new folder, or pass --overwrite to replace earlier samples")
    others = [e.name for e in entries if not (e.is_file() and SAMPLE_NAME.match(e.name))]
    if others:
        raise SampleError(f"--out {out_dir} holds files that are not samples ({', '.join(others[:5])}"
                          f"{', ...' if len(others) > 5 else ''}); --overwrite only replaces earlier samples, "
                          "so move those away or choose a new folder")
    for entry in entries:
        entry.unlink()
    return out_dir


def check_counts(n, batch_size):
    if n < 1:
        raise SampleError(f"the number of samples must be at least 1, got {n}")
    if batch_size < 1:
        raise SampleError(f"--batch-size must be at least 1, got {batch_size}")


def write_points(sampler, n, out_dir, *, batch_size=100, seed=EVAL_SEED, overwrite=False, progress=True,
                 figure=False):
    """Generate n points of a vector-data model into out_dir/points.npy (original units, float32), and with
    `figure` a scatter over the true centres (points.png) for the 25-Gaussians; returns the written paths."""
    from ddgan.datasets.specs import dataset_kind
    from ddgan.datasets.toy import to_original_units
    check_counts(n, batch_size)
    out_dir = prepare_output_dir(out_dir, overwrite)
    batches = tqdm(sampler.batches(n, batch_size, seed), total=-(-n // batch_size),
                   desc=f"sampling {sampler.describe()}", disable=not progress)
    points = torch.cat([x.cpu() for _, x in batches]).numpy()
    points = to_original_units(points, sampler.config["data"]).astype(np.float32)
    paths = [out_dir / POINTS_FILE]
    np.save(paths[0], points)
    if figure and dataset_kind(sampler.config["data"]["dataset"]) == "points":
        from ddgan.demo.figures import mixture25_figure
        paths.append(out_dir / POINTS_FIGURE)
        mixture25_figure(points, paths[-1], title=f"{sampler.describe()}: {n} samples")
    return paths


def write_samples(sampler, n, out_dir, *, batch_size=100, seed=EVAL_SEED, jpeg=False, overwrite=False, progress=True):
    """Generate n samples with `sampler` (a ddgan.sampling.Sampler) into out_dir; returns the file paths.

    One torch.Generator on the sampler's device, seeded once, drives all batches (the last batch
    is smaller when batch_size does not divide n; `Sampler.batches`). Files are written by a few
    threads while the next batch is generated.
    """
    check_counts(n, batch_size)
    out_dir = prepare_output_dir(out_dir, overwrite)
    paths = [out_dir / sample_file_name(i, n, jpeg) for i in range(n)]
    with ThreadPoolExecutor(max_workers=4) as writers, \
            tqdm(total=n, desc=f"sampling {sampler.describe()}", unit="img", disable=not progress) as bar:
        pending = []
        for start, x in sampler.batches(n, batch_size, seed):
            pixels = quantize(x)
            pending += [writers.submit(save_image, image, paths[start + i]) for i, image in enumerate(pixels)]
            # keep at most about two batches in flight; .result() re-raises a failed write
            while len(pending) > 2 * batch_size:
                pending.pop(0).result()
            bar.update(len(pixels))
        for future in pending:
            future.result()
    return paths


# ---------------------------------------------------------------------------------------------
# command line


def add_sample_arguments(subparsers):
    """Add `sample` to the `ddgan` subcommands; returns its parser."""
    parser = subparsers.add_parser(
        "sample", help="write N generated images to a folder (PNG, or the paper's JPEG)",
        description="Write exactly N generated images to a new or empty folder (PNG, or the paper's JPEG).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n" + "\n".join(__doc__.splitlines()[2:5]))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="PATH", help="a ddgan snapshot.pt (or training-state.pt)")
    source.add_argument("--official-checkpoint", metavar="PATH",
                        help="a released netG_*.pth of the official code (needs --preset)")
    parser.add_argument("--preset", choices=PAPER_PRESETS,
                        help="the paper run the official checkpoint comes from")
    parser.add_argument("-n", "--num-samples", type=int, required=True, help="how many images to write")
    parser.add_argument("--out", required=True, help="a new or empty folder for the images")
    parser.add_argument("--batch-size", type=int, default=100, help="images generated at once (default 100)")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help=f"random seed (default {EVAL_SEED}, as the official script)")
    parser.add_argument("--device", default=None, help="cuda, cuda:1, cpu, ... (default: cuda if available)")
    parser.add_argument("--jpeg", action="store_true",
                        help="write .jpg at quality 75 as the official evaluation does (default: lossless .png)")
    parser.add_argument("--overwrite", action="store_true", help="replace the samples already in --out")
    parser.add_argument("--figure", action="store_true",
                        help="2-D points of the 25-Gaussians: also draw points.png over the true centres")
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast (faster on recent GPUs; samples differ slightly from float32)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _device(name):
    device = torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SampleError(f"--device {name} was asked for, but CUDA is not available here; use --device cpu")
    return device


def _load(args, device):
    from ddgan.sampling import load_sampler
    path = Path(args.official_checkpoint or args.checkpoint)
    if not path.is_file():
        raise SampleError(f"checkpoint {path} does not exist")
    if args.official_checkpoint:
        if not args.preset:
            raise SampleError(f"--official-checkpoint needs --preset, the paper run {path.name} comes from "
                              f"(one of {', '.join(PAPER_PRESETS)})")
        return load_sampler(path, device, official_preset=args.preset, bf16=args.bf16)
    if args.preset:
        raise SampleError("--preset applies to --official-checkpoint only: a ddgan snapshot holds its own config")
    return load_sampler(path, device, bf16=args.bf16)


def run_sample(args):
    """Run a parsed `ddgan sample`; expected failures print one message and return 2."""
    from ddgan.official import OfficialCheckpointError
    try:
        device = _device(args.device)
        sampler = _load(args, device)
        if not sampler.is_image:
            if args.jpeg:
                raise SampleError("--jpeg applies to images; this model generates points (written to points.npy)")
            paths = write_points(sampler, args.num_samples, args.out, batch_size=args.batch_size, seed=args.seed,
                                 overwrite=args.overwrite, progress=not args.quiet, figure=args.figure)
        else:
            paths = write_samples(sampler, args.num_samples, args.out, batch_size=args.batch_size, seed=args.seed,
                                  jpeg=args.jpeg, overwrite=args.overwrite, progress=not args.quiet)
    except (SampleError, ConfigError, OfficialCheckpointError, FileNotFoundError) as error:
        print(f"ddgan sample: error: {error}", file=sys.stderr)
        return 2
    if not sampler.is_image:
        print(f"wrote {args.num_samples} points of {sampler.describe()} (NFE {sampler.nfe}, seed {args.seed}) "
              f"to {', '.join(str(p) for p in paths)}")
        return 0
    print(f"wrote {len(paths)} samples of {sampler.describe()} (NFE {sampler.nfe}, seed {args.seed}) "
          f"to {args.out} as {'JPEG quality 75' if args.jpeg else 'PNG'}")
    return 0


def main(argv=None):
    """`python -m ddgan.sample_cli ARGS` runs `ddgan sample ARGS`."""
    parser = argparse.ArgumentParser(prog="ddgan")
    add_sample_arguments(parser.add_subparsers(dest="command", required=True))
    return run_sample(parser.parse_args(["sample", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
