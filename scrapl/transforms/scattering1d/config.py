"""Validated hyperparameters of the time scattering transform (kymatio's ``Scattering1D``)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from scrapl.validation import check_int


@dataclass(frozen=True)
class Scattering1DConfig:
    """Hyperparameters of second-order time scattering, named as in kymatio 0.3's
    ``Scattering1D(J, shape, Q=(Q1, Q2), T=T)``.

    Args:
        shape: signal length N in samples.
        J: number of octaves of the wavelets (their largest scale is ``2**J`` samples);
            ``2**J <= shape``.
        Q1: first-order wavelets per octave.
        Q2: second-order wavelets per octave.
        T: temporal averaging width in samples, an int in ``[1, shape]``; None = ``2**J``.
    """

    shape: int
    J: int
    Q1: int
    Q2: int
    T: int | None = None

    def __post_init__(self) -> None:
        shape = check_int("shape", self.shape, 2)
        J = check_int("J", self.J, 1)
        check_int("Q1", self.Q1, 1)
        check_int("Q2", self.Q2, 1)
        if 2**J > shape:
            raise ValueError(
                f"J must satisfy 2**J <= shape (the largest wavelet must fit in the signal), "
                f"got J={J} for shape={shape}"
            )
        if self.T is not None:
            if isinstance(self.T, bool) or not isinstance(self.T, numbers.Integral):
                raise TypeError(f"T must be None or an int in [1, {shape}], got {self.T!r}")
            if not 1 <= self.T <= shape:
                raise ValueError(f"T must be None or an int in [1, {shape}], got {self.T}")

    @property
    def averaging(self) -> int:
        """The averaging width in samples (``T``, or ``2**J`` by default)."""
        return 2**self.J if self.T is None else self.T

    @property
    def log2_T(self) -> int:
        """Temporal subsampling of the output (log2 of the averaging width, rounded down)."""
        return int(math.floor(math.log2(self.averaging)))

    def describe(self) -> str:
        """One line in the style of the package's log output."""
        return f"J={self.J}, Q1={self.Q1}, Q2={self.Q2}, T={self.T}"
