"""How fast the FID network can run on this CPU: its arithmetic against the machine's measured peak.

    python -m benchmarks.bench_fid_ceiling --threads 2         # a quiet machine; about 3 minutes

The FID features are one Inception-v3 forward pass per image, and in float32 its convolutions do
all but a sliver of the arithmetic. So a feature extractor that computes the same features to float
tolerance cannot run faster than (GFLOP per image) / (the machine's float32 peak). Measured here:
- GFLOP per image: torch's FLOP counter over one forward pass of the eager network;
- the network's throughput at `batch`: the eager network (ddgan) and the TorchScript file (before);
- each of the network's convolutions alone, at its own input shape and batch, through the same
  module (so the same kernels): their sum is the time of the convolutions without anything else,
  and the fastest of them, with a large float32 matrix product, is the machine's practical peak.
From these: the ceiling in images/s and the largest speed-up over `before` that any float32
implementation could reach here. Results: results/bench/fid-ceiling-<device>.json and .md.
"""
import argparse
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from ddgan.base.provenance import git_commit, now, slug
from ddgan.base.timing import time_once
from ddgan.metrics.inception import load_fid_torchscript
from ddgan.metrics.tf_inception import EagerTFInception, FoldedConv
from benchmarks.timing import RESULTS, machine, summarize, write_result

SIZE = 299


def gflop(fn, *args) -> float:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() / 1e9


def best_seconds(fn, repeats: int) -> list[float]:
    fn()   # warm-up: oneDNN picks and caches its kernels on the first call of a shape
    return [time_once(fn) for _ in range(repeats)]


def convolution_inputs(network, x) -> list[tuple[FoldedConv, torch.Tensor]]:
    """Every convolution of the network with the input it sees for x (in forward order)."""
    captured = []
    hooks = [m.register_forward_pre_hook(lambda m, args: captured.append((m, args[0].clone())))
             for m in network.modules() if isinstance(m, FoldedConv)]
    with torch.no_grad():
        network(x)
    for hook in hooks:
        hook.remove()
    return captured


def measure(batch=32, repeats=3, matmul_size=2048) -> dict:
    eager = EagerTFInception(load_fid_torchscript()).eval()
    scripted = load_fid_torchscript()
    x = torch.rand(batch, 3, SIZE, SIZE) * 2 - 1
    per_image = gflop(eager, x[:1])
    network = {}
    for name, net in (("ddgan", eager), ("before", scripted)):
        with torch.no_grad():
            seconds = best_seconds(lambda: net(x), repeats)
        network[name] = dict(summarize(seconds), images_per_second=batch / min(seconds),
                             gflop_per_second=per_image * batch / min(seconds))

    layers = []
    for module, inputs in convolution_inputs(eager, x):
        layer_gflop = gflop(module, inputs)
        with torch.no_grad():
            seconds = min(best_seconds(lambda: module(inputs), repeats))
        layers.append({"kernel": list(module.weight.shape), "input": list(inputs.shape), "stride": module.stride,
                       "gflop": layer_gflop, "seconds": seconds, "gflop_per_second": layer_gflop / seconds})
    a, b = torch.randn(matmul_size, matmul_size), torch.randn(matmul_size, matmul_size)
    matmul_seconds = min(best_seconds(lambda: a @ b, repeats + 2))
    matmul_rate = 2 * matmul_size ** 3 / matmul_seconds / 1e9

    conv_seconds = sum(layer["seconds"] for layer in layers)
    peak = max(matmul_rate, max(layer["gflop_per_second"] for layer in layers))
    ceiling = peak / per_image
    before = network["before"]["images_per_second"]
    return {"what": "the FID network's float32 arithmetic against this CPU's measured peak",
            "commit": git_commit(), "date": now(), **machine(torch.device("cpu")), "batch": batch,
            "repeats": repeats, "gflop_per_image": per_image, "network": network,
            "convolutions": {"count": len(layers), "gflop_per_image": sum(l["gflop"] for l in layers) / batch,
                             "images_per_second_alone": batch / conv_seconds,
                             "gflop_per_second": sum(l["gflop"] for l in layers) / conv_seconds, "layers": layers},
            "matmul": {"size": matmul_size, "gflop_per_second": matmul_rate},
            "peak_gflop_per_second": peak, "ceiling_images_per_second": ceiling,
            "ceiling_speedup_over_before": ceiling / before,
            "ddgan_speedup_over_before": network["ddgan"]["images_per_second"] / before}


def markdown(r, command: str) -> str:
    c, n = r["convolutions"], r["network"]
    rows = [("GFLOP per image (torch's FLOP counter, one forward pass)", f"{r['gflop_per_image']:.2f}"),
            (f"of which the {c['count']} convolutions", f"{c['gflop_per_image']:.2f}")]
    for name in ("before", "ddgan"):
        rows.append((f"network `{name}`: images/s (GFLOP/s)",
                     f"{n[name]['images_per_second']:.2f} ({n[name]['gflop_per_second']:.0f})"))
    rows += [("its convolutions alone, one by one: images/s (GFLOP/s)",
              f"{c['images_per_second_alone']:.2f} ({c['gflop_per_second']:.0f})"),
             (f"float32 matrix product {r['matmul']['size']}^3: GFLOP/s", f"{r['matmul']['gflop_per_second']:.0f}"),
             ("practical peak (the faster of the fastest convolution and the matrix product): GFLOP/s",
              f"{r['peak_gflop_per_second']:.0f}"),
             ("ceiling: peak / GFLOP per image, images/s", f"{r['ceiling_images_per_second']:.2f}"),
             ("largest possible speed-up over `before` in float32", f"{r['ceiling_speedup_over_before']:.2f}x"),
             ("ddgan's speed-up over `before` in this run", f"{r['ddgan_speedup_over_before']:.2f}x")]
    slowest = sorted(c["layers"], key=lambda l: -l["seconds"])[:8]
    lines = [f"# The FID network's ceiling on {r['device']}", "",
             f"commit `{r['commit']}`, {r['date']}, torch {r['torch']}, {r['threads']} torch thread(s), batch "
             f"{r['batch']}, best of {r['repeats']} repeats after a warm-up.", "", f"Command: `{command}`", "",
             "| quantity | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    lines += ["", "The convolutions that take longest (all of them are in the JSON):", "",
              "| kernel (out, in, kh, kw) | input (N, C, H, W) | stride | GFLOP | ms | GFLOP/s |", "|---|---|---|---|---|---|"]
    lines += [f"| {tuple(l['kernel'])} | {tuple(l['input'])} | {l['stride']} | {l['gflop']:.1f} | "
              f"{1000 * l['seconds']:.0f} | {l['gflop_per_second']:.0f} |" for l in slowest]
    return "\n".join(lines + [""])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fid_ceiling", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="images per forward pass (default 32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default=str(RESULTS))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m benchmarks.bench_fid_ceiling " + " ".join(argv if argv is not None else sys.argv[1:])
    results = measure(args.batch, args.repeats, args.matmul_size)
    stem = Path(args.out) / f"fid-ceiling-cpu-{slug(machine(torch.device('cpu'))['cpu'])}-{torch.get_num_threads()}t"
    write_result(stem, dict(results, command=command), markdown(results, command))
    print(markdown(results, command))
    print(f"written: {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
