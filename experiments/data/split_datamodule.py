"""A Lightning data module of three ready-made datasets, in epoch-seeded order."""

from __future__ import annotations

import lightning.pytorch as pl
from torch.utils.data import DataLoader, Dataset

from experiments.data.epoch_sampler import epoch_dataloader
from scrapl.validation import check_bool, check_int

__all__ = ["SplitDataModule"]


class SplitDataModule(pl.LightningDataModule):
    """Dataloaders of ``train_dataset``, ``val_dataset`` and ``test_dataset`` (set by the
    subclass): the training order is a permutation seeded by ``shuffle_seed`` and the epoch
    (:class:`~experiments.data.epoch_sampler.EpochShuffleSampler`); validation and test keep
    their order.

    Args:
        batch_size: examples per batch in every split.
        shuffle_seed: seed of the training order (the experiment's ``seed``).
        num_workers: dataloader workers.
        drop_last: drop the last incomplete training batch.
    """

    train_dataset: Dataset
    val_dataset: Dataset
    test_dataset: Dataset

    def __init__(
        self, batch_size: int, shuffle_seed: int, num_workers: int, drop_last: bool
    ) -> None:
        super().__init__()
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.shuffle_seed = check_int("shuffle_seed", shuffle_seed, 0)
        self.num_workers = check_int("num_workers", num_workers, 0)
        self.drop_last = check_bool("drop_last", drop_last)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return epoch_dataloader(
            dataset, self.batch_size, self.shuffle_seed, shuffle, self.num_workers, self.drop_last
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, shuffle=False)
