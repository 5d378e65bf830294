from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent   # the repository
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _few_threads():
    # the suite runs on 2 cores; more threads only add contention for these small tensors
    torch.set_num_threads(1)
