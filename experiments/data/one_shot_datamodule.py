"""Lightning data module of the TR-808 experiment: a one-shot collection as dataloaders.

The collection (:class:`~experiments.data.one_shots.OneShotFolder`, the Hydrogen kit through
it, or :class:`~experiments.data.tr808_synthetic.TR808SyntheticOneShots`) fixes the sounds and
their split. Training items carry the "meso" shift (the paper: uniform in ``[-max_shift,
max_shift]``, drawn once per item from ``shift_seed``; ``max_shift = 0`` for "micro");
validation and test items are aligned (shift 0). Orders as in
:class:`~experiments.data.split_datamodule.SplitDataModule`. :class:`OneShotFolderDataModule`
builds the collection from a folder (``data=one_shots data.root=DIR``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from experiments.data.one_shot_dataset import OneShotCollection
from experiments.data.one_shots import OneShotFolder
from experiments.data.split_datamodule import SplitDataModule
from scrapl.validation import check_int

__all__ = ["OneShotDataModule", "OneShotFolderDataModule"]


class OneShotDataModule(SplitDataModule):
    """Train / val / test dataloaders of a one-shot collection.

    Args:
        collection: the sounds and their split.
        batch_size: examples per batch in every split (the paper: 8).
        max_shift: largest training shift in samples (the paper's "meso": 2048; 0: "micro").
        shift_seed: seed of the per-item training shifts.
        shuffle_seed: seed of the data orders (the run's ``seed``).
        num_workers: dataloader workers (items are in memory; 0 is usually fastest).
        drop_last: drop the last incomplete batch of every split.
    """

    def __init__(
        self,
        collection: OneShotCollection,
        batch_size: int = 8,
        max_shift: int = 0,
        shift_seed: int = 0,
        shuffle_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__(batch_size, shuffle_seed, num_workers, drop_last)
        if not isinstance(collection, OneShotCollection):
            raise TypeError(
                f"collection must be a OneShotCollection, got {type(collection).__name__}"
            )
        self.collection = collection
        self.max_shift = check_int("max_shift", max_shift, 0)
        self.datasets = {
            "train": collection.dataset("train", self.max_shift, shift_seed),
            "val": collection.dataset("val"),
            "test": collection.dataset("test"),
        }
        self.check_splits(repr(collection))


class OneShotFolderDataModule(OneShotDataModule):
    """:class:`OneShotDataModule` of a folder of one-shots (:class:`OneShotFolder`), so that
    one argument, ``root``, points a run at the user's own sounds.

    Args:
        root, file_list, split, split_seed, sr, n_samples, skip_bad, min_samples,
            silence_threshold: those of :class:`~experiments.data.one_shots.OneShotFolder`.
        batch_size, max_shift, shift_seed, shuffle_seed, num_workers, drop_last: those of
            :class:`OneShotDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        file_list: str | os.PathLike | Sequence[str] | None = None,
        split: Sequence[float | int] = (0.625, 0.1875, 0.1875),
        split_seed: int = 0,
        sr: int = 44100,
        n_samples: int = 44100,
        skip_bad: bool = False,
        min_samples: int = 2048,
        silence_threshold: float = 1e-4,
        batch_size: int = 8,
        max_shift: int = 0,
        shift_seed: int = 0,
        shuffle_seed: int = 0,
        num_workers: int = 0,
        drop_last: bool = False,
    ) -> None:
        folder = OneShotFolder(
            root, file_list, split, split_seed, sr, n_samples, skip_bad, min_samples,
            silence_threshold,
        )  # fmt: skip
        super().__init__(folder, batch_size, max_shift, shift_seed, shuffle_seed, num_workers,
                         drop_last)  # fmt: skip
