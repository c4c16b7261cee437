"""Collections of fixed-length one-shots, their seeded split, and the per-split datasets.

A collection (:class:`OneShotCollection`) holds every sound of a data set, in a fixed order
(sorted file names for a folder, example index for the synthetic set), as one
``(n, n_samples)`` float32 array, with a name and a drum type per sound and, for synthetic
sounds, their ``theta``. :func:`split_indices` shuffles that order with the split seed and
cuts it into train / validation / test (the paper: the first 425, the next 128, the next 128 for
the paper's 681 one-shots); :meth:`OneShotCollection.dataset` gives one split as a torch
dataset whose items carry a training shift drawn once per item from an explicit seed.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from scrapl.validation import check_int

__all__ = ["SPLITS", "OneShotCollection", "OneShotDataset", "draw_shifts", "split_indices"]

SPLITS = ("train", "val", "test")


def _split_sizes(n: int, split: Sequence[float | int]) -> list[int]:
    values = list(split)
    if len(values) != 3 or any(isinstance(v, bool) for v in values):
        raise TypeError(f"split must be 3 sizes (ints) or 3 fractions (floats), got {split!r}")
    if all(isinstance(v, numbers.Integral) for v in values):
        sizes = [check_int(f"split[{i}]", v, 0) for i, v in enumerate(values)]
        if sum(sizes) > n:
            raise ValueError(
                f"split sizes {sizes} need {sum(sizes)} sounds but there are {n}: give smaller "
                "sizes or fractions, e.g. split=[0.625, 0.1875, 0.1875]"
            )
        return sizes
    if not all(isinstance(v, numbers.Real) for v in values):
        raise TypeError(f"split must be 3 sizes (ints) or 3 fractions (floats), got {split!r}")
    fractions = [float(v) for v in values]
    if any(not 0.0 <= f <= 1.0 for f in fractions) or sum(fractions) > 1.0 + 1e-9:
        raise ValueError(f"split fractions must lie in [0, 1] and sum to <= 1, got {split!r}")
    n_val, n_test = round(fractions[1] * n), round(fractions[2] * n)
    sizes = [min(round(fractions[0] * n), n - n_val - n_test), n_val, n_test]
    for name, f, size in zip(SPLITS, fractions, sizes, strict=True):
        if f > 0 and size == 0:
            raise ValueError(
                f"split fractions {split!r} leave the {name} split empty with {n} sounds"
            )
    return sizes


def split_indices(n: int, split: Sequence[float | int], seed: int) -> dict[str, list[int]]:
    """Indices ``0 .. n-1`` shuffled by ``torch.randperm`` seeded with ``seed``, then cut.

    Args:
        n: number of sounds, in their fixed (sorted) order.
        split: three ints, the sizes of train / val / test taken in that order from the
            shuffled indices (their sum may be below ``n``: the rest is unused); or three
            floats, the fractions of ``n`` (rounded; train gets what the others leave).
        seed: the split seed (>= 0).

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``.
    """
    n = check_int("n", n, 0)
    seed = check_int("split_seed", seed, 0)
    sizes = _split_sizes(n, split)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    bounds = np.cumsum([0, *sizes])
    return {name: order[bounds[i] : bounds[i + 1]] for i, name in enumerate(SPLITS)}


def draw_shifts(n: int, max_shift: int, seed: int) -> Tensor:
    """``(n,)`` int64 shifts uniform in ``[-max_shift, max_shift]`` from a generator seeded
    with ``seed`` (all 0 when ``max_shift = 0``); the global RNG is not used."""
    n = check_int("n", n, 0)
    max_shift = check_int("max_shift", max_shift, 0)
    seed = check_int("shift_seed", seed, 0)
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(-max_shift, max_shift + 1, (n,), generator=gen, dtype=torch.int64)


class OneShotDataset(Dataset):
    """One split of a collection. Item ``i`` is a dict:

    * ``"x"``: ``(1, n_samples)`` float32 audio;
    * ``"index"``: the sound's position in the collection (int);
    * ``"name"``: its name (relative file path, or the synthetic example's name);
    * ``"drum_type"``: ``"kick"``, ``"snare"``, ``"tom"``, ``"hat"``, ... or ``"unknown"``;
    * ``"shift"``: the training shift in samples (int, fixed per item; 0 without one);
    * ``"theta"``: ``(n_theta,)`` float32, only for sounds rendered from known parameters.
    """

    def __init__(
        self, collection: OneShotCollection, indices: Sequence[int], shifts: Tensor
    ) -> None:
        if shifts.shape != (len(indices),):
            raise ValueError(f"need one shift per item ({len(indices)}), got {tuple(shifts.shape)}")
        self.collection = collection
        self.indices = list(indices)
        self.shifts = shifts

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        j = self.indices[i]
        c = self.collection
        item = {
            "x": c.audio[j].unsqueeze(0),
            "index": j,
            "name": c.names[j],
            "drum_type": c.drum_types[j],
            "shift": int(self.shifts[i]),
        }
        if c.theta is not None:
            item["theta"] = c.theta[j]
        return item


class OneShotCollection:
    """Sounds of one data set, in a fixed order, and their split.

    Subclasses fill ``audio`` (``(n, n_samples)`` float32 tensor), ``names``, ``drum_types``
    (lists of ``n`` strings), ``theta`` (``(n, n_theta)`` float32 or None) and call
    :meth:`_set_split`.
    """

    audio: Tensor
    names: list[str]
    drum_types: list[str]
    theta: Tensor | None = None
    splits: dict[str, list[int]]

    def _set_split(self, split: Sequence[float | int], split_seed: int) -> None:
        self.splits = split_indices(len(self.names), split, split_seed)

    def __len__(self) -> int:
        return len(self.names)

    def dataset(self, split: str, max_shift: int = 0, shift_seed: int = 0) -> OneShotDataset:
        """The ``split`` (``"train"``, ``"val"`` or ``"test"``) as a dataset.

        Args:
            split: which split.
            max_shift: each item gets a shift uniform in ``[-max_shift, max_shift]``, drawn
                once here (0: no shift, e.g. "micro" training, validation and test).
            shift_seed: seed of those shifts.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        indices = self.splits[split]
        return OneShotDataset(self, indices, draw_shifts(len(indices), max_shift, shift_seed))
