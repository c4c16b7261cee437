"""The page's audio files: each sound peak-normalised, with its original peak kept aside.

A browser's ``volume`` only attenuates, so every file is written at the same peak,
:data:`PEAK` (−1 dBFS: lossy codecs overshoot a full-scale peak), and the page plays it at
``volume = 1`` (peak-normalised) or ``volume = original peak / PEAK`` (original level).
A sound whose original peak is above :data:`PEAK` cannot be played louder than that and is
flagged. Formats: 16-bit PCM WAV (default, exact to 16 bits), FLAC (the same, smaller) or
Ogg Vorbis (lossy, a few kB per second: for pages that are committed or served widely).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf

__all__ = ["AUDIO_FORMATS", "PEAK", "PageAudio", "write_page_audio"]

PEAK = 10.0 ** (-1.0 / 20.0)
# name -> (libsndfile format, subtype, file suffix)
AUDIO_FORMATS = {
    "wav": ("WAV", "PCM_16", ".wav"),
    "flac": ("FLAC", "PCM_16", ".flac"),
    "ogg": ("OGG", "VORBIS", ".ogg"),
}


@dataclass(frozen=True)
class PageAudio:
    """A written file: its name and the sound's original peak."""

    name: str
    peak: float

    @property
    def volume(self) -> float:
        """The ``volume`` that plays the file at its original level (at most 1)."""
        return min(1.0, self.peak / PEAK)

    @property
    def clipped(self) -> bool:
        """Whether the original is louder than :data:`PEAK`, so plays quieter than it was."""
        return self.peak > PEAK


def write_page_audio(
    folder: str | os.PathLike, stem: str, x: np.ndarray, sr: int, audio_format: str
) -> PageAudio:
    """Write mono ``x`` peak-normalised as ``folder/stem<suffix>``; silence stays silent."""
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(
            f"audio_format must be one of {sorted(AUDIO_FORMATS)}, got {audio_format!r}"
        )
    fmt, subtype, suffix = AUDIO_FORMATS[audio_format]
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    peak = float(np.abs(x).max(initial=0.0))
    y = x * (PEAK / peak) if peak > 0 else x
    name = stem + suffix
    sf.write(os.path.join(folder, name), y.astype(np.float32), int(sr), format=fmt, subtype=subtype)
    return PageAudio(name, peak)
