"""Reconstruction seeds redrawn at every step (experiments/data/recon_seeds.py)."""

from __future__ import annotations

import pytest
import torch

from experiments.data.recon_seeds import RECON_SEED_OFFSET, reconstruction_seeds

TARGETS = torch.arange(40, dtype=torch.int64)


def test_range_dtype_and_determinism() -> None:
    seeds = reconstruction_seeds(3, "train", 5, TARGETS)
    assert seeds.dtype == torch.int64 and seeds.shape == (40,)
    assert seeds.min() >= RECON_SEED_OFFSET and seeds.max() < RECON_SEED_OFFSET + 2**31
    assert torch.equal(seeds, reconstruction_seeds(3, "train", 5, TARGETS.clone()))
    assert len(set(seeds.tolist())) == 40  # distinct examples, distinct seeds


@pytest.mark.parametrize(
    "other",
    [(4, "train", 5), (3, "val", 5), (3, "test", 5), (3, "train", 6)],
    ids=["run seed", "val", "test", "epoch"],
)
def test_every_input_changes_every_seed(other) -> None:
    base = reconstruction_seeds(3, "train", 5, TARGETS)
    changed = reconstruction_seeds(*other, TARGETS)
    assert (base != changed).all()


def test_independent_of_batching() -> None:
    whole = reconstruction_seeds(0, "val", 2, TARGETS)
    parts = [reconstruction_seeds(0, "val", 2, TARGETS[i : i + 7]) for i in range(0, 40, 7)]
    assert torch.equal(torch.cat(parts), whole)
    shuffled = TARGETS[torch.randperm(40, generator=torch.Generator().manual_seed(0))]
    out = reconstruction_seeds(0, "val", 2, shuffled)
    assert dict(zip(shuffled.tolist(), out.tolist(), strict=True)) == dict(
        zip(TARGETS.tolist(), whole.tolist(), strict=True)
    )


@pytest.mark.parametrize(
    "args, exc, match",
    [
        ((-1, "train", 0, TARGETS), ValueError, "run_seed"),
        ((0, "training", 0, TARGETS), ValueError, "split"),
        ((0, "train", -1, TARGETS), ValueError, "epoch"),
        ((0, "train", 0, TARGETS.float()), TypeError, "target_seeds"),
        ((0, "train", 0, TARGETS[None]), TypeError, "target_seeds"),
        ((0, "train", 0, [1, 2]), TypeError, "target_seeds"),
    ],
)
def test_bad_arguments(args, exc, match) -> None:
    with pytest.raises(exc, match=match):
        reconstruction_seeds(*args)
