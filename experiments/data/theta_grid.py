"""θ-grid dataset of the synthetic sound-matching experiments (granular and chirplet synths).

The paper's synthetic experiments (SPEC §4, §6) train on a regular grid of synth parameters
θ ∈ [0, 1]^n_dims: 32 values per dimension (θ_density × θ_slope for the granular synth,
θ_AM × θ_FM for the chirplet synth, both normalised to [0, 1]; the synth maps them to its
physical ranges) and 5 random seeds per grid point, i.e. 32 × 32 × 5 = 5120 examples.

The split is made over the **grid points**, not over the examples: every seed of a grid point
goes to the same split, so θ combinations of val and test never appear in train.

Audio is rendered on the fly by the synth, so an example is only a recipe:

* ``theta``: the grid point's θ, shape ``(n_dims,)``, float32;
* ``seed``: the seed of the *target* sound ``synth(theta, seed)``;
* ``seed_hat``: the seed of the *reconstruction* ``synth(theta_hat, seed_hat)``;
* ``point``: the index of the grid point (row of :meth:`ThetaGrid.points`).

Seed layout (``P = n_points``, ``S = n_seeds``, ``E = P * S``): the example with grid point
``p`` and seed slot ``k ∈ [0, S)`` has ``seed = p * S + k ∈ [0, E)`` and
``seed_hat = E + p * S + k ∈ [E, 2E)``. Target seeds are thus unique over the whole dataset
(all splits together), reconstruction seeds are unique too, and the two ranges are disjoint,
so a target and a reconstruction never share a seed (the granular grains are misaligned, the
"meso" setting). Both depend only on the grid (not on the split or ``split_seed``), so an
example keeps its seeds whatever split it lands in.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import torch
from torch import Tensor
from torch.utils.data import Dataset

from scrapl.validation import check_int

__all__ = [
    "SPLITS",
    "ThetaGrid",
    "ThetaGridDataset",
    "split_sizes",
]

SPLITS: Final[tuple[str, str, str]] = ("train", "val", "test")
"""Split names, in the order of :attr:`ThetaGrid.fractions`."""

_FRACTION_SUM_TOL: Final[float] = 1e-6
_FLOOR_EPS: Final[float] = 1e-9


def _check_fractions(value: object) -> tuple[float, float, float]:
    """Validate the split fractions and return them as a tuple of three floats."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(
            f"fractions must be a tuple of three floats (train, val, test), "
            f"got {type(value).__name__}"
        )
    if len(value) != 3:
        raise ValueError(f"fractions must have 3 entries (train, val, test), got {len(value)}")
    out: list[float] = []
    for name, f in zip(SPLITS, value, strict=True):
        if isinstance(f, bool) or not isinstance(f, (int, float)):
            raise TypeError(f"fractions[{name}] must be a float, got {type(f).__name__}")
        f = float(f)
        if not math.isfinite(f) or f < 0.0:
            raise ValueError(f"fractions[{name}] must be finite and >= 0, got {f}")
        out.append(f)
    total = math.fsum(out)
    if abs(total - 1.0) > _FRACTION_SUM_TOL:
        raise ValueError(f"fractions must sum to 1, got {tuple(out)} (sum {total})")
    return out[0], out[1], out[2]


def split_sizes(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """Sizes of the three splits of ``n`` items by the largest-remainder (Hamilton) rule.

    Each split first gets ``floor(fraction * n)`` items; the items left over (at most two)
    go one each to the splits with the largest fractional parts ``fraction * n - floor``,
    ties broken in the order train, val, test. The sizes always sum to ``n``, each differs
    from ``fraction * n`` by less than one, and a split of fraction 0 gets no item. For the
    paper grid (1024 points, 0.6/0.2/0.2): 614.4/204.8/204.8 → 614/205/205.
    """
    check_int("n", n, 0)
    fractions = _check_fractions(fractions)
    exact = [f * n for f in fractions]
    floors = [int(math.floor(x + _FLOOR_EPS)) for x in exact]
    remainder = n - sum(floors)
    order = sorted(range(3), key=lambda i: (-(exact[i] - floors[i]), i))
    sizes = list(floors)
    for i in order[: max(remainder, 0)]:
        sizes[i] += 1
    return sizes[0], sizes[1], sizes[2]


@dataclass(frozen=True)
class ThetaGrid:
    """A regular grid of θ ∈ [0, 1]^n_dims, ``n_seeds`` seeds per point, split by point.

    Attributes:
        n_per_dim: number of values per θ dimension (``torch.linspace(0, 1, n_per_dim)``,
            endpoints included; with 1 value the only one is 0).
        n_dims: number of θ dimensions (2 for the granular and chirplet synths).
        n_seeds: number of synth seeds per grid point.
        fractions: (train, val, test) fractions of the grid points; non-negative, sum to 1.
            Rounding: see :func:`split_sizes`.
        split_seed: seed of the random permutation that assigns grid points to splits.

    Grid points are numbered in row-major order over the dimensions (the last dimension
    varies fastest): point ``p`` has per-dimension indices ``unravel(p, (n_per_dim,) *
    n_dims)``.
    """

    n_per_dim: int = 32
    n_dims: int = 2
    n_seeds: int = 5
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    split_seed: int = 0

    def __post_init__(self) -> None:
        check_int("n_per_dim", self.n_per_dim, 1)
        check_int("n_dims", self.n_dims, 1)
        check_int("n_seeds", self.n_seeds, 1)
        check_int("split_seed", self.split_seed, 0)
        object.__setattr__(self, "fractions", _check_fractions(self.fractions))
        if 2 * self.n_examples > torch.iinfo(torch.int64).max:
            raise ValueError(
                f"n_per_dim={self.n_per_dim}, n_dims={self.n_dims}, n_seeds={self.n_seeds} "
                "give more seeds than int64 can hold"
            )

    # ----------------------------------------------------------------------------- sizes
    @property
    def n_points(self) -> int:
        """Number of grid points, ``n_per_dim ** n_dims``."""
        return self.n_per_dim**self.n_dims

    @property
    def n_examples(self) -> int:
        """Number of examples over all splits, ``n_points * n_seeds``."""
        return self.n_points * self.n_seeds

    def split_sizes(self) -> dict[str, int]:
        """Number of grid points per split (see :func:`split_sizes` for the rounding)."""
        return dict(zip(SPLITS, split_sizes(self.n_points, self.fractions), strict=True))

    # ----------------------------------------------------------------------------- grid
    def values(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """The ``n_per_dim`` values of one dimension, ``linspace(0, 1)``, endpoints included."""
        return torch.linspace(0.0, 1.0, self.n_per_dim, dtype=dtype)

    def points(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """All grid points, shape ``(n_per_dim ** n_dims, n_dims)``, values in [0, 1].

        Row ``p`` is grid point ``p`` (row-major: the last dimension varies fastest).
        """
        axes = [self.values(dtype)] * self.n_dims
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([m.reshape(-1) for m in mesh], dim=-1)

    # ----------------------------------------------------------------------------- split
    def split_point_indices(self) -> dict[str, Tensor]:
        """Grid-point indices of each split: ``{"train", "val", "test"} -> int64 (n_split,)``.

        The points are shuffled by ``torch.randperm`` with a ``torch.Generator`` seeded by
        ``split_seed``; the first ``sizes["train"]`` go to train, the next ``sizes["val"]``
        to val, the rest to test. Each split's indices are returned sorted. The splits are
        disjoint, cover all points, and depend only on ``(n_points, fractions, split_seed)``.
        """
        gen = torch.Generator().manual_seed(self.split_seed)
        perm = torch.randperm(self.n_points, generator=gen)
        sizes = self.split_sizes()
        out: dict[str, Tensor] = {}
        start = 0
        for name in SPLITS:
            stop = start + sizes[name]
            out[name] = torch.sort(perm[start:stop]).values
            start = stop
        return out

    # ----------------------------------------------------------------------------- seeds
    def target_seed(self, point: int, k: int) -> int:
        """Seed of the target of grid point ``point``, seed slot ``k``: ``point * S + k``."""
        self._check_point_slot(point, k)
        return point * self.n_seeds + k

    def reconstruction_seed(self, point: int, k: int) -> int:
        """Seed of the reconstruction: ``n_examples + point * S + k`` (never a target seed)."""
        return self.n_examples + self.target_seed(point, k)

    def _check_point_slot(self, point: int, k: int) -> None:
        if not 0 <= point < self.n_points:
            raise IndexError(f"point {point} out of range [0, {self.n_points})")
        if not 0 <= k < self.n_seeds:
            raise IndexError(f"seed slot k={k} out of range [0, {self.n_seeds})")


class ThetaGridDataset(Dataset[dict[str, Tensor]]):
    """The examples of one split of a :class:`ThetaGrid`, ``n_points_in_split * n_seeds``.

    Example ``i`` is seed slot ``k = i % n_seeds`` of the split's ``i // n_seeds``-th grid
    point (split points in increasing index order). Items are dicts of tensors:
    ``theta`` (n_dims,) float32, ``seed``, ``seed_hat`` and ``point`` int64 scalars (see
    the module docstring for the seed layout). Default collation batches them into
    ``theta`` (B, n_dims) and ``seed`` / ``seed_hat`` / ``point`` (B,).
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
            "seed_hat": torch.tensor(self.grid.reconstruction_seed(point, k), dtype=torch.int64),
            "point": torch.tensor(point, dtype=torch.int64),
        }

    def __repr__(self) -> str:
        return f"ThetaGridDataset(split={self.split!r}, len={len(self)}, grid={self.grid})"
