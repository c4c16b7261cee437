"""A shuffling sampler whose order depends only on (seed, epoch), shardable and resumable.

Lightning calls ``set_epoch`` on a dataloader's sampler at the start of every epoch (also
after restoring a checkpoint), so a run resumed at an epoch boundary sees exactly the
example order of the uninterrupted run, whatever the global RNG did in between.

Data parallel (``num_replicas`` > 1): the epoch's one global order is cut into global
batches of ``batch_size × num_replicas`` examples, and rank ``r`` takes the ``r``-th block of
``batch_size`` of each, so that the ranks' batches of one step, concatenated in rank order,
are the batch of a single process with ``batch_size × num_replicas`` (what makes a DDP run
comparable with one process). Every rank then has the same number of batches (the
remainder that does not fill a global batch is dropped, as DDP needs equal steps).

Mid-epoch resume: :meth:`resume_at` ``(epoch, start)`` makes the next iteration of that
epoch begin at position ``start`` of the global order (examples that were consumed before
the checkpoint, counted over all ranks), so that a run resumed on another number of
devices continues with the examples the interrupted run had not seen.
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
        num_replicas: number of data-parallel ranks sharing the order (>= 1).
        rank: this rank, ``0 .. num_replicas-1``.
        batch_size: examples per batch on each rank (>= 1; used when ``num_replicas`` > 1).
    """

    def __init__(
        self,
        n_items: int,
        seed: int = 0,
        shuffle: bool = True,
        reshuffle: bool = True,
        num_replicas: int = 1,
        rank: int = 0,
        batch_size: int = 1,
    ) -> None:
        self.n_items = check_int("n_items", n_items, 0)
        self.seed = check_int("seed", seed, 0)
        self.shuffle = check_bool("shuffle", shuffle)
        self.reshuffle = check_bool("reshuffle", reshuffle)
        self.num_replicas = check_int("num_replicas", num_replicas, 1)
        self.rank = check_int("rank", rank, 0)
        if self.rank >= self.num_replicas:
            raise ValueError(
                f"rank must be in 0 .. num_replicas-1 = {self.num_replicas - 1}, got {rank}"
            )
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.epoch = 0
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = check_int("epoch", epoch, 0)

    def resume_at(self, epoch: int, start: int) -> None:
        """Begin the next iteration of ``epoch`` at position ``start`` of its global order
        (once; an iteration of another epoch forgets it)."""
        epoch = check_int("epoch", epoch, 0)
        start = check_int("start", start, 0)
        self._resume = (epoch, start) if start > 0 else None

    @property
    def global_batch(self) -> int:
        """Examples of one step over all ranks (``batch_size × num_replicas``)."""
        return self.batch_size * self.num_replicas

    def __len__(self) -> int:
        """Examples this rank yields in a whole epoch."""
        if self.num_replicas == 1:
            return self.n_items
        return (self.n_items // self.global_batch) * self.batch_size

    def order(self, epoch: int) -> list[int]:
        """The global order of ``epoch`` (all ranks), without changing the sampler's epoch."""
        epoch = check_int("epoch", epoch, 0)
        if not self.shuffle:
            return list(range(self.n_items))
        gen = torch.Generator().manual_seed(self.seed + (epoch if self.reshuffle else 0))
        return torch.randperm(self.n_items, generator=gen).tolist()

    def shard(self, order: list[int]) -> list[int]:
        """This rank's part of ``order``: its block of ``batch_size`` in every full global
        batch; ``order`` itself with one rank."""
        if self.num_replicas == 1:
            return order
        g, b = self.global_batch, self.batch_size
        full = len(order) // g * g
        return [
            order[i + j]
            for i in range(0, full, g)
            for j in range(self.rank * b, (self.rank + 1) * b)
        ]

    def __iter__(self) -> Iterator[int]:
        order = self.order(self.epoch)
        resume, self._resume = self._resume, None
        if resume is not None and resume[0] == self.epoch:
            order = order[resume[1] :]
        return iter(self.shard(order))
