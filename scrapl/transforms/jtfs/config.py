"""Validated hyperparameters of the joint time–frequency scattering transform."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scrapl.validation import check_int

Averaging = int | str | None


def check_averaging(name: str, value: Averaging, maximum: int) -> None:
    """``T``/``F`` accept None (default width), "global", or an int in [1, maximum]."""
    if value is None or value == "global":
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be None, 'global' or an int in [1, {maximum}], got {value!r}")
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be None, 'global' or an int in [1, {maximum}], got {value}")


@dataclass(frozen=True)
class JTFSConfig:
    """Hyperparameters of the JTFS, named as in kymatio's ``TimeFrequencyScattering``.

    Args:
        shape: signal length N in samples.
        J: number of octaves of the first- and second-order temporal wavelets.
        Q1: first-order wavelets per octave.
        Q2: second-order temporal wavelets per octave.
        J_fr: number of octaves of the frequential wavelets (in units of first-order bins).
        Q_fr: frequential wavelets per octave.
        T: temporal averaging width in samples; None = ``2**J``; "global" = mean over time.
        F: frequential averaging width in bins; None = ``2**J_fr``; "global" = mean over
            frequency.
    """

    shape: int
    J: int
    Q1: int
    Q2: int
    J_fr: int
    Q_fr: int
    T: Averaging = None
    F: Averaging = None

    def __post_init__(self) -> None:
        shape = check_int("shape", self.shape, 2)
        J = check_int("J", self.J, 1)
        check_int("Q1", self.Q1, 1)
        check_int("Q2", self.Q2, 1)
        check_int("J_fr", self.J_fr, 1)
        check_int("Q_fr", self.Q_fr, 1)
        if 2**J > shape:
            raise ValueError(
                f"J must satisfy 2**J <= shape (the largest wavelet must fit in the signal), "
                f"got J={J} for shape={shape}"
            )
        check_averaging("T", self.T, shape)
        # F is bounded by the number of first-order filters, known only once they are
        # designed: :class:`scrapl.transforms.jtfs.JTFS` checks the upper bound.
        check_averaging("F", self.F, 2**31)

    @property
    def log2_T(self) -> int:
        """Temporal subsampling of the output (log2 of the averaging width)."""
        width = 2**self.J if self.T in (None, "global") else self.T
        return int(math.floor(math.log2(width)))

    @property
    def log2_F(self) -> int:
        """Frequential subsampling of the output (log2 of the averaging width)."""
        width = 2**self.J_fr if self.F in (None, "global") else self.F
        return int(math.floor(math.log2(width)))

    def describe(self) -> str:
        """One line in the style of the package's log output."""
        return (
            f"J={self.J}, Q1={self.Q1}, Q2={self.Q2}, Jfr={self.J_fr}, Qfr={self.Q_fr}, "
            f"T={self.T}, F={self.F}"
        )
