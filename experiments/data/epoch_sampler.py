"""A shuffling sampler whose order depends only on (seed, epoch).

Lightning calls ``set_epoch`` on a dataloader's sampler at the start of every epoch (also
after restoring a checkpoint), so a run resumed at an epoch boundary sees exactly the
example order of the uninterrupted run, whatever the global RNG did in between.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from scrapl.validation import check_bool, check_int

__all__ = ["EpochShuffleSampler"]


class EpochShuffleSampler(Sampler[int]):
    """Indices ``0 .. n_items-1``, permuted by a generator seeded with ``seed + epoch``.

    Args:
        n_items: dataset length.
        seed: base seed of the permutations (>= 0).
        shuffle: False yields ``0 .. n_items-1`` in order every epoch.
    """

    def __init__(self, n_items: int, seed: int = 0, shuffle: bool = True) -> None:
        self.n_items = check_int("n_items", n_items, 0)
        self.seed = check_int("seed", seed, 0)
        self.shuffle = check_bool("shuffle", shuffle)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = check_int("epoch", epoch, 0)

    def __len__(self) -> int:
        return self.n_items

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n_items))
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n_items, generator=gen).tolist())
