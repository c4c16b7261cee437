"""The filter bank of image scattering, as kymatio 0.3's ``Scattering2D`` designs it (numpy).

Wavelets are 2-D Morlets (an elongated Gabor minus a multiple of its Gaussian envelope, so that
its mean is zero), periodised in space over 5 × 5 copies of the padded grid and transformed by
FFT; their Fourier transform is real. Scale ``j`` has envelope width ``0.8 · 2**j`` pixels and
centre frequency ``3π / 4 / 2**j`` radians per pixel, orientation ``θ`` is the angle
``(⌊L/2⌋ - 1 - θ) π / L`` (``int(L - L/2 - 1)`` for odd L), slant ``4 / L``. The low-pass is
the Gaussian of width ``0.8 · 2**(J-1)``. Like the reference:

- the rotation matrix is rounded to float32 and the normalisation uses ``2 · 3.1415``;
- a filter for a signal subsampled by ``2**k`` keeps the central ``1 / 2**k`` of its
  spectrum along each axis (a crop in frequency).

Terms of the periodisation whose Gaussian envelope is below ``exp(-46)`` (1e-20 of the peak)
everywhere on a block are skipped: they are below float64 resolution of the filter's
largest values and would cost most of the design time for fine scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NEGLIGIBLE_EXPONENT = 46.0  # exp(-46) ≈ 1e-20


@dataclass(frozen=True)
class Wavelet2D:
    """One wavelet: scale ``j``, orientation index ``theta`` and its Fourier transform at the
    resolutions the transform applies it at (``levels[k]``: input subsampled by ``2**k``)."""

    j: int
    theta: int
    levels: dict[int, np.ndarray]


def padded_shape(m: int, n: int, J: int) -> tuple[int, int]:
    """The reference's padded size: the next multiple of ``2**J`` after ``size + 2**J``."""
    return ((m + 2**J) // 2**J + 1) * 2**J, ((n + 2**J) // 2**J + 1) * 2**J


def padding(size: int, padded: int) -> tuple[int, int, bool]:
    """``(before, after, extra)``: reflect padding of one axis; ``extra`` when the padding
    equals the size (then, as the reference, ``size - 1`` is reflected and one more sample
    repeats the second one on each side)."""
    before, after = (padded - size) // 2, (padded - size + 1) // 2
    if before == size:
        return before - 1, after - 1, True
    return before, after, False


def padding_index(size: int, padded: int) -> np.ndarray:
    """The source sample of every padded sample along one axis (``(padded,)`` int64)."""
    before, after, extra = padding(size, padded)
    idx = np.pad(np.arange(size), (before, after), mode="reflect")
    if extra:
        idx = np.concatenate([idx[1:2], idx, idx[-2:-1]])
    return idx.astype(np.int64)


def gabor_2d(
    m: int, n: int, sigma: float, theta: float, xi: float, slant: float = 1.0
) -> np.ndarray:
    """The reference's periodised 2-D Gabor filter in space, ``(m, n)`` complex128."""
    c, s = np.float32(np.cos(theta)), np.float32(np.sin(theta))
    rot = np.array([[c, -s], [s, c]], np.float32)
    rot_inv = np.array([[c, s], [-s, c]], np.float32)
    curv = rot @ np.diag([1.0, slant * slant]) @ rot_inv / (2 * sigma * sigma)
    # Every block's envelope is below exp(-NEGLIGIBLE_EXPONENT) outside a disc of this radius.
    lam_min = min(1.0, slant * slant) / (2 * sigma * sigma)
    radius = math.sqrt(NEGLIGIBLE_EXPONENT / lam_min)
    out = np.zeros((m, n), np.complex128)
    for ex in range(-2, 3):
        x0, x1 = max(0, math.ceil(-radius - ex * m)), min(m, math.floor(radius - ex * m) + 1)
        if x0 >= x1:
            continue
        for ey in range(-2, 3):
            y0, y1 = max(0, math.ceil(-radius - ey * n)), min(n, math.floor(radius - ey * n) + 1)
            if y0 >= y1:
                continue
            xx, yy = np.mgrid[x0 + ex * m : x1 + ex * m, y0 + ey * n : y1 + ey * n]
            quad = curv[0, 0] * xx * xx + (curv[0, 1] + curv[1, 0]) * xx * yy
            quad += curv[1, 1] * yy * yy
            phase = xx * xi * np.cos(theta) + yy * xi * np.sin(theta)
            out[x0:x1, y0:y1] += np.exp(-quad + 1j * phase)
    return out / (2 * 3.1415 * sigma * sigma / slant)


def morlet_2d(m: int, n: int, sigma: float, theta: float, xi: float, slant: float) -> np.ndarray:
    """The reference's 2-D Morlet wavelet in space: Gabor minus ``K`` times its envelope,
    ``K`` such that the sum is zero."""
    wave = gabor_2d(m, n, sigma, theta, xi, slant)
    envelope = gabor_2d(m, n, sigma, theta, 0.0, slant)
    return wave - (wave.sum() / envelope.sum()) * envelope


def crop_spectrum(filter_f: np.ndarray, k: int, axes: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """The central ``1 / 2**k`` of a spectrum along ``axes`` (the reference's
    ``periodize_filter_fft``: a band is zeroed, then the periods are summed)."""
    for axis in axes:
        size = filter_f.shape[axis]
        half = size >> (k + 1)
        keep = np.r_[0:half, size - half : size]
        filter_f = np.take(filter_f, keep, axis=axis)
    return filter_f


def orientation(theta: int, L: int) -> float:
    """The angle of orientation index ``theta``, radians."""
    return (int(L - L / 2 - 1) - theta) * np.pi / L


def wavelet(m: int, n: int, j: int, theta: int, L: int, levels: list[int]) -> Wavelet2D:
    """Wavelet ``(j, theta)`` on the padded grid ``(m, n)``, at the resolutions ``levels``."""
    psi = morlet_2d(m, n, 0.8 * 2**j, orientation(theta, L), 3.0 / 4.0 * np.pi / 2**j, 4.0 / L)
    psi_f = np.real(np.fft.fft2(psi))
    return Wavelet2D(j=j, theta=theta, levels={k: crop_spectrum(psi_f, k) for k in levels})


def lowpass_factors(m: int, n: int, J: int) -> tuple[np.ndarray, np.ndarray]:
    """The low-pass's Fourier transform at full resolution as two 1-D factors: it is the
    outer product of these (the reference's ``gabor_2d(m, n, 0.8 * 2**(J-1), 0, 0)``, an
    isotropic Gaussian, is separable), ``(m,)`` and ``(n,)`` real."""
    sigma = 0.8 * 2 ** (J - 1)

    def factor(size: int) -> np.ndarray:
        t = np.arange(-2 * size, 3 * size, dtype=float)
        g = np.exp(-t * t / (2 * sigma * sigma)).reshape(5, size).sum(axis=0)
        return np.real(np.fft.fft(g))

    return factor(m) / (2 * 3.1415 * sigma * sigma), factor(n)
