"""Where a result came from: code commit, device, date and file hashes, recorded next to every number."""
import datetime
import hashlib
import json
import platform
import re
import subprocess
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


# what the package writes as it runs: a change there does not make the code that ran differ from HEAD
OUTPUT_FOLDERS = ("results",)


def git_commit(root=PACKAGE_ROOT):
    """HEAD of the repository at `root` ('+dirty' if tracked files other than the outputs in
    OUTPUT_FOLDERS differ), or None."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                    *(f":(top,exclude){folder}" for folder in OUTPUT_FOLDERS)).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


# the widest vector instruction set first: a hypervisor may name different CPU generations alike ('AMD
# EPYC'), and their speeds differ most by this
VECTOR_EXTENSIONS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))


def cpu_fields(cpuinfo=Path("/proc/cpuinfo")):
    """The first CPU's fields in /proc/cpuinfo ('model name', 'flags', ...), or {} where there is none."""
    try:
        first_cpu = cpuinfo.read_text().split("\n\n")[0]
    except OSError:
        return {}
    return {key.strip(): value.strip() for key, value in
            (line.split(":", 1) for line in first_cpu.splitlines() if ":" in line)}


def cpu_model(cpuinfo=Path("/proc/cpuinfo")):
    """The CPU's model name and its widest vector extension ('AMD EPYC, AVX2'), from /proc/cpuinfo on
    Linux, else what `platform` knows of it."""
    fields = cpu_fields(cpuinfo)
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    extension = next((name for flag, name in VECTOR_EXTENSIONS if flag in flags), None)
    return f"{model}, {extension}" if extension else model


def device_name(device) -> str:
    """The hardware that `device` names: the GPU's name, or 'CPU <model>'."""
    import torch     # here, so that recording a commit or a hash does not import torch
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {cpu_model()}"


def machine_description(device=None) -> str:
    """Where a run ran: the GPU's name, or the CPU model and the threads torch uses (default: cuda if available)."""
    import torch
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_model()}, {torch.get_num_threads()} threads)"


def now():
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def file_sha256(path, chunk_bytes=1 << 20, on_chunk=None) -> str:
    """Hex sha256 of a file, read in chunks; `on_chunk(n_bytes)` is called after each (progress bars)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(chunk_bytes), b""):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return digest.hexdigest()


def json_digest(value, algorithm="sha256", length=None) -> str:
    """Hex digest of a JSON value (a config, a cache key), keys sorted: equal values, equal digests."""
    return hashlib.new(algorithm, json.dumps(value, sort_keys=True).encode()).hexdigest()[:length]


def slug(text):
    """A file-name-safe form of a label: lower case, runs of other characters as one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
