"""Small log-frequency spectrograms for the page, drawn straight to PNG (no figure).

A Hann-windowed STFT (about 20 Hz bins) is pooled onto ``n_bands`` bands equally spaced in
log frequency from :func:`lowest_frequency` to Nyquist: each band averages the power of the
bins under a triangle one band spacing wide on either side of its centre, and a band
narrower than the bins (low frequencies) interpolates its two nearest bins instead. Values
are in dB. A row of the page is drawn with one colour scale: the loudest band of the row's
sounds is the top colour and ``dynamic_range`` dB below it the bottom one.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np
from matplotlib import colormaps
from PIL import Image

__all__ = ["DYNAMIC_RANGE_DB", "log_frequency_db", "lowest_frequency", "write_spectrogram_png"]

DYNAMIC_RANGE_DB = 70.0
# magma: perceptually uniform and readable in grey; 256 RGB entries.
_LUT = (colormaps["magma"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)


def lowest_frequency(sr: int) -> float:
    """The bottom of the axis: 9 octaves below Nyquist, but not below 20 Hz."""
    return max(20.0, sr / 2 / 2**9)


@functools.lru_cache(maxsize=16)
def _band_weights(sr: int, n_fft: int, n_bands: int) -> np.ndarray:
    """``(n_bands, n_fft // 2 + 1)`` pooling weights, each row summing to 1."""
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    lo, hi = math.log2(lowest_frequency(sr)), math.log2(sr / 2)
    centres = np.linspace(lo, hi, n_bands)
    spacing = (hi - lo) / max(n_bands - 1, 1)
    with np.errstate(divide="ignore"):
        log_f = np.log2(freqs)
    weights = np.clip(1.0 - np.abs(log_f[None, :] - centres[:, None]) / spacing, 0.0, None)
    for b, centre in enumerate(centres):
        if np.count_nonzero(weights[b]) >= 2:
            continue
        # Narrower than the bins: linear interpolation between the two around the centre.
        pos = 2.0**centre * n_fft / sr
        k = min(int(pos), len(freqs) - 2)
        weights[b] = 0.0
        weights[b, k], weights[b, k + 1] = k + 1 - pos, pos - k
    return weights / weights.sum(axis=1, keepdims=True)


def log_frequency_db(x: np.ndarray, sr: int, n_bands: int = 72, n_frames: int = 192) -> np.ndarray:
    """``(n_bands, n_frames)`` power in dB of mono ``x``, lowest band first."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("x must hold at least one sample")
    n_fft = 2 ** math.ceil(math.log2(max(sr / 20.0, 16)))
    hop = x.size / n_frames
    padded = np.pad(x, n_fft // 2)
    starts = np.minimum((np.arange(n_frames) * hop).astype(int), padded.size - n_fft)
    if padded.size < n_fft:
        padded = np.pad(padded, (0, n_fft - padded.size))
        starts = np.zeros(n_frames, dtype=int)
    frames = padded[starts[:, None] + np.arange(n_fft)[None, :]] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    pooled = _band_weights(int(sr), n_fft, n_bands) @ power.T
    return 10.0 * np.log10(np.maximum(pooled, 1e-20))


def write_spectrogram_png(
    path: str | os.PathLike, db: np.ndarray, top_db: float, dynamic_range: float = DYNAMIC_RANGE_DB
) -> None:
    """Draw ``db`` (lowest band first) as a PNG, ``top_db`` at the top colour."""
    level = np.clip((db - (top_db - dynamic_range)) / dynamic_range, 0.0, 1.0)
    rgb = _LUT[np.round(level[::-1] * 255).astype(np.uint8)]
    Image.fromarray(np.ascontiguousarray(rgb)).save(path, format="PNG", compress_level=6)
