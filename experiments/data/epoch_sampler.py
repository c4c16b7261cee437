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
        reshuffle: False keeps the epoch-0 permutation at every epoch (one fixed order per
            seed, e.g. for an evaluation split whose last incomplete batch is dropped: the
            same examples are evaluated at every epoch).
    """

    def __init__(
        self, n_items: int, seed: int = 0, shuffle: bool = True, reshuffle: bool = True
    ) -> None:
        self.n_items = check_int("n_items", n_items, 0)
        self.seed = check_int("seed", seed, 0)
        self.shuffle = check_bool("shuffle", shuffle)
        self.reshuffle = check_bool("reshuffle", reshuffle)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = check_int("epoch", epoch, 0)

    def __len__(self) -> int:
        return self.n_items

    def order(self, epoch: int) -> list[int]:
        """The indices of ``epoch``, without changing the sampler's own epoch."""
        epoch = check_int("epoch", epoch, 0)
        if not self.shuffle:
            return list(range(self.n_items))
        gen = torch.Generator().manual_seed(self.seed + (epoch if self.reshuffle else 0))
        return torch.randperm(self.n_items, generator=gen).tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.order(self.epoch))
