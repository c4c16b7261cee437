"""The filter bank of the joint time–frequency scattering transform (pure numpy).

Temporal filters come from :mod:`scrapl.transforms.morlet` (the 1-D Morlet design shared with
time scattering); this module adds the frequential filters along log-frequency and the
padding rules of the reference JTFS (kymatio's ``TimeFrequencyScattering``), and collects
everything a configuration needs in one :class:`FilterBank`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scrapl.transforms.morlet import (
    SIGMA0,
    Filter,
    make_filter,
    max_dyadic_subsampling,
    padded_length,
    wavelet_params,
)


@dataclass(frozen=True)
class FilterBank:
    """All filters of a JTFS configuration and the padding they imply.

    Temporal filters live on the padded grid of ``n_padded`` samples; frequential filters on
    the zero-padded log-frequency axis of ``n_fr_padded`` first-order bins. ``psi_fr[0]`` is
    the frequential low-pass (spin 0), then the wavelets with spin +1 (highest frequency
    first), then the same wavelets mirrored (spin −1).
    """

    n: int
    n_padded: int
    pad_left: int
    log2_T: int
    log2_F: int
    n_fr_padded: int
    psi1: list[Filter]
    psi2: list[Filter]
    phi_t: Filter
    psi_fr: list[Filter]
    phi_f: Filter

    def without_arrays(self) -> FilterBank:
        """The same bank with the filters' arrays dropped: metadata only (xi, sigma, j)."""

        def strip(f: Filter) -> Filter:
            return replace(f, levels=[])

        return replace(
            self,
            psi1=[strip(f) for f in self.psi1],
            psi2=[strip(f) for f in self.psi2],
            phi_t=strip(self.phi_t),
            psi_fr=[strip(f) for f in self.psi_fr],
            phi_f=strip(self.phi_f),
        )


def frequential_padded_length(J: int, Q1: int, J_fr: int, F: int, n_psi1: int) -> int:
    """Length of the zero-padded log-frequency axis.

    The rule of the reference JTFS: room for ``(J + 1) * Q1`` first-order bins plus eight
    frequential low-pass widths, rounded down to a multiple of ``2**J_fr`` (every
    frequential subsampling must divide it). Never shorter than the first-order bank.
    """
    multiple = 2 ** max(J_fr, int(math.floor(math.log2(F))))
    n_fr = ((J + 1) * Q1 + 8 * min(F, 2**J_fr)) // multiple * multiple
    while n_fr < n_psi1 + 8 * min(F, 2**J_fr):
        n_fr += multiple
    return n_fr


def build_filterbank(
    n: int, J: int, Q1: int, Q2: int, J_fr: int, Q_fr: int, T: int, F: int
) -> FilterBank:
    """Design every filter of a JTFS of signals of length ``n``.

    ``T`` is the temporal averaging width in samples and ``F`` the frequential one in
    first-order bins (for global averaging, ``2**J`` and ``2**J_fr``: they then only set
    the padding and the subsampling).
    """
    log2_T = int(math.floor(math.log2(T)))
    log2_F = int(math.floor(math.log2(F)))
    n_padded = padded_length(n, T)
    pad_left = (n_padded - n) // 2

    def wavelets(q: int) -> list[tuple[float, float, int]]:
        return [(xi, s, max_dyadic_subsampling(xi, s)) for xi, s in wavelet_params(J, q)]

    first = wavelets(Q1)
    second = wavelets(Q2)
    j1_min = min(j for _, _, j in first)
    # A second-order wavelet is applied to first-order rows subsampled by up to
    # min(j1, log2_T) with j1 < j2: build exactly those resolutions.
    psi1 = [make_filter(n_padded, xi, s, j, 1) for xi, s, j in first]
    psi2 = []
    for xi, s, j2 in second:
        k_max = max((min(j1, log2_T) for _, _, j1 in first if j1 < j2), default=0)
        psi2.append(make_filter(n_padded, xi, s, j2, k_max + 1))
    r2_max = max([min(j2, log2_T) for _, _, j2 in second if j2 > j1_min], default=0)
    phi_t = make_filter(n_padded, 0.0, SIGMA0 / T, log2_T, max(log2_T, r2_max) + 1)

    n_fr_padded = frequential_padded_length(J, Q1, J_fr, F, len(psi1))
    fr = [(xi, s, max_dyadic_subsampling(xi, s)) for xi, s in wavelet_params(J_fr, Q_fr)]
    psi_fr = [make_filter(n_fr_padded, 0.0, SIGMA0 / 2**J_fr, J_fr, 1)]
    psi_fr += [make_filter(n_fr_padded, xi, s, j, 1) for xi, s, j in fr]
    psi_fr += [make_filter(n_fr_padded, -xi, s, j, 1) for xi, s, j in fr]
    phi_f = make_filter(n_fr_padded, 0.0, SIGMA0 / F, log2_F, log2_F + 1)
    return FilterBank(
        n=n,
        n_padded=n_padded,
        pad_left=pad_left,
        log2_T=log2_T,
        log2_F=log2_F,
        n_fr_padded=n_fr_padded,
        psi1=psi1,
        psi2=psi2,
        phi_t=phi_t,
        psi_fr=psi_fr,
        phi_f=phi_f,
    )
