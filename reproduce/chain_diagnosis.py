"""Which denoising step of a DDGAN stacked-digit run loses the digits: two measurements of its training state.

    python -m reproduce.chain_diagnosis ~/runs/cpu/stackedmnist/ddgan-T4 \\
        --classifier ~/runs/cpu/stackedmnist/digit_classifier.pt --out results/cpu/stackedmnist-chain-A

1. Chains started from the data: diffuse n training images to a real x_k with q(x_k | x_0), run the
   generator's reverse chain x_k -> x_0 (k steps), and score the x_0 it ends at with the digit scores
   (modes, KL, confident fraction). k = T is ordinary sampling. A generator that predicted x_0 exactly
   would score as the data at every k (each posterior step then draws real pairs), so the first k whose
   score falls below the data's names the step that fails.
2. The discriminator at each t: the accuracy of the run's D (logit > 0: real) on real pairs (x_t, x_{t+1})
   against generated pairs with the same x_{t+1}, and its mean logits, for the raw and the EMA generator.

Writes <out>.csv (one row per measurement) and <out>.md (the two tables, the run's step and the commit).
"""
import argparse
import csv
from pathlib import Path

import numpy as np
import torch

from ddgan.base.provenance import git_commit, now
from ddgan.core.checkpoint import load_file
from ddgan.core.methods import build_method
from ddgan.core.trainer import STATE_FILE
from ddgan.core.training_data import load_training_array, to_model_space
from ddgan.metrics.digit_classifier import load_digit_classifier
from ddgan.metrics.mode_coverage import classify_stacked_digits, stacked_digit_scores

SCORE_BATCH = 500


def to_uint8_images(x):
    """Model-space images in [-1, 1] (N, C, H, W) -> uint8 NHWC."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def digit_scores(x, classifier):
    """The stacked-digit scores of model-space images."""
    batches = [to_uint8_images(x[i:i + SCORE_BATCH]) for i in range(0, len(x), SCORE_BATCH)]
    predictions = classify_stacked_digits(batches, classifier)
    return stacked_digit_scores(predictions.labels, predictions.confidences)


def steps_of(n, t):
    return torch.full((n,), t, dtype=torch.long)


@torch.no_grad()
def chain_from_data(method, G, x_0, k, generator=None):
    """x_0 reached by the reverse chain started from a real x_k ~ q(x_k | x_0); k = T is sampling."""
    n = len(x_0)
    if k == method.num_timesteps:
        x = torch.randn(x_0.shape, generator=generator)
    else:
        x = method.diffusion.q_sample(x_0, steps_of(n, k), torch.randn(x_0.shape, generator=generator))
    for t in reversed(range(k)):
        noise = torch.randn(x.shape, generator=generator)
        x = method.generated_x_t(G, x, steps_of(n, t), method.latent(n, rng=generator), noise)
    return x


@torch.no_grad()
def discriminator_by_step(method, G, D, x_0, generator=None):
    """Per t: D's accuracy on real against generated pairs (same x_{t+1}) and its mean logits."""
    rows = []
    for t in range(method.num_timesteps):
        steps = steps_of(len(x_0), t)
        x_t, x_tp1 = method.diffusion.q_sample_pairs(x_0, steps, lambda like: torch.randn(like.shape, generator=generator))
        fake = method.generated_x_t(G, x_tp1, steps, method.latent(len(x_0), rng=generator),
                                    torch.randn(x_0.shape, generator=generator))
        real_logits, fake_logits = D(x_t, steps, x_tp1)[:, 0], D(fake, steps, x_tp1)[:, 0]
        accuracy = ((real_logits > 0).float().mean() + (fake_logits <= 0).float().mean()) / 2
        rows.append({"t": t, "accuracy": float(accuracy), "real_logit": float(real_logits.mean()),
                     "fake_logit": float(fake_logits.mean())})
    return rows


def diagnose(state, classifier, n=2000, seed=0):
    """Both measurements of a training state (the dict of training-state.pt)."""
    method = build_method(state["config"]).eval()
    G, D = method.networks["generator"], method.networks["discriminator"]
    D.load_state_dict(state["networks"]["discriminator"])
    array = load_training_array(state["config"]["data"])
    x_0 = to_model_space(np.array(array[np.random.default_rng(seed).choice(len(array), n, replace=False)]))
    rows = [{"measurement": "data", "generator": "", "k": 0, **digit_scores(x_0, classifier)}]
    for name, weights in (("ema", state["ema"]["net"]), ("raw", state["networks"]["generator"])):
        G.load_state_dict(weights)
        generator = torch.Generator().manual_seed(seed)
        for k in range(1, method.num_timesteps + 1):
            scores = digit_scores(chain_from_data(method, G, x_0, k, generator), classifier)
            rows.append({"measurement": "chain_from_data", "generator": name, "k": k, **scores})
        for row in discriminator_by_step(method, G, D, x_0[:512], generator):
            rows.append({"measurement": "discriminator", "generator": name, **row})
    return rows


def write_report(stem, rows, run_dir, step, n):
    stem.parent.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(key for row in rows for key in row))
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows(rows)
    data = next(row for row in rows if row["measurement"] == "data")
    lines = [f"# Where the chain loses the digits: {run_dir} at step {step}", "",
             f"commit {git_commit()}, {now()}, {n} training images. `python -m reproduce.chain_diagnosis`", "",
             f"The data: {data['modes']} modes, KL {data['kl']:.3f}, confident fraction {data['confident_fraction']:.3f}.",
             "", "## Chains started from a real x_k (k = T is sampling)", "",
             "| generator | k | modes | KL | confident fraction |", "|---|---|---|---|---|"]
    lines += [f"| {r['generator']} | {r['k']} | {r['modes']} | {r['kl']:.3f} | {r['confident_fraction']:.3f} |"
              for r in rows if r["measurement"] == "chain_from_data"]
    lines += ["", "## The run's discriminator at each t (real against generated pairs, same x_{t+1})", "",
              "| generator | t | accuracy | mean logit, real | mean logit, generated |", "|---|---|---|---|---|"]
    lines += [f"| {r['generator']} | {r['t']} | {r['accuracy']:.3f} | {r['real_logit']:+.3f} | {r['fake_logit']:+.3f} |"
              for r in rows if r["measurement"] == "discriminator"]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reproduce.chain_diagnosis", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help=f"a DDGAN run directory with a {STATE_FILE}")
    parser.add_argument("--classifier", required=True, help="the digit classifier (python -m ddgan.metrics.digit_classifier)")
    parser.add_argument("--out", type=Path, required=True, help="output stem: writes <out>.csv and <out>.md")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    state = load_file(args.run_dir.expanduser() / STATE_FILE, "training state")
    if state["config"]["method"]["name"] != "ddgan":
        parser.error(f"{args.run_dir} trained {state['config']['method']['name']}; the diagnosis needs a DDGAN run")
    rows = diagnose(state, load_digit_classifier(args.classifier), args.samples, args.seed)
    write_report(args.out, rows, args.run_dir, state["step"], args.samples)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
