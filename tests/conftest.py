"""Fixtures shared by every test."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest
import torch


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
