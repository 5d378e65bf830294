"""Where a result came from: code commit, device and date, recorded next to every number."""
import datetime
import platform
import subprocess
from pathlib import Path

import torch

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def git_commit():
    """HEAD of the repository holding this package ('+dirty' if tracked files differ), or None."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=10)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def device_name(device=None):
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
