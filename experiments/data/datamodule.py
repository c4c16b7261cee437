"""Lightning data module of the synthetic sound-matching experiments (SPEC §6).

Wraps :class:`experiments.data.theta_grid.ThetaGrid`: the three splits are fixed by the
grid and ``split_seed`` (val/test θ pairs never occur in train); the training order is a
permutation seeded by ``shuffle_seed`` and the epoch (:class:`EpochShuffleSampler`), so a
run is reproducible and resumes with the same data order. Items are only recipes (θ and
seeds); the module renders the audio with the synth on the fly.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from experiments.data.epoch_sampler import EpochShuffleSampler
from experiments.data.theta_grid import ThetaGrid, ThetaGridDataset
from scrapl.validation import check_int

__all__ = ["ThetaGridDataModule"]


class ThetaGridDataModule(pl.LightningDataModule):
    """θ-grid splits as dataloaders.

    Args:
        n_per_dim, n_dims, n_seeds, fractions, split_seed: the grid (see :class:`ThetaGrid`);
            the paper uses 32 × 32 points × 5 seeds, 60/20/20.
        batch_size: examples per batch in every split.
        shuffle_seed: seed of the training order (the experiment's ``seed``).
        num_workers: dataloader workers (items are tiny; 0 is usually fastest).
        drop_last: drop the last incomplete training batch.
    """

    def __init__(
        self,
        n_per_dim: int = 32,
        n_dims: int = 2,
        n_seeds: int = 5,
        fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
        split_seed: int = 0,
        batch_size: int = 32,
        shuffle_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        self.grid = ThetaGrid(n_per_dim, n_dims, n_seeds, tuple(fractions), split_seed)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.shuffle_seed = check_int("shuffle_seed", shuffle_seed, 0)
        self.num_workers = check_int("num_workers", num_workers, 0)
        self.drop_last = bool(drop_last)
        self.train_dataset = ThetaGridDataset(self.grid, "train")
        self.val_dataset = ThetaGridDataset(self.grid, "val")
        self.test_dataset = ThetaGridDataset(self.grid, "test")
        for split, ds in (("train", self.train_dataset), ("val", self.val_dataset)):
            if len(ds) == 0:
                raise ValueError(
                    f"the {split} split of {self.grid} is empty: raise n_per_dim or n_seeds, "
                    "or change fractions"
                )

    def _loader(self, dataset: ThetaGridDataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(len(dataset), self.shuffle_seed, shuffle),
            num_workers=self.num_workers,
            drop_last=self.drop_last and shuffle,
            persistent_workers=self.num_workers > 0,
            # Workers' base seeds come from this generator, not from the global RNG, so that
            # creating an iterator does not shift dropout's random stream (exact resume).
            generator=torch.Generator().manual_seed(self.shuffle_seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, shuffle=False)
