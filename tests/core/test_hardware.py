"""bf16 support is read from the CPU's flags, and its absence is said in words."""
from ddgan.core.hardware import bf16_support
from reproduce.profiles import cpu_mixed_precision


def cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


def test_bf16_is_available_with_avx512_bf16_or_amx_and_not_with_plain_avx512(tmp_path):
    assert bf16_support("cpu", cpuinfo(tmp_path, "fpu avx2 avx512f avx512_bf16")).available
    assert bf16_support("cpu", cpuinfo(tmp_path, "fpu avx2 amx_bf16 amx_tile")).available
    missing = bf16_support("cpu", cpuinfo(tmp_path, "fpu avx2 avx512f"))
    assert not missing.available and "neither AVX512_BF16 nor AMX" in missing.reason


def test_the_cpu_profile_falls_back_to_float32_with_one_line_why(monkeypatch):
    import ddgan.core.hardware as hardware
    monkeypatch.setattr(hardware, "bf16_support", lambda device: hardware.Bf16Support(False, "no bf16 here"))
    lines = []
    assert cpu_mixed_precision(announce=lines.append) == "no"
    assert lines == ["cpu profile: training in float32, not bf16: no bf16 here"]
