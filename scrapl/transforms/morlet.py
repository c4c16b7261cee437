"""Design of 1-D Morlet filter banks in the Fourier domain (pure numpy).

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

Nothing here depends on torch: the transforms (:mod:`scrapl.transforms.jtfs`) turn these
arrays into buffers; :mod:`scrapl.transforms.jtfs.filters` assembles the JTFS's bank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
