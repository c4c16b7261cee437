"""The interface every scattering transform offers SCRAPL: coefficients path by path.

A *path* is one unit of the transform's output that the loss compares on its own: a
second-order joint filter (n2, n_fr) of the JTFS, one first- or second-order row of time
scattering, one first- or second-order channel of image scattering. SCRAPL's machinery
(:mod:`scrapl.pathwise`, :mod:`scrapl.warmup`, :mod:`scrapl.losses`) knows transforms only
through this interface, so every transform gets the same sampler, P-Adam/P-SAGA, θ-IS warmup,
state and error rules.
"""

from __future__ import annotations

import abc
import numbers
from collections.abc import Iterator

from torch import Tensor, nn


class PathTransform(nn.Module, abc.ABC):
    """A scattering transform evaluated one path at a time, or all paths sharing work.

    Subclasses set in ``__init__``:

    * ``config``: a frozen dataclass of the hyperparameters. Its ``repr`` identifies the
      transform in state dicts and θ-IS warmup directories.
    * ``signal_shape``: the trailing shape of one signal, ``(N,)`` or ``(M, N)``.
    * ``n_paths``: the number of paths.

    Filters are buffers, so ``.to(device)`` / ``.double()`` move and cast them; inputs must
    match :attr:`reference`'s dtype and device (the losses check and cast them).
    """

    config: object
    signal_shape: tuple[int, ...]
    n_paths: int

    @property
    @abc.abstractmethod
    def reference(self) -> Tensor:
        """A floating-point buffer whose dtype and device the inputs must have."""

    @abc.abstractmethod
    def forward(self, x: Tensor, path_idx: int) -> Tensor:
        """Coefficients of one path: ``(batch, *signal_shape)`` → ``(batch, ...)`` real."""

    @abc.abstractmethod
    def all_paths(self, x: Tensor) -> Iterator[tuple[int, Tensor]]:
        """``(path_idx, coefficients)`` of every path in index order, sharing work; each
        equal to ``forward(x, path_idx)``."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The hyperparameters on one line, for the losses' log output."""

    def check_path_idx(self, path_idx: object) -> int:
        """``path_idx`` as an int, or a clear error unless it is an int in ``[0, n_paths)``."""
        if isinstance(path_idx, bool) or not isinstance(path_idx, numbers.Integral):
            raise TypeError(
                f"path_idx must be an int in [0, {self.n_paths}), got {type(path_idx).__name__}"
            )
        if not 0 <= path_idx < self.n_paths:
            raise ValueError(f"path_idx must be an int in [0, {self.n_paths}), got {path_idx}")
        return int(path_idx)
