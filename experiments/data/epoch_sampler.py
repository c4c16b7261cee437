"""A shuffling sampler whose order depends only on (seed, epoch).

Lightning calls ``set_epoch`` on a dataloader's sampler at the start of every epoch (also
after restoring a checkpoint), so a run resumed at an epoch boundary sees exactly the
example order of the uninterrupted run, whatever the global RNG did in between.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from scrapl.validation import check_bool, check_int

__all__ = ["EpochShuffleSampler", "epoch_dataloader"]


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


def epoch_dataloader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    shuffle: bool,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A dataloader over ``dataset`` in :class:`EpochShuffleSampler` order (``seed``, epoch).

    ``drop_last`` applies only when shuffling (training); workers' base seeds come from a
    generator seeded with ``seed``, not from the global RNG, so that creating an iterator does
    not shift other random streams (dropout) and a resumed run stays exact.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochShuffleSampler(len(dataset), seed, shuffle),
        num_workers=num_workers,
        drop_last=drop_last and shuffle,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
