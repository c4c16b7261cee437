"""Frame-wise loudness, spectral centroid and spectral flatness of drum hits, and their L1.

The TR-808 experiment of Mitcheltree et al. (ICLR 2026, SCRAPL) judges a reconstruction by
how closely these features follow the target's, separately over the transient (frames 0-1)
and the decay (frames 2-65) of the hit. The definitions are those of the published set-up:

* the ``pad`` samples of the training shift's left padding are removed first
  (:func:`experiments.training_shift.pad_shift`), then frames of 2048 samples with hop 512
  (no centring: frame ``i`` is samples ``512 i .. 512 i + 2047``);
* loudness: the signal is K-weighted (the ITU-R BS.1770 pre-filter and RLB high-pass, as
  designed by ``pyloudnorm``'s "DeMan" filters, which reproduce the standard's 48 kHz
  coefficients at any rate), framed, then ``-0.691 + 10 log10(mean(x^2) + 1e-8)``, no gating.
  Silence gives -80.691; a full-scale 1 kHz sine about -3.01 (LKFS);
* spectral centroid: symmetric 5-term flat-top window, ``|rfft|`` floored at 1e-4, ``log1p``,
  normalised to sum 1, centroid in Hz, mapped by ``-34.61 f^-0.1621 + 21.2985``;
* spectral flatness: periodic Hann window, power floored at 1e-10,
  ``20 log10(geometric mean / arithmetic mean + 1e-8)`` (dB);
* centroid and flatness are multiplied by ``loudness + 80.691`` (0 for silent frames), so
  quiet frames weigh little.

The K-weighting filters run over the whole (pad-removed) signal from a zero state, before
framing. Inputs are numpy arrays or tensors; everything is computed in float64 numpy (these
are evaluation metrics, not losses).
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
import scipy.signal
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from scrapl.validation import check_int, check_positive

__all__ = [
    "FEATURES",
    "PARTS",
    "TR808FeatureDistances",
    "feature_distances",
    "frame",
    "frame_loudness",
    "frame_spectral_centroid",
    "frame_spectral_flatness",
    "k_weighting",
    "tr808_features",
]

FRAME_LEN = 2048
HOP = 512
# Frame ranges of the two parts of a hit (python slices over the frame axis).
PARTS = {"transient": slice(0, 2), "decay": slice(2, 66)}
FEATURES = ("loudness", "centroid", "flatness")
_SILENCE_LOUDNESS = -0.691 + 10 * np.log10(1e-8)  # -80.691


def _as_signal(name: str, x: object) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name} must have samples in its last axis, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def frame(x: ArrayLike) -> np.ndarray:
    """``(..., n_frames, 2048)`` frames of ``x`` ``(..., n)``, hop 512, no padding."""
    x = _as_signal("x", x)
    if x.shape[-1] < FRAME_LEN:
        raise ValueError(f"x must have >= {FRAME_LEN} samples, got {x.shape[-1]}")
    return np.lib.stride_tricks.sliding_window_view(x, FRAME_LEN, axis=-1)[..., ::HOP, :]


def k_weighting(x: ArrayLike, sr: float) -> np.ndarray:
    """``x`` ``(..., n)`` through the BS.1770 K-weighting filters (zero initial state)."""
    sr = check_positive("sr", sr)
    y = _as_signal("x", x)
    # pyloudnorm keeps its filter stages in a private dict; each stage has public b, a.
    for stage in pyloudnorm.Meter(sr, filter_class="DeMan")._filters.values():
        y = scipy.signal.lfilter(stage.b, stage.a, y, axis=-1)
    return y


def frame_loudness(x: ArrayLike, sr: float) -> np.ndarray:
    """Loudness per frame (dB, K-weighted, no gating), ``(..., n_frames)``."""
    frames = frame(k_weighting(x, sr))
    return -0.691 + 10.0 * np.log10(np.mean(frames**2, axis=-1) + 1e-8)


def frame_spectral_centroid(x: ArrayLike, sr: float) -> np.ndarray:
    """Perceptually mapped spectral centroid per frame, ``(..., n_frames)``.

    ``-34.61 c^-0.1621 + 21.2985`` with ``c`` the centroid in Hz of the normalised
    ``log1p(max(|rfft(flat-top * frame)|, 1e-4))``.
    """
    sr = check_positive("sr", sr)
    window = scipy.signal.windows.flattop(FRAME_LEN, sym=True)
    mag = np.maximum(np.abs(np.fft.rfft(frame(x) * window, axis=-1)), 1e-4)
    weights = np.log1p(mag)
    weights /= weights.sum(axis=-1, keepdims=True)
    centroid_hz = weights @ np.fft.rfftfreq(FRAME_LEN, d=1.0 / sr)
    return -34.61 * centroid_hz**-0.1621 + 21.2985


def frame_spectral_flatness(x: ArrayLike) -> np.ndarray:
    """Spectral flatness per frame in dB (periodic Hann window), ``(..., n_frames)``."""
    window = scipy.signal.windows.hann(FRAME_LEN, sym=False)
    power = np.maximum(np.abs(np.fft.rfft(frame(x) * window, axis=-1)) ** 2, 1e-10)
    geometric = np.exp(np.mean(np.log(power), axis=-1))
    return 20.0 * np.log10(geometric / np.mean(power, axis=-1) + 1e-8)


def tr808_features(x: ArrayLike, sr: float, pad: int = 2048) -> dict[str, np.ndarray]:
    """Loudness, loudness-weighted centroid and loudness-weighted flatness per frame.

    Args:
        x: ``(..., n)`` audio (e.g. ``(batch, 1, N)``) including the ``pad`` leading samples
            of the training shift; at least ``pad + 2048 + 65 * 512`` samples, so that the
            decay's 64 frames exist.
        sr: sample rate in Hz.
        pad: leading samples to drop (0 for audio without the padding).

    Returns:
        ``{"loudness", "centroid", "flatness"}``, each ``(..., n_frames)`` float64.
    """
    pad = check_int("pad", pad, 0)
    x = _as_signal("x", x)
    needed = pad + FRAME_LEN + (PARTS["decay"].stop - 1) * HOP
    if x.shape[-1] < needed:
        raise ValueError(
            f"x must have >= pad + 2048 + 65 * 512 = {needed} samples (66 frames after the "
            f"pad), got {x.shape[-1]}"
        )
    x = x[..., pad:]
    loudness = frame_loudness(x, sr)
    weight = loudness - _SILENCE_LOUDNESS
    return {
        "loudness": loudness,
        "centroid": frame_spectral_centroid(x, sr) * weight,
        "flatness": frame_spectral_flatness(x) * weight,
    }


def feature_distances(
    target: ArrayLike, recon: ArrayLike, sr: float, pad: int = 2048
) -> dict[str, np.ndarray]:
    """L1 between the target's and the reconstruction's features, per example and part.

    Args:
        target, recon: audio of the same shape ``(..., n)`` (see :func:`tr808_features`).
        sr, pad: as in :func:`tr808_features`.

    Returns:
        ``"<feature>_<part>"`` (e.g. ``"loudness_transient"``, ``"flatness_decay"``) -> the mean
        over the part's frames of ``|f(target) - f(recon)|``, shape ``target.shape[:-1]``.
    """
    target = _as_signal("target", target)
    recon = _as_signal("recon", recon)
    if target.shape != recon.shape:
        raise ValueError(
            f"target and recon must have the same shape, got {target.shape} and {recon.shape}"
        )
    f_target = tr808_features(target, sr, pad)
    f_recon = tr808_features(recon, sr, pad)
    return {
        f"{name}_{part}": np.abs(f_target[name][..., frames] - f_recon[name][..., frames]).mean(-1)
        for name in FEATURES
        for part, frames in PARTS.items()
    }


class TR808FeatureDistances(nn.Module):
    """:func:`feature_distances` as a test metric: ``(x_hat, x)`` -> one value per example.

    Args:
        sr: sample rate in Hz.
        pad: leading samples to drop (0 when the caller has already removed the pad, as
            :class:`experiments.module.SoundMatching`'s test step does).

    ``forward(x_hat, x)`` with ``(batch, 1, n)`` audio returns ``{"<feature>_<part>": (batch,)}``
    float64 tensors (``loudness_transient``, ``loudness_decay``, ``centroid_transient``, ...),
    in the order of :data:`FEATURES` and :data:`PARTS`.
    """

    def __init__(self, sr: float = 44100, pad: int = 0) -> None:
        super().__init__()
        self.sr = check_positive("sr", sr)
        self.pad = check_int("pad", pad, 0)

    def forward(self, x_hat: Tensor, x: Tensor) -> dict[str, Tensor]:
        distances = feature_distances(x, x_hat, self.sr, self.pad)
        # (batch, 1) per example and channel -> (batch,)
        return {k: torch.from_numpy(v.reshape(v.shape[0], -1).mean(-1)) for k, v in
                distances.items()}  # fmt: skip
