"""Lightning data module of the synthetic sound-matching experiments (the paper's set-up).

Wraps :class:`experiments.data.theta_grid.ThetaGrid`: the three splits are fixed by the
grid's folds (val/test θ pairs never occur in train); orders as in
:class:`~experiments.data.split_datamodule.SplitDataModule`. Like the published set-up,
every split drops its last incomplete batch (3072 / 1024 / 992 examples at batch 32 on the
paper grid). Items are only recipes (θ and the target seed); the module renders the audio
with the synth on the fly.
"""

from __future__ import annotations

from collections.abc import Sequence

from experiments.data.split_datamodule import SPLITS, SplitDataModule
from experiments.data.theta_grid import ThetaGrid, ThetaGridDataset

__all__ = ["ThetaGridDataModule"]


class ThetaGridDataModule(SplitDataModule):
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
        super().__init__(batch_size, shuffle_seed, num_workers, drop_last)
        self.grid = ThetaGrid(
            n_per_dim, n_dims, n_seeds, n_folds, tuple(train_folds), tuple(val_folds),
            tuple(test_folds),
        )  # fmt: skip
        self.datasets = {split: ThetaGridDataset(self.grid, split) for split in SPLITS}
        self.check_splits(repr(self.grid))
