"""Lightning data module of the synthetic sound-matching experiments (SPEC §7).

Wraps :class:`experiments.data.theta_grid.ThetaGrid`: the three splits are fixed by the
grid's folds (val/test θ pairs never occur in train). The training order is a permutation
seeded by ``shuffle_seed`` and the epoch (:class:`EpochShuffleSampler`), so a run is
reproducible and resumes with the same data order; val and test are shuffled once with the
same seed. Like the published set-up, every split drops its last incomplete batch
(3072 / 1024 / 992 examples at batch 32 on the paper grid). Items are only recipes (θ and
the target seed); the module renders the audio with the synth on the fly.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from experiments.data.epoch_sampler import EpochShuffleSampler
from experiments.data.theta_grid import SPLITS, ThetaGrid, ThetaGridDataset
from scrapl.validation import check_bool, check_int

__all__ = ["ThetaGridDataModule"]


class ThetaGridDataModule(pl.LightningDataModule):
    """θ-grid splits as dataloaders.

    Args:
        n_per_dim, n_dims, n_seeds, n_folds, train_folds, val_folds, test_folds: the grid
            (see :class:`ThetaGrid`); the paper uses 32 × 32 points × 5 seeds, 5 folds 3/1/1.
        batch_size: examples per batch in every split.
        shuffle_seed: seed of the data orders (the run's ``seed``).
        num_workers: dataloader workers (items are tiny; 0 is usually fastest).
        drop_last: drop the last incomplete batch of every split.
    """

    def __init__(
        self,
        n_per_dim: int = 32,
        n_dims: int = 2,
        n_seeds: int = 5,
        n_folds: int = 5,
        train_folds: Sequence[int] = (0, 1, 2),
        val_folds: Sequence[int] = (3,),
        test_folds: Sequence[int] = (4,),
        batch_size: int = 32,
        shuffle_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = True,
    ) -> None:
        super().__init__()
        self.grid = ThetaGrid(
            n_per_dim, n_dims, n_seeds, n_folds, tuple(train_folds), tuple(val_folds),
            tuple(test_folds),
        )  # fmt: skip
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.shuffle_seed = check_int("shuffle_seed", shuffle_seed, 0)
        self.num_workers = check_int("num_workers", num_workers, 0)
        self.drop_last = check_bool("drop_last", drop_last)
        self.datasets = {split: ThetaGridDataset(self.grid, split) for split in SPLITS}
        for split in ("train", "val"):
            n = len(self.datasets[split])
            if n == 0 or (self.drop_last and n < self.batch_size):
                raise ValueError(
                    f"the {split} split of {self.grid} has {n} examples, fewer than one batch "
                    f"(batch_size={self.batch_size}, drop_last={self.drop_last}): raise "
                    "n_per_dim or n_seeds, or lower batch_size"
                )

    @property
    def train_dataset(self) -> ThetaGridDataset:
        return self.datasets["train"]

    @property
    def val_dataset(self) -> ThetaGridDataset:
        return self.datasets["val"]

    @property
    def test_dataset(self) -> ThetaGridDataset:
        return self.datasets["test"]

    def sampler(self, split: str) -> EpochShuffleSampler:
        """The sampler of ``split``: reshuffled every epoch for train, one fixed order else."""
        n = len(self.datasets[split])
        return EpochShuffleSampler(n, self.shuffle_seed, shuffle=True, reshuffle=split == "train")

    def train_order(self, epoch: int) -> list[int]:
        """Indices of the training set in the order of ``epoch`` (what the loader yields)."""
        return self.sampler("train").order(epoch)

    def _loader(self, split: str) -> DataLoader:
        return DataLoader(
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
