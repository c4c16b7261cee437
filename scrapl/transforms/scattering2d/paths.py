"""The paths of image scattering, in the channel order of kymatio 0.3's ``Scattering2D``.

A path is one output channel other than order 0: a first-order channel ``(j1, θ1)``
(``|x ∗ ψ_{j1,θ1}| ∗ φ_J``) or a second-order channel ``(j1, θ1, j2, θ2)``
(``||x ∗ ψ_{j1,θ1}| ∗ ψ_{j2,θ2}| ∗ φ_J``) with ``j2 > j1``. Wavelets are numbered
``n = j · L + θ``; the index order is every first-order channel by ``n1``, then the
second-order channels by ``n1``, then ``n2`` — kymatio's order, so path ``p`` is its output
channel ``p + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Path2D:
    """One path. ``n1``/``n2`` index the wavelets (``n = j · L + θ``); ``n2``, ``j2`` and
    ``theta2`` are None at order 1."""

    idx: int
    n1: int
    j1: int
    theta1: int
    n2: int | None = None
    j2: int | None = None
    theta2: int | None = None

    @property
    def order(self) -> int:
        return 1 if self.n2 is None else 2

    @property
    def level(self) -> int:
        """log2 subsampling of the signal that the low-pass averages."""
        return self.j1 if self.j2 is None else self.j2


def enumerate_paths(J: int, L: int) -> list[Path2D]:
    """Every path in index order."""
    wavelets = [(j, theta) for j in range(J) for theta in range(L)]
    paths = [Path2D(idx=n1, n1=n1, j1=j, theta1=t) for n1, (j, t) in enumerate(wavelets)]
    for n1, (j1, t1) in enumerate(wavelets):
        for n2, (j2, t2) in enumerate(wavelets):
            if j2 > j1:
                paths.append(Path2D(len(paths), n1, j1, t1, n2, j2, t2))
    return paths
