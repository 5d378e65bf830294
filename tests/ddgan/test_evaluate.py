"""The evaluation pipeline: records, folder/callable equivalence, points, modes, CLI, and bad inputs."""
import argparse
import hashlib
import json
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from ddgan.evaluate import add_eval_arguments, evaluate, run_eval
from ddgan.metrics import fid
from ddgan.metrics.digit_classifier import predict, save_digit_classifier, to_classifier_input, train_digit_classifier
from ddgan.metrics.errors import MetricsError
from ddgan.metrics.images import to_uint8, write_images
from ddgan.metrics.inception import FeatureExtractor
from ddgan.metrics.mode_coverage import CONFIDENT_PROBABILITY, mode_coverage, modes_of_labels
from ddgan.metrics.precision_recall import precision_recall
from ddgan.metrics.reference import load_reference

RECORD_FIELDS = {"method", "variant", "dataset", "config", "checkpoint", "checkpoint_sha256", "step", "commit", "protocol",
                 "feature_weights", "reference", "n_samples", "metrics", "device", "date"}
STANDIN = FeatureExtractor(lambda x: F.adaptive_avg_pool2d(x / 255.0, 3).flatten(1), "3x3 colour stand-in")


def image_pool(n=30, seed=0, size=16):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def pool_sampler(pool):
    """Noisy copies of pool images, in [-1, 1] NCHW, drawn with the given generator."""
    def sample_batch(n, generator):
        picks = torch.randint(0, len(pool), (n,), generator=generator)
        x = torch.from_numpy(pool)[picks].permute(0, 3, 1, 2).float() / 127.5 - 1
        return x + 0.1 * torch.randn(x.shape, generator=generator)
    return sample_batch


def draw(sample_batch, n, batch_size, seed=42):
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([sample_batch(min(batch_size, n - s), generator) for s in range(0, n, batch_size)])


def run(samples, tmp_path, **options):
    defaults = dict(dataset="toy", metrics="fid", n_samples=None, allow_fewer_samples=True, fid_weights=STANDIN,
                    cache_dir=tmp_path / "cache", results_file=tmp_path / "metrics.jsonl", work_dir=tmp_path,
                    batch_size=16, device="cpu")
    return evaluate(samples, **{**defaults, **options})


def test_callable_gives_one_record_per_protocol_with_the_fid_of_its_samples(tmp_path):
    pool = image_pool()
    checkpoint = tmp_path / "netG.pth"
    checkpoint.write_bytes(b"weights")
    records = run(pool_sampler(pool), tmp_path, n_samples=40, protocols="clean,paper", reference=pool,
                  method="ddpm", variant="T4", config={"T": 4}, checkpoint=checkpoint, step=1500)

    assert [r["protocol"] for r in records] == ["clean", "paper"]
    for record in records:
        assert set(record) == RECORD_FIELDS | {"fid_label"} and set(record["metrics"]) == {"fid"}
        assert record["fid_label"] == "FID-40"          # the toy data: no paper protocol
        assert (record["method"], record["variant"], record["config"], record["n_samples"]) == ("ddpm", "T4", {"T": 4}, 40)
        assert record["step"] == 1500
        assert record["checkpoint_sha256"] == hashlib.sha256(b"weights").hexdigest()
        assert record["feature_weights"] == {"fid_clean": STANDIN.weights, "fid_paper": STANDIN.weights}
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "metrics.jsonl", "netG.pth"]  # samples removed

    samples = to_uint8(draw(pool_sampler(pool), 40, 16))
    expected = fid.frechet_distance(
        *fid.feature_statistics(fid.reference_features(load_reference(samples), "clean", STANDIN, 16)),
        *fid.feature_statistics(fid.reference_features(load_reference(pool), "clean", STANDIN, 16)))
    assert records[0]["metrics"]["fid"] == pytest.approx(expected, rel=1e-9)
    assert records[1]["metrics"]["fid"] != records[0]["metrics"]["fid"]


def test_folder_and_callable_are_evaluated_identically(tmp_path):
    pool = image_pool()
    from_callable = run(pool_sampler(pool), tmp_path, n_samples=40, protocols="clean,paper", reference=pool)
    folder = tmp_path / "samples"
    folder.mkdir()
    write_images(to_uint8(draw(pool_sampler(pool), 40, 16)), folder, 0, ".png")
    from_folder = run(folder, tmp_path, protocols="clean,paper", reference=None)  # reuses the cached statistics
    assert [r["metrics"]["fid"] for r in from_folder] == [r["metrics"]["fid"] for r in from_callable]
    assert from_folder[0]["reference"] == from_callable[0]["reference"]


class PointSampler:
    """A 4-step sampler of 2-D points: NFE must come out as 4."""

    def __init__(self):
        self.network = nn.Linear(2, 2)
        nn.init.eye_(self.network.weight)
        nn.init.zeros_(self.network.bias)

    def sample(self, n, generator):
        x = torch.randn(n, 2, generator=generator)
        for _ in range(4):
            x = self.network(x) * 0.9
        return x


def test_points_get_raw_precision_recall_nfe_and_time(tmp_path):
    sampler = PointSampler()
    real = np.random.default_rng(3).normal(size=(300, 2)).astype(np.float32)
    (record,) = run(sampler.sample, tmp_path, metrics="pr,time", n_samples=200, reference=real,
                    network=sampler.network)
    fake = draw(sampler.sample, 200, 16).detach().numpy()
    subset = real[np.random.default_rng(42).choice(300, 200, replace=False)]
    precision, recall = precision_recall(subset, fake)
    assert record["protocol"] is None and record["feature_weights"] == {"pr": "raw coordinates"}
    assert record["metrics"]["precision"] == precision and record["metrics"]["recall"] == recall
    assert record["metrics"]["nfe"] == 4 and record["metrics"]["time_s"] > 0
    with pytest.raises(MetricsError, match="point samples \\(n, D\\) support only"):
        run(sampler.sample, tmp_path, metrics="fid", n_samples=20, reference=real)


@pytest.fixture(scope="module")
def stacked_digits(tmp_path_factory):
    """A saved (quickly trained) 8x8 digit classifier and a sampler of stacked digits."""
    data = load_digits()
    images = np.round(data.images * 255 / 16).astype(np.uint8)
    classifier = train_digit_classifier(images[:1000], data.target[:1000], images[1000:], data.target[1000:],
                                        epochs=2, width=8)
    path = tmp_path_factory.mktemp("classifier") / "digits.pt"
    save_digit_classifier(classifier, path)

    def sample_batch(n, generator):
        picks = torch.randint(0, 40, (n, 3), generator=generator)  # 40 digits: far from all 1000 modes
        return torch.from_numpy(images).float()[picks] / 127.5 - 1  # (n, 3, 8, 8)
    return path, classifier, sample_batch


def test_modes_of_generated_stacks(tmp_path, stacked_digits):
    path, classifier, sample_batch = stacked_digits
    (record,) = run(sample_batch, tmp_path, metrics="modes", n_samples=300, digit_classifier=path)
    samples = to_uint8(draw(sample_batch, 300, 16))
    labels = np.stack([predict(classifier, to_classifier_input(samples[..., c])) for c in range(3)], axis=1)
    assert (record["metrics"]["modes"], record["metrics"]["kl"]) == mode_coverage(modes_of_labels(labels))
    with torch.no_grad():
        confidences = np.stack([classifier(to_classifier_input(samples[..., c])).softmax(1).amax(1).numpy()
                                for c in range(3)], axis=1)
    confident = np.all(confidences >= CONFIDENT_PROBABILITY, axis=1)
    assert record["metrics"]["confident_fraction"] == pytest.approx(confident.mean())
    assert record["metrics"]["confident_modes"] == len(set(modes_of_labels(labels)[confident]))
    assert 1 < record["metrics"]["modes"] < 300 and "test accuracy" in record["feature_weights"]["digits"]


def test_run_eval_cli_success_and_clear_failure(tmp_path, stacked_digits, capsys):
    path, _, sample_batch = stacked_digits
    folder = tmp_path / "samples"
    folder.mkdir()
    write_images(to_uint8(draw(sample_batch, 30, 16)), folder, 0, ".png")
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    common = ["--samples", str(folder), "--dataset", "stacked_digits", "--results", str(tmp_path / "m.jsonl"),
              "--digit-classifier", str(path), "--work-dir", str(tmp_path), "--device", "cpu"]
    assert run_eval(parser.parse_args(common + ["--metrics", "modes", "--allow-fewer-samples"])) == 0
    assert json.loads(capsys.readouterr().out)["n_samples"] == 30
    assert run_eval(parser.parse_args(common + ["--metrics", "modes"])) == 2
    assert "26000" in capsys.readouterr().err
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 1


def test_run_eval_samples_from_a_checkpoint_through_load_sampler(tmp_path, monkeypatch, capsys):
    checkpoint = tmp_path / "netG.pth"
    checkpoint.write_bytes(b"ema weights")
    point_sampler = PointSampler()

    class LoadedSampler:
        sample, network, nfe, config, step = point_sampler.sample, point_sampler.network, 3, {"T": 4}, 2500

    module = types.ModuleType("ddgan.sampling")
    module.load_sampler = lambda path, device: LoadedSampler()
    monkeypatch.setitem(sys.modules, "ddgan.sampling", module)
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    args = parser.parse_args(["--checkpoint", str(checkpoint), "--dataset", "toy", "--metrics", "time",
                              "--results", str(tmp_path / "m.jsonl"), "--work-dir", str(tmp_path), "--device", "cpu"])
    assert run_eval(args) == 0
    record = json.loads((tmp_path / "m.jsonl").read_text())
    assert record["metrics"]["nfe"] == 4 and record["config"] == {"T": 4} and record["checkpoint"] == str(checkpoint)
    assert record["step"] == 2500    # the snapshot's training step, so that snapshots along a run are told apart
    assert "declares NFE 3 but called its network 4 times" in capsys.readouterr().err

    monkeypatch.setitem(sys.modules, "ddgan.sampling", None)  # a package without the sampler yet
    assert run_eval(args) == 2
    assert "--checkpoint needs ddgan.sampling.load_sampler" in capsys.readouterr().err


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "samples"
    path.mkdir()
    return path


def test_empty_folder(tmp_path, folder):
    with pytest.raises(MetricsError, match="is empty"):
        run(folder, tmp_path)


def test_mixed_image_sizes(tmp_path, folder):
    write_images(image_pool(2, size=16), folder, 0, ".png")
    write_images(image_pool(1, size=8), folder, 2, ".png")
    with pytest.raises(MetricsError, match="mixes image sizes"):
        run(folder, tmp_path)


def test_non_image_files(tmp_path, folder):
    write_images(image_pool(3), folder, 0, ".png")
    (folder / "notes.txt").write_text("stale")
    with pytest.raises(MetricsError, match="not image files \\(notes.txt\\)"):
        run(folder, tmp_path)
    (folder / "notes.txt").unlink()
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.raises(MetricsError, match="broken.png is not a readable image"):
        run(folder, tmp_path)


def test_fewer_or_more_samples_than_asked(tmp_path, folder):
    write_images(image_pool(5), folder, 0, ".png")
    with pytest.raises(MetricsError, match="holds 5 images but 6 were asked for"):
        run(folder, tmp_path, n_samples=6)
    with pytest.raises(MetricsError, match="holds 5 images but 4 were asked for"):
        run(folder, tmp_path, n_samples=4)
    with pytest.raises(MetricsError, match="on cifar10 uses 50000.*--allow-fewer-samples"):
        run(folder, tmp_path, dataset="cifar10", allow_fewer_samples=False)


def test_too_few_samples_from_a_sampler_are_refused_unless_allowed(tmp_path):
    with pytest.raises(MetricsError, match="100 samples asked for.*on cifar10 uses 50000"):
        run(pool_sampler(image_pool()), tmp_path, dataset="cifar10", n_samples=100, allow_fewer_samples=False)
    with pytest.raises(MetricsError, match="returned 3 samples"):
        run(lambda n, g: torch.zeros(3, 3, 8, 8), tmp_path, n_samples=10, reference=image_pool())


def test_unknown_names_and_wrong_sources(tmp_path, folder):
    write_images(image_pool(3), folder, 0, ".png")
    with pytest.raises(MetricsError, match="unknown metric kid; choose from fid, is, pr, modes, time"):
        run(folder, tmp_path, metrics="fid,kid")
    with pytest.raises(MetricsError, match="unknown FID protocol legacy"):
        run(folder, tmp_path, protocols="legacy")
    with pytest.raises(MetricsError, match="unknown method"):
        run(folder, tmp_path, method="gan")
    with pytest.raises(MetricsError, match="time metric needs a sampler"):
        run(folder, tmp_path, metrics="time")
    with pytest.raises(MetricsError, match="reference .* does not exist"):
        run(folder, tmp_path, reference=tmp_path / "absent.npz")


def test_missing_reference_statistics_say_how_to_make_them(tmp_path, folder):
    write_images(image_pool(3), folder, 0, ".png")
    with pytest.raises(MetricsError, match="no reference FID statistics|--reference PATH"):
        run(folder, tmp_path)


def test_the_50000_sample_gate_is_the_papers_datasets_and_other_data_get_fid_n(tmp_path, folder):
    pool = image_pool()
    write_images(pool, folder, 0, ".png")
    with pytest.raises(MetricsError, match="the paper's protocol on cifar10 uses 50000"):
        run(folder, tmp_path, dataset="cifar10", reference=pool, allow_fewer_samples=False)
    record, = run(folder, tmp_path, dataset="mine", reference=pool, allow_fewer_samples=False)
    assert record["fid_label"] == "FID-30" and record["n_samples"] == 30
    record, = run(folder, tmp_path, dataset="cifar10", reference=pool)
    assert record["fid_label"] == "FID-30"


def eval_cli(tmp_path, *args):
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    return run_eval(parser.parse_args([*args, "--work-dir", str(tmp_path), "--device", "cpu"]))


def test_an_unprepared_dataset_says_how_to_prepare_it(tmp_path, folder, monkeypatch, capsys):
    monkeypatch.setenv("DDGAN_DATA", str(tmp_path / "data"))
    write_images(image_pool(3), folder, 0, ".png")
    for dataset, how in (("cifar10", "ddgan data prepare cifar10"), ("mine", "ddgan data prepare folder PATH --name mine")):
        assert eval_cli(tmp_path, "--samples", str(folder), "--dataset", dataset, "--cache-dir", str(tmp_path / "c")) == 2
        assert capsys.readouterr().err == (f"ddgan eval: error: dataset {dataset!r} is not prepared: run `{how}` "
                                           "(or pass --reference PATH)\n")


def test_results_go_beside_the_samples_or_to_out_never_into_results(tmp_path, folder, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pool = image_pool(20)
    write_images(pool, folder, 0, ".png")
    np.save(tmp_path / "reference.npy", pool)
    common = ["--samples", str(folder), "--dataset", "mine", "--reference", str(tmp_path / "reference.npy"),
              "--cache-dir", str(tmp_path / "c")]
    monkeypatch.setattr(sys.modules["ddgan.evaluate"], "load_fid_extractor", lambda *args: STANDIN)
    assert eval_cli(tmp_path, *common) == 0
    assert json.loads(capsys.readouterr().out)["fid_label"] == "FID-20"
    assert (tmp_path / "samples-metrics.jsonl").is_file() and not (tmp_path / "results").exists()
    assert eval_cli(tmp_path, *common, "--out", str(tmp_path / "elsewhere.jsonl")) == 0
    assert (tmp_path / "elsewhere.jsonl").is_file()
