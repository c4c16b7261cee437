"""Which second-order joint filters are SCRAPL paths, in which order, and what each needs.

A path is a pair ``(n2, n_fr)``: a second-order temporal wavelet ψ2 and a frequential filter
(the low-pass, or a wavelet ψfr with spin +1 or −1). A ψ2 is kept only if some first-order
wavelet is finer than it (``j1 < j2``); it is then applied to exactly those first-order
rows, which form a prefix of the first-order bank (its scales ``j1`` never decrease).

Index order (interchangeable with the reference implementation, so path indices and
path-probability files carry over): ``p = rank(n2) * n_fr_count + n_fr``, where kept ψ2 are
ranked from the highest to the lowest centre frequency and ``n_fr`` runs over the
frequential filters in the order of :attr:`scrapl.transforms.jtfs.filters.FilterBank.psi_fr`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrapl.transforms.jtfs.filters import FilterBank


@dataclass(frozen=True)
class Path:
    """One SCRAPL path and the resolutions its computation runs at.

    Attributes:
        idx: path index p.
        n2: index of the ψ2 in :attr:`FilterBank.psi2`.
        n_fr: index of the frequential filter in :attr:`FilterBank.psi_fr`.
        spin: 0 (frequential low-pass), +1 or −1.
        n1_max: number of first-order rows the ψ2 is applied to.
        log2_t: temporal subsampling of the second-order wavelet modulus (before averaging).
        log2_fr: frequential subsampling after the frequential filter (before averaging).
    """

    idx: int
    n2: int
    n_fr: int
    spin: int
    n1_max: int
    log2_t: int
    log2_fr: int


def kept_psi2(bank: FilterBank) -> list[int]:
    """Indices of the ψ2 that appear in paths, highest centre frequency first."""
    j1_min = min(f.j for f in bank.psi1)
    return [n2 for n2, f in enumerate(bank.psi2) if f.j > j1_min]


def enumerate_paths(bank: FilterBank, local_fr: bool = True) -> list[Path]:
    """All paths of the bank in index order.

    ``local_fr`` is False for global frequential averaging, where the frequential filter
    output is kept at its own maximal subsampling (it is averaged away afterwards).
    """
    j1s = np.array([f.j for f in bank.psi1])
    paths = []
    for n2 in kept_psi2(bank):
        j2 = bank.psi2[n2].j
        n1_max = int(np.count_nonzero(j1s < j2))
        for n_fr, filt in enumerate(bank.psi_fr):
            spin = int(np.sign(filt.xi))
            log2_fr = min(filt.j, bank.log2_F) if local_fr else filt.j
            paths.append(
                Path(
                    idx=len(paths),
                    n2=n2,
                    n_fr=n_fr,
                    spin=spin,
                    n1_max=n1_max,
                    log2_t=min(j2, bank.log2_T),
                    log2_fr=log2_fr,
                )
            )
    return paths
