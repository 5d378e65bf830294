"""Speed measurements, apart from the paper pipeline: each script writes JSON and markdown with the
commit, device and command to results/bench/ (monitoring_cost: results/monitoring/).

    make bench                                   python -m benchmarks.bench: sampling and a training iteration
    make device-check                            python -m benchmarks.device_check: the first run on a GPU
    python -m benchmarks.bench_fid               the FID pipelines against clean-fid
    python -m benchmarks.bench_fid_ceiling       how fast any float32 FID network could run here
    python -m benchmarks.profile_training        one training iteration, by operator
    python -m benchmarks.monitoring_cost         a sample grid against a training iteration
    python -m benchmarks.bench_cpu_precision     the cpu profile's pairs in float32 and bf16

timing: the helpers they share (timing, summaries, the machine, the timed sampler and training step).
"""
