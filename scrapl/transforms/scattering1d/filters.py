"""The filter bank of time scattering, with the conventions of kymatio 0.3's ``Scattering1D``
(pure numpy).

Filters come from :mod:`scrapl.transforms.morlet` (the 1-D Morlet design shared with the
JTFS). Two conventions of the reference differ from the JTFS's and are kept so that
coefficients are equal:

- a filter for a signal subsampled by ``2**k`` is the *mean* of its ``2**k`` periods (the
  JTFS sums them), so a wavelet or low-pass applied after a subsampling by ``2**k`` carries
  a gain ``2**-k``;
- coefficients are cropped to the signal's own samples at the output rate (the JTFS keeps
  the whole padded grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scrapl.transforms.morlet import (
    SIGMA0,
    max_dyadic_subsampling,
    morlet_fourier,
    padded_length,
    periodise,
    wavelet_params,
)


@dataclass(frozen=True)
class Wavelet:
    """One band-pass filter: centre frequency and bandwidth (cycles per sample) and ``j``, the
    largest dyadic subsampling it tolerates."""

    xi: float
    sigma: float
    j: int


@dataclass(frozen=True)
class FilterBank:
    """Metadata of a time scattering bank and the padding it implies.

    ``crop_start``/``crop_end``: the samples of the output grid (subsampled by
    ``2**log2_T``) that cover the unpadded signal, as kymatio's border indices.
    """

    n: int
    n_padded: int
    pad_left: int
    log2_T: int
    sigma_low: float
    psi1: list[Wavelet]
    psi2: list[Wavelet]
    crop_start: int
    crop_end: int


def border_index(i: int, log2_factor: int) -> int:
    """Index ``i`` of the full-rate grid after ``log2_factor`` halvings, rounded up."""
    for _ in range(log2_factor):
        i = i // 2 + i % 2
    return i


def build_filterbank(n: int, J: int, Q1: int, Q2: int, T: int) -> FilterBank:
    """Design the bank's metadata for signals of length ``n`` (arrays: :func:`level`)."""
    log2_T = int(math.floor(math.log2(T)))
    n_padded = padded_length(n, T)
    pad_left = (n_padded - n) // 2

    def wavelets(q: int) -> list[Wavelet]:
        return [Wavelet(xi, s, max_dyadic_subsampling(xi, s)) for xi, s in wavelet_params(J, q)]

    return FilterBank(
        n=n,
        n_padded=n_padded,
        pad_left=pad_left,
        log2_T=log2_T,
        sigma_low=SIGMA0 / T,
        psi1=wavelets(Q1),
        psi2=wavelets(Q2),
        crop_start=border_index(pad_left, log2_T),
        crop_end=border_index(pad_left + n, log2_T),
    )


def level(full: np.ndarray, k: int) -> np.ndarray:
    """The filter for a signal subsampled by ``2**k``: the mean of its ``2**k`` periods."""
    return periodise(full, k) / 2**k if k else full


def design(n_padded: int, xi: float, sigma: float) -> np.ndarray:
    """The full-rate filter on ``n_padded`` bins (``xi == 0``: the Gaussian low-pass)."""
    return morlet_fourier(n_padded, xi, sigma)
