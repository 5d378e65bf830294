"""The bench script's plumbing at a tiny size (it never asserts a time)."""
import json

import pytest
import torch

from ddgan.core.optimisation import Optimisation
from benchmarks.bench import main
from benchmarks.timing import bench_config, make_training_step, summarize

TINY = ["networks.generator.image_size=16", "networks.generator.base_channels=16",
        "networks.generator.channel_mult=[1,2]", "networks.generator.num_res_blocks=1",
        "networks.generator.attn_resolutions=[8]", "networks.generator.z_emb_dim=16", "networks.generator.n_mlp=1",
        "networks.discriminator.ngf=4", "networks.discriminator.t_emb_dim=16", "data.shape=[3,16,16]"]


def test_summary_of_repeats():
    stats = summarize([4.0, 1.0, 100.0, 3.0, 2.0])
    assert (stats["median"], stats["min"], stats["max"], stats["q1"], stats["q3"]) == (3.0, 1.0, 100.0, 2.0, 4.0)
    assert stats["repeats"] == 5 and summarize([0.5])["q3"] == 0.5


def test_the_timed_step_is_the_trainers_applies_r1_on_lazy_steps_and_updates_g_d_and_ema():
    config = bench_config("cifar10", TINY)
    optimisation, x_0 = make_training_step(config, torch.device("cpu"), batch=4)
    assert isinstance(optimisation, Optimisation) and x_0.shape == (4, 3, 16, 16)
    nets = optimisation.method.networks
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in nets.items()}
    ema_before = [p.clone() for p in optimisation.ema.net.parameters()]
    step = lambda k: optimisation.step(x_0, k)
    assert "r1" in step(0) and "r1" not in step(1) and "r1" in step(15)
    for name, net in nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters())), name
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, optimisation.ema.net.parameters()))


def test_bench_writes_json_and_markdown_named_by_device(tmp_path, capsys):
    assert main(["--device", "cpu", "--images", "3", "--batch", "4", "--repeats", "2", "--warmup", "1",
                 "--threads", "1", "--quiet", "--out", str(tmp_path), "--set", *TINY]) == 0
    (json_path,) = tmp_path.glob("*.json")
    assert json_path.name.startswith("cpu-") and json_path.name.endswith("-1t-custom.json")
    results = json.loads(json_path.read_text())
    assert results["threads"] == 1 and results["torch"] == torch.__version__ and "commit" in results
    sampling, training = results["sampling"], results["training"]
    assert (sampling["images"], sampling["nfe"], sampling["repeats"], len(sampling["seconds"])) == (3, 4, 2, 2)
    assert training["batch"] == 4 and training["lazy_reg"] == 15
    r1, plain = training["r1_step"]["median"], training["plain_step"]["median"]
    assert abs(training["amortised_median"] - (r1 + 14 * plain) / 15) < 1e-12
    markdown = json_path.with_suffix(".md").read_text()
    assert "| sample 3 images, DDGAN T=4 (NFE 4) |" in markdown and "R1 every 15 steps" in markdown
    assert markdown in capsys.readouterr().out


def test_training_profile_compares_memory_formats_on_the_same_step(tmp_path):
    """Both variants time the trainer's step on the cpu profile's networks, and the profiler's
    components account for the convolutions of each."""
    from benchmarks.profile_training import main as profile_main
    assert profile_main(["--batch", "4", "--repeats", "1", "--threads", "1", "--out", str(tmp_path)]) == 0
    (json_path,) = tmp_path.glob("training-profile-cpu-*-1t.json")
    results = json.loads(json_path.read_text())
    assert results["config"]["networks"]["generator"]["arch"] == "conv_unet"
    assert results["variants"] == ["contiguous", "channels_last"]
    for variant in results["variants"]:
        assert results["timings"][f"r1_step/{variant}"]["repeats"] == 1
        groups = results["profiles"][variant]["groups"]
        assert groups["convolutions (incl. FIR resampling, which runs as depthwise conv2d)"] > 0
    markdown = json_path.with_suffix(".md").read_text()
    assert "channels_last vs contiguous" in markdown and "| amortised (s) |" in markdown



@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_fid_ceiling_counts_the_inception_arithmetic_and_derives_its_ceiling(tmp_path):
    from benchmarks.bench_fid_ceiling import main as ceiling_main
    assert ceiling_main(["--batch", "1", "--repeats", "1", "--matmul-size", "64", "--threads", "1",
                         "--out", str(tmp_path)]) == 0
    (json_path,) = tmp_path.glob("fid-ceiling-cpu-*-1t.json")
    r = json.loads(json_path.read_text())
    convolutions = r["convolutions"]
    assert convolutions["count"] == 94
    # Inception-v3 at 299x299: 5.7 G multiply-adds; the convolutions hold all of the counted arithmetic
    assert 11.3 < r["gflop_per_image"] < 11.5
    assert abs(convolutions["gflop_per_image"] - r["gflop_per_image"]) < 1e-9
    first = convolutions["layers"][0]   # Conv2d_1a_3x3: 32 filters of 3x3x3, stride 2, 299 -> 149
    assert first["kernel"] == [32, 3, 3, 3] and first["input"] == [1, 3, 299, 299]
    assert abs(first["gflop"] - 2 * 32 * 27 * 149 * 149 / 1e9) < 1e-12
    assert r["peak_gflop_per_second"] >= max(layer["gflop_per_second"] for layer in convolutions["layers"])
    assert abs(r["ceiling_images_per_second"] - r["peak_gflop_per_second"] / r["gflop_per_image"]) < 1e-9
    before = r["network"]["before"]["images_per_second"]
    assert abs(r["ceiling_speedup_over_before"] - r["ceiling_images_per_second"] / before) < 1e-9
    assert "| largest possible speed-up over `before` in float32 |" in json_path.with_suffix(".md").read_text()


def test_the_precision_benchmark_builds_every_cpu_profile_pair_without_prepared_data(tmp_path, monkeypatch):
    from benchmarks.bench_cpu_precision import Iteration, cpu_profile_configs
    monkeypatch.setenv("DDGAN_DATA", str(tmp_path))          # nothing prepared there
    configs = cpu_profile_configs()
    assert {"stackedmnist ddgan-T4", "stackedmnist ddgan-T1", "cifar10_subset ddgan-T4", "cifar10_subset ddpm"} <= set(configs)
    iteration = Iteration(configs["cifar10_subset ddpm"], "bf16")
    assert iteration.batch.shape == (64, 3, 32, 32) and iteration.seconds(1) > 0


def test_small_presets_bench_times_every_small_preset_and_a_variant(capsys):
    from benchmarks.bench_small_presets import PRESETS, main as bench_small
    rows = bench_small(["--rounds", "1", "--threads", "1", "--no-write",
                        "--variant", "small32, conv D=small32:networks.discriminator="
                                     '{"arch":"conv_discriminator","in_channels":3,"base_channels":32,"channel_mult":[1,2,2]}'])
    assert [row["configuration"] for row in rows] == [*PRESETS, "small32, conv D"]
    assert all(row["seconds"] > 0 and row["batch"] == 64 for row in rows)
    assert rows[-1]["parameters"]["discriminator"] < rows[0]["parameters"]["discriminator"]
    assert "| small32 | generator 0.67M, discriminator 0.80M | 64 |" in capsys.readouterr().out
