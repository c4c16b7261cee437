"""θ-grid dataset of the synthetic sound-matching experiments (granular and chirplet synths).

The paper's published set-up trains on a regular grid of synth parameters
θ ∈ (0, 1)^n_dims: ``n`` values per dimension, ``k / (n + 1)`` for ``k = 1 .. n`` (the
endpoints 0 and 1 are excluded), 32 per dimension and 5 random seeds per grid point, i.e.
32 × 32 × 5 = 5120 examples.

Grid points are numbered in row-major order (the last dimension varies fastest: point
``(i, j)`` of a 2-D grid is ``p = n i + j``) and split into folds by ``fold(p) = p mod
n_folds``: folds 0–2 train, 3 val, 4 test for 5 folds. Every seed of a point goes to the same
split, so val and test θ combinations never appear in train; with ``n = 32`` (not a multiple of
5) the folds run diagonally through the grid, so every θ value of each axis still occurs in
every split. A grid whose ``n`` is a multiple of ``n_folds`` would put whole θ columns in one
fold; that is allowed but probably not what is wanted.

Audio is rendered on the fly by the synth, so an example is only a recipe:

* ``theta``: the grid point's θ, shape ``(n_dims,)``, float32;
* ``seed``: the seed of the *target* sound ``synth(theta, seed)``: the example's own index
  ``p * n_seeds + k`` (seed slot ``k``) in the whole grid, so target seeds are unique over all
  splits and lie in ``[0, n_examples)``;
* ``point``: the index of the grid point (row of :meth:`ThetaGrid.points`).

The reconstruction is rendered with seeds redrawn at every step from another range, see
:mod:`experiments.data.recon_seeds`.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import torch
from torch import Tensor
from torch.utils.data import Dataset

from scrapl.validation import check_int

__all__ = ["SPLITS", "ThetaGrid", "ThetaGridDataset"]

SPLITS: Final[tuple[str, str, str]] = ("train", "val", "test")
"""Split names."""


def _check_folds(name: str, value: object, n_folds: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of fold numbers, got {value!r}")
    folds = tuple(check_int(f"{name}[{i}]", f, 0) for i, f in enumerate(value))
    if any(f >= n_folds for f in folds):
        raise ValueError(f"{name} must hold folds in [0, n_folds = {n_folds}), got {list(folds)}")
    return folds


@dataclass(frozen=True)
class ThetaGrid:
    """A regular grid of θ ∈ (0, 1)^n_dims, ``n_seeds`` seeds per point, split by fold.

    Attributes:
        n_per_dim: number of values per θ dimension, ``k / (n_per_dim + 1)``, ``k = 1..n``.
        n_dims: number of θ dimensions (2 for the granular and chirplet synths).
        n_seeds: number of synth seeds per grid point.
        n_folds: number of folds; point ``p`` is in fold ``p mod n_folds``.
        train_folds, val_folds, test_folds: the folds of each split (disjoint; a split may
            be empty, e.g. no test folds).
    """

    n_per_dim: int = 32
    n_dims: int = 2
    n_seeds: int = 5
    n_folds: int = 5
    train_folds: tuple[int, ...] = (0, 1, 2)
    val_folds: tuple[int, ...] = (3,)
    test_folds: tuple[int, ...] = (4,)

    def __post_init__(self) -> None:
        check_int("n_per_dim", self.n_per_dim, 1)
        check_int("n_dims", self.n_dims, 1)
        check_int("n_seeds", self.n_seeds, 1)
        check_int("n_folds", self.n_folds, 1)
        seen: set[int] = set()
        for split in SPLITS:
            name = f"{split}_folds"
            folds = _check_folds(name, getattr(self, name), self.n_folds)
            if seen & set(folds):
                raise ValueError(
                    f"train_folds, val_folds and test_folds must be disjoint, fold(s) "
                    f"{sorted(seen & set(folds))} appear twice"
                )
            seen |= set(folds)
            object.__setattr__(self, name, folds)
        if 2 * self.n_examples > torch.iinfo(torch.int64).max:
            raise ValueError(
                f"n_per_dim={self.n_per_dim}, n_dims={self.n_dims}, n_seeds={self.n_seeds} "
                "give more seeds than int64 can hold"
            )

    @property
    def n_points(self) -> int:
        """Number of grid points, ``n_per_dim ** n_dims``."""
        return self.n_per_dim**self.n_dims

    @property
    def n_examples(self) -> int:
        """Number of examples over all splits, ``n_points * n_seeds``."""
        return self.n_points * self.n_seeds

    def values(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """The ``n_per_dim`` values of one dimension, ``k / (n_per_dim + 1)``, ``k = 1..n``."""
        k = torch.arange(1, self.n_per_dim + 1, dtype=torch.float64)
        return (k / (self.n_per_dim + 1)).to(dtype)

    def points(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """All grid points, shape ``(n_per_dim ** n_dims, n_dims)`` (row-major)."""
        axes = [self.values(dtype)] * self.n_dims
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([m.reshape(-1) for m in mesh], dim=-1)

    def folds(self) -> Tensor:
        """Fold of every grid point, ``(n_points,)`` int64: ``p mod n_folds``."""
        return torch.arange(self.n_points) % self.n_folds

    def split_point_indices(self) -> dict[str, Tensor]:
        """Grid-point indices of each split, increasing: ``{"train", "val", "test"} -> (n,)``."""
        folds = self.folds()
        out = {}
        for split in SPLITS:
            chosen = torch.tensor(getattr(self, f"{split}_folds"), dtype=torch.int64)
            out[split] = torch.nonzero(torch.isin(folds, chosen)).flatten()
        return out

    def target_seed(self, point: int, k: int) -> int:
        """Seed of the target of grid point ``point``, seed slot ``k``: ``point * S + k``."""
        if not 0 <= point < self.n_points:
            raise IndexError(f"point {point} out of range [0, {self.n_points})")
        if not 0 <= k < self.n_seeds:
            raise IndexError(f"seed slot k={k} out of range [0, {self.n_seeds})")
        return point * self.n_seeds + k


class ThetaGridDataset(Dataset[dict[str, Tensor]]):
    """The examples of one split of a :class:`ThetaGrid`, ``n_points_in_split * n_seeds``.

    Example ``i`` is seed slot ``k = i % n_seeds`` of the split's ``i // n_seeds``-th grid
    point (split points in increasing index order). Items are dicts of tensors:
    ``theta`` (n_dims,) float32, ``seed`` and ``point`` int64 scalars (see the module
    docstring). Default collation batches them into ``theta`` (B, n_dims) and
    ``seed`` / ``point`` (B,).
    """

    def __init__(self, grid: ThetaGrid, split: str) -> None:
        if not isinstance(grid, ThetaGrid):
            raise TypeError(f"grid must be a ThetaGrid, got {type(grid).__name__}")
        if not isinstance(split, str):
            raise TypeError(f"split must be a str, got {type(split).__name__}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.grid: Final[ThetaGrid] = grid
        self.split: Final[str] = split
        self.point_indices: Final[Tensor] = grid.split_point_indices()[split]
        self._theta: Tensor = grid.points(torch.float32)[self.point_indices]

    def __len__(self) -> int:
        return int(self.point_indices.numel()) * self.grid.n_seeds

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if isinstance(i, bool):
            raise TypeError("index must be an int, got bool")
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"index must be an int, got {type(i).__name__}") from None
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index out of range for {self.split} split of length {n}")
        j, k = divmod(i, self.grid.n_seeds)
        point = int(self.point_indices[j])
        return {
            "theta": self._theta[j].clone(),
            "seed": torch.tensor(self.grid.target_seed(point, k), dtype=torch.int64),
            "point": torch.tensor(point, dtype=torch.int64),
        }

    def __repr__(self) -> str:
        return f"ThetaGridDataset(split={self.split!r}, len={len(self)}, grid={self.grid})"
