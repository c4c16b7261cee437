"""Fixtures shared by every test."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

# Torch work on one thread unless the environment asks for more (OMP_NUM_THREADS=2 pytest
# ...): with several OpenMP threads per process on a loaded machine, every parallel operator
# waits for descheduled threads (the suite took many times longer) and some CPU kernels are not
# bit-reproducible from one process to the next. Set before torch is imported, so that
# subprocesses started by tests (scripts/train.py, DDP ranks, submitit jobs) inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
TORCH_THREADS = int(os.environ["OMP_NUM_THREADS"])

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def torch_threads() -> Iterator[int]:
    """Every test starts on TORCH_THREADS torch threads (a test about threads may change
    them; the next test gets them back)."""
    torch.set_num_threads(TORCH_THREADS)
    yield TORCH_THREADS


@pytest.fixture(autouse=True)
def seeded_global_rngs() -> Iterator[None]:
    """Every test starts from seeded global generators (torch, numpy's legacy one, Python's),
    so that inputs drawn from them (``torch.randn``, layer initialisations, ...) are the same
    on every run and whichever tests ran before. Tests that need independent streams use
    their own ``torch.Generator`` / ``numpy.random.default_rng``."""
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002
    random.seed(0)
    yield
