"""Validated hyperparameters of image scattering (kymatio's ``Scattering2D``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scrapl.validation import check_int


@dataclass(frozen=True)
class Scattering2DConfig:
    """Hyperparameters of second-order image scattering, named as in kymatio 0.3's
    ``Scattering2D(J, shape=(M, N), L=L)``.

    Args:
        shape: image size ``(M, N)`` in pixels (height, width).
        J: number of octaves of the wavelets (the largest scale is ``2**J`` pixels, and the
            output is subsampled by ``2**J``); ``2**J <= min(M, N)``.
        L: number of orientations of the wavelets.
    """

    shape: tuple[int, int]
    J: int
    L: int = 8

    def __post_init__(self) -> None:
        shape = self.shape
        if isinstance(shape, str) or not isinstance(shape, Sequence) or len(shape) != 2:
            raise TypeError(f"shape must be a pair (M, N) of ints >= 2, got {shape!r}")
        m = check_int("shape[0]", shape[0], 2)
        n = check_int("shape[1]", shape[1], 2)
        object.__setattr__(self, "shape", (m, n))  # a tuple, whatever sequence was given
        J = check_int("J", self.J, 1)
        check_int("L", self.L, 1)
        if 2**J > min(m, n):
            raise ValueError(
                f"J must satisfy 2**J <= min(M, N) (the largest wavelet must fit in the image), "
                f"got J={J} for shape=({m}, {n})"
            )

    def describe(self) -> str:
        """One line in the style of the package's log output."""
        return f"shape={self.shape}, J={self.J}, L={self.L}"
