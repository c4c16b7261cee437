"""Filter-bank design for the joint time–frequency scattering transform (pure numpy).

Every filter is designed in the Fourier domain on a grid of ``N`` bins (``np.fft.fftfreq``
order, frequencies in cycles per sample, Nyquist = 0.5) and is real-valued there. The rules
follow the design of kymatio's 1-D scattering and JTFS (Andén & Mallat, "Deep scattering
spectrum", IEEE TSP 2014; Andén, Lostanlen & Mallat, "Joint time–frequency scattering",
IEEE TSP 2019), so that coefficients are comparable with the field's reference
implementation:

- band-pass filters are Morlet wavelets, low-pass filters are Gaussians, both periodised
  in frequency and normalised to unit L1 norm in time;
- centre frequencies follow a geometric progression (Q per octave) from ``xi_max`` down
  to an elbow, then an arithmetic progression with constant bandwidth ``sigma0 / 2**J``;
- each filter carries ``j``, the largest dyadic subsampling it tolerates without aliasing.

Nothing here depends on torch: :mod:`scrapl.jtfs` turns these arrays into buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

SIGMA0 = 0.1  # bandwidth of the low-pass at scale 1; sigma_min = SIGMA0 / 2**J
ALPHA = 5.0  # aliasing tolerance: a filter ends at xi + ALPHA * sigma
R_PSI = math.sqrt(0.5)  # adjacent wavelets cross at this fraction of their peak
PERIODISATION_EPS = 1e-7


@dataclass(frozen=True)
class Filter:
    """One filter in the Fourier domain, with the metadata the transform needs.

    ``levels[k]`` is the filter for a signal already subsampled by ``2**k``: its
    periodisation over ``2**k`` periods, of length ``N / 2**k``. ``xi`` and ``sigma`` are in
    cycles per sample (at full rate); ``xi < 0`` marks a mirrored (spin −1) wavelet.
    """

    xi: float
    sigma: float
    j: int
    levels: list[np.ndarray] = field(repr=False)


def morlet_fourier(n: int, xi: float, sigma: float) -> np.ndarray:
    """Fourier transform of a Morlet wavelet (``xi != 0``) or Gaussian (``xi == 0``).

    The Gabor atom ``exp(-(f - xi)^2 / (2 sigma^2))`` is corrected by a multiple of the
    Gaussian of the same width so that the wavelet has zero mean, periodised over enough
    periods that the truncation error is below 1e-7, then scaled to unit L1 norm in time.

    Returns a real array of length ``n`` in ``np.fft.fftfreq`` order.
    """
    n_periods = min(int(math.ceil(math.sqrt(-2 * sigma**2 * math.log(PERIODISATION_EPS)) + 1)), 5)
    freqs = np.arange((1 - n_periods) * n, n_periods * n, dtype=float) / n
    low = np.exp(-(freqs**2) / (2 * sigma**2)).reshape(2 * n_periods - 1, n).mean(axis=0)
    if xi:
        gabor = np.exp(-((freqs - xi) ** 2) / (2 * sigma**2)).reshape(2 * n_periods - 1, n)
        gabor = gabor.mean(axis=0)
        out = gabor - (gabor[0] / low[0]) * low
    else:
        out = low
    return out / np.abs(np.fft.ifft(out)).sum()


def sigma_for_q(xi: float, q: int, r: float = R_PSI) -> float:
    """Bandwidth of a wavelet at ``xi`` such that neighbours ``2**(1/q)`` apart cross at ``r``."""
    ratio = 2.0 ** (-1.0 / q)
    return xi * (1 - ratio) / (1 + ratio) / math.sqrt(2 * math.log(1 / r))


def max_dyadic_subsampling(xi: float, sigma: float, alpha: float = ALPHA) -> int:
    """Largest ``j`` such that subsampling by ``2**j`` after this filter does not alias."""
    upper = min(abs(xi) + alpha * sigma, 0.5)
    return int(math.floor(-math.log2(upper))) - 1


def wavelet_params(J: int, Q: int, sigma0: float = SIGMA0) -> list[tuple[float, float]]:
    """Centre frequencies and bandwidths ``(xi, sigma)`` of a wavelet bank, highest first.

    Geometric (constant-Q) spacing while the bandwidth stays above ``sigma0 / 2**J``, then
    ``Q - 1`` filters of that minimal bandwidth spaced linearly down towards zero.
    """
    xi = max(1.0 / (1.0 + 2.0 ** (3.0 / Q)), 0.35)
    sigma = sigma_for_q(xi, Q)
    sigma_min = sigma0 / 2**J
    params: list[tuple[float, float]] = []
    if sigma <= sigma_min:
        xi = sigma
    else:
        params.append((xi, sigma))
        while sigma > sigma_min * 2.0 ** (1.0 / Q):
            xi /= 2.0 ** (1.0 / Q)
            sigma /= 2.0 ** (1.0 / Q)
            params.append((xi, sigma))
    elbow = xi
    for _ in range(Q - 1):
        xi -= elbow / Q
        params.append((xi, sigma_min))
    return params


def periodise(filter_f: np.ndarray, level: int) -> np.ndarray:
    """Filter for a signal subsampled by ``2**level``.

    Summing (not averaging) the ``2**level`` periods keeps the convolution gain of the
    filter at every rate, so a coefficient does not depend on where it was subsampled.
    """
    return filter_f.reshape(2**level, -1).sum(axis=0)


def make_filter(n: int, xi: float, sigma: float, j: int, n_levels: int) -> Filter:
    """Build a :class:`Filter` with ``n_levels`` resolutions (at least the full rate)."""
    full = morlet_fourier(n, xi, sigma)
    levels = [full] + [periodise(full, k) for k in range(1, max(n_levels, 1))]
    return Filter(xi=xi, sigma=sigma, j=j, levels=levels)


def temporal_support(filter_f: np.ndarray, criterion: float = 1e-3) -> int:
    """Half-width (samples) outside of which the filter's L1 mass is below ``criterion``."""
    h = np.abs(np.fft.ifft(filter_f))
    half = h.shape[0] // 2
    tail = np.cumsum(h[:half][::-1])[::-1]
    below = np.nonzero(tail <= criterion)[0]
    return int(below[0]) + 1 if below.size else half


def padded_length(n: int, T: int) -> int:
    """Power-of-two length the signal is reflect-padded to before the transform.

    Pads by three supports of the temporal low-pass on each side when possible, but never
    by ``n`` or more on one side (reflection needs a source sample).
    """
    support = temporal_support(morlet_fourier(n, 0.0, SIGMA0 / T))
    j_max = int(math.floor(math.log2(3 * n - 2)))
    return 2 ** min(int(math.ceil(math.log2(n + 2 * 3 * support))), j_max)


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


def decimated_convolution_matrix(filter_f: np.ndarray, n_in: int, log2_factor: int) -> np.ndarray:
    """Matrix of circular convolution with a filter followed by decimation.

    For a signal ``u`` of length ``N = len(filter_f)`` that is zero beyond its first ``n_in``
    samples, ``u[:n_in] @ M`` equals the filtered signal kept at every ``2**log2_factor``-th
    sample (what filtering by FFT and subsampling in Fourier give). Shape
    ``(n_in, N / 2**log2_factor)``, complex. Used where the output is short, so a matrix
    product is cheaper than two FFTs of the long axis.
    """
    n = filter_f.shape[0]
    h = np.fft.ifft(filter_f)
    step = 2**log2_factor
    m = np.arange(0, n, step)
    return h[(m[None, :] - np.arange(n_in)[:, None]) % n]
