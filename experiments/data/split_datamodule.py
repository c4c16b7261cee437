"""A Lightning data module of three ready-made datasets, in seeded orders (the paper's set-up).

The base of the θ-grid and the one-shot data modules. The training order is a permutation
seeded by ``shuffle_seed`` and the epoch (:class:`EpochShuffleSampler`), so a run is
reproducible and resumes with the same data order; validation and test are shuffled once with
the same seed (the published set-up shuffles every split, and with ``drop_last`` the dropped
examples are then a matter of the seed, the same at every epoch).

The training loader is a :class:`~experiments.data.resumable_loader.ResumableDataLoader`: a
checkpoint written in the middle of an epoch resumes at the next batch. Under data parallel
(a trainer with ``world_size`` > 1) every split's order is sharded by the module itself
(:class:`EpochShuffleSampler`'s ``num_replicas`` / ``rank``: the ranks' batches of a step
concatenate to the batch of one process with ``batch_size × world_size``), so Lightning's own
distributed sampler must be off (``trainer.use_distributed_sampler=false``, as in
``trainer=ddp`` / ``ddp_cpu``). ``batch_size`` is per device.

The batches go to the device but for their :data:`HOST_KEYS` (target seeds, training
shifts): integers the host reads at every step (per-example generators, range checks), which
on a GPU would otherwise be read back from it (host syncs).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from experiments.data.epoch_sampler import EpochShuffleSampler
from experiments.data.resumable_loader import ResumableDataLoader
from scrapl.validation import check_bool, check_int

__all__ = ["HOST_KEYS", "SPLITS", "SplitDataModule"]

SPLITS = ("train", "val", "test")
HOST_KEYS = ("seed", "shift")


class SplitDataModule(pl.LightningDataModule):
    """Dataloaders of ``datasets["train" | "val" | "test"]`` (set by the subclass).

    Args:
        batch_size: examples per batch in every split.
        shuffle_seed: seed of the data orders (the run's ``seed``).
        num_workers: dataloader workers.
        drop_last: drop the last incomplete batch of every split.
    """

    datasets: dict[str, Dataset]

    def __init__(
        self, batch_size: int, shuffle_seed: int, num_workers: int, drop_last: bool
    ) -> None:
        super().__init__()
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.shuffle_seed = check_int("shuffle_seed", shuffle_seed, 0)
        self.num_workers = check_int("num_workers", num_workers, 0)
        self.drop_last = check_bool("drop_last", drop_last)

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """The batch on ``device``, but for its :data:`HOST_KEYS` (module docstring)."""
        if not isinstance(batch, dict):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        host = {k: v for k, v in batch.items() if k in HOST_KEYS}
        rest = {k: v for k, v in batch.items() if k not in HOST_KEYS}
        return {**super().transfer_batch_to_device(rest, device, dataloader_idx), **host}

    def check_splits(self, what: str) -> None:
        """Refuse a train or val split without one full batch (``what`` names the data)."""
        for split in ("train", "val"):
            n = len(self.datasets[split])
            if n == 0 or (self.drop_last and n < self.batch_size):
                raise ValueError(
                    f"the {split} split of {what} has {n} examples, fewer than one batch "
                    f"(batch_size={self.batch_size}, drop_last={self.drop_last}): use more "
                    "data or a smaller batch_size"
                )

    @property
    def train_dataset(self) -> Dataset:
        return self.datasets["train"]

    @property
    def val_dataset(self) -> Dataset:
        return self.datasets["val"]

    @property
    def test_dataset(self) -> Dataset:
        return self.datasets["test"]

    def _ranks(self) -> tuple[int, int]:
        """``(world_size, global_rank)`` of the attached trainer, ``(1, 0)`` without one."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or trainer.world_size == 1:
            return 1, 0
        if getattr(trainer._accelerator_connector, "use_distributed_sampler", False):
            raise ValueError(
                f"{type(self).__name__} shards its seeded orders over the {trainer.world_size} "
                "ranks itself: set trainer.use_distributed_sampler=false (trainer=ddp and "
                "trainer=ddp_cpu do)"
            )
        return trainer.world_size, trainer.global_rank

    def sampler(self, split: str) -> EpochShuffleSampler:
        """The sampler of ``split``: reshuffled every epoch for train, one fixed order else;
        sharded over the trainer's ranks under data parallel."""
        n = len(self.datasets[split])
        world, rank = self._ranks()
        return EpochShuffleSampler(
            n, self.shuffle_seed, shuffle=True, reshuffle=split == "train",
            num_replicas=world, rank=rank, batch_size=self.batch_size,
        )  # fmt: skip

    def train_order(self, epoch: int) -> list[int]:
        """Indices of the training set in the order of ``epoch`` (what the loader yields)."""
        return self.sampler("train").order(epoch)

    def _loader(self, split: str) -> DataLoader:
        loader = ResumableDataLoader if split == "train" else DataLoader
        return loader(
            self.datasets[split],
            batch_size=self.batch_size,
            sampler=self.sampler(split),
            num_workers=self.num_workers,
            drop_last=self.drop_last,
            persistent_workers=self.num_workers > 0,
            # Workers' base seeds come from this generator, not from the global RNG, so that
            # creating an iterator does not shift dropout's random stream (exact resume).
            generator=torch.Generator().manual_seed(self.shuffle_seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
