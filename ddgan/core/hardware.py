"""What the machine can compute fast (bf16 on this CPU or GPU) and how much memory a run takes of it."""
import os
import resource
from pathlib import Path
from typing import NamedTuple

from ddgan.base.provenance import cpu_fields

# CPU instruction sets with bf16 arithmetic: AVX512_BF16 (dot products) and AMX (tiles); without them
# oneDNN emulates bf16 and autocast is slower than float32
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class Bf16Support(NamedTuple):
    available: bool
    reason: str


def bf16_support(device="cpu", cpuinfo=Path("/proc/cpuinfo")):
    """Whether bf16 autocast pays on `device`, with the reason in words."""
    import torch
    if str(device).startswith("cuda"):
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return Bf16Support(True, f"{torch.cuda.get_device_name()} supports bf16")
        return Bf16Support(False, "this GPU has no bf16 arithmetic")
    flags = set(cpu_fields(cpuinfo).get("flags", "").split())
    present = [flag for flag in CPU_BF16_FLAGS if flag in flags]
    if present:
        return Bf16Support(True, f"the CPU has {', '.join(f.upper() for f in present)}")
    return Bf16Support(False, "the CPU has neither AVX512_BF16 nor AMX, so bf16 would be emulated (slower than float32)")


def memory_use(device):
    """(the most memory this process has held on `device`, the device's total), in bytes: resident memory
    against physical memory on the CPU, allocated against total on a GPU."""
    import torch
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), torch.cuda.get_device_properties(device).total_memory
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss     # KiB on Linux
    return peak_kib * 1024, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
