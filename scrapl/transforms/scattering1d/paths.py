"""The paths of time scattering, in the order of kymatio 0.3's ``Scattering1D.meta()``.

A path is one output row of the transform other than order 0: a first-order row ``(n1,)``
(``|x ∗ ψ1| ∗ φ``) or a second-order row ``(n1, n2)`` (``||x ∗ ψ1| ∗ ψ2| ∗ φ``) for the pairs
with ``j2 > j1`` (the second wavelet is coarser than the first one's subsampling). Index order:
every first-order row by ``n1``, then the second-order rows by ``n1``, then ``n2`` — the order
of kymatio's ``meta()['key']`` with its order-0 row removed, so path ``p`` is kymatio's output
row ``p + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapl.transforms.scattering1d.filters import FilterBank


@dataclass(frozen=True)
class Path:
    """One path and the resolutions its computation runs at.

    Attributes:
        idx: path index p.
        n1: index of the first-order wavelet in :attr:`FilterBank.psi1`.
        n2: index of the second-order wavelet in :attr:`FilterBank.psi2`; None at order 1.
        k1: log2 subsampling of ``|x ∗ ψ1|``: ``min(j1, log2_T)``.
        k2: further log2 subsampling of ``|U1 ∗ ψ2|``: ``max(min(j2, log2_T) - k1, 0)``
            (0 at order 1).
    """

    idx: int
    n1: int
    n2: int | None
    k1: int
    k2: int

    @property
    def order(self) -> int:
        return 1 if self.n2 is None else 2

    @property
    def key(self) -> tuple[int, ...]:
        """kymatio's ``meta()['key']`` of the row."""
        return (self.n1,) if self.n2 is None else (self.n1, self.n2)

    @property
    def level(self) -> int:
        """log2 subsampling of the signal that the low-pass averages."""
        return self.k1 + self.k2


def enumerate_paths(bank: FilterBank) -> list[Path]:
    """Every path of the bank in index order."""
    k1s = [min(w.j, bank.log2_T) for w in bank.psi1]
    paths = [Path(idx=n1, n1=n1, n2=None, k1=k1, k2=0) for n1, k1 in enumerate(k1s)]
    for n1, w1 in enumerate(bank.psi1):
        for n2, w2 in enumerate(bank.psi2):
            if w2.j > w1.j:
                k2 = max(min(w2.j, bank.log2_T) - k1s[n1], 0)
                paths.append(Path(idx=len(paths), n1=n1, n2=n2, k1=k1s[n1], k2=k2))
    return paths
