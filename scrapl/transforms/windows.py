"""Band-pass filtering on a window of consecutive frequency bins (numpy plans for jtfs.py).

A band-pass filter designed on an ``n``-bin grid is negligible outside a short circular
window of bins (its support). Filtering a real signal's spectrum by it and subsampling to
``n_out`` bins (periodisation) then needs only that window: read the window from the half
spectrum, multiply by the filter, and write it to bins ``0 .. width - 1`` of the output
grid (folded modulo ``n_out`` if wider), instead of zero-filling a full spectrum and
scattering into it.

Writing the window at bin 0 instead of at its own frequency shifts the spectrum circularly,
which multiplies the filtered signal by a unit complex exponential ``exp(-2iπ·start·t/n_out)``.
Every filtered row is followed by a modulus, which removes it: ``|x ∗ ψ|`` is unchanged. Rows
that are combined linearly before the modulus (the second-order wavelet coefficients, mixed
along log-frequency by the frequential filters) must share one window start, so that they
share the exponential; :func:`window_plan` does that with ``shared=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowPlan:
    """Filters applied on one window of ``width`` consecutive bins per row.

    Output bin ``i`` of row ``r`` (before folding modulo ``n_out``) is
    ``spectrum[src[r, i]] * value[r, i, 0]`` in its real part and
    ``imag(spectrum[src[r, i]]) * value[r, i, 1]`` in its imaginary part: ``value[..., 1]``
    is ``-value[..., 0]`` where the bin is a negative frequency, read as the conjugate of the
    positive one (the half spectrum of a real signal). ``src`` indexes each row's own half
    spectrum (``n_src`` bins are read at most).
    """

    src: np.ndarray  # (rows, width) int64
    value: np.ndarray  # (rows, width, 2) float64
    width: int
    n_out: int
    n_src: int


def support_window(filter_f: np.ndarray, tol: float = 1e-7) -> tuple[int, int]:
    """``(start, width)``: the shortest circular run of bins holding every bin where
    ``|filter| > tol * max|filter|`` (below that, under float32 resolution of the result).
    ``start`` is signed, in ``(-n/2, n/2]`` (negative: the run starts at a negative
    frequency)."""
    n = filter_f.shape[0]
    mag = np.abs(filter_f)
    (bins,) = np.nonzero(mag > tol * mag.max())
    gaps = np.diff(np.append(bins, bins[0] + n))
    widest = int(np.argmax(gaps))
    start = int(bins[(widest + 1) % bins.size])
    width = n - int(gaps[widest]) + 1
    return (start - n if start > n // 2 else start), width


def window_plan(
    filters: list[np.ndarray], n_out: int, shared: bool = False, tol: float = 1e-7
) -> WindowPlan:
    """Plan for row ``r`` filtered by ``filters[r]`` (on its own grid of ``len(filters[r])``
    bins, a multiple of ``n_out``) and subsampled to ``n_out`` bins.

    ``shared``: one window start (in signed frequency bins) for all rows, for rows combined
    linearly before their modulus. Subsampling by ``n / n_out`` averages the periods, hence
    the values' factor ``n_out / n``.
    """
    windows = [support_window(f, tol) for f in filters]
    if shared:
        lo = min(s for s, _ in windows)
        width = max(s + w for s, w in windows) - lo
        starts = [lo] * len(filters)
    else:
        width = max(w for _, w in windows)
        starts = [s for s, _ in windows]
    if width > n_out:  # fold: a whole number of output periods
        width = -(-width // n_out) * n_out
    srcs, values = [], []
    for filt, start in zip(filters, starts, strict=True):
        n = filt.shape[0]
        if width > n:
            raise ValueError(f"a window of {width} bins does not fit a grid of {n} bins")
        bins = (start + np.arange(width)) % n
        negative = bins > n // 2
        src = np.where(negative, n - bins, bins)
        val = filt[bins] * (n_out / n)
        srcs.append(src)
        values.append(np.stack([val, np.where(negative, -val, val)], axis=-1))
    src = np.stack(srcs)
    return WindowPlan(
        src=src, value=np.stack(values), width=width, n_out=n_out, n_src=int(src.max()) + 1
    )
