"""The page's cells: log-frequency spectrograms and peak-normalised audio files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from experiments.listen.audio_files import PEAK, write_page_audio
from experiments.listen.spectrogram import (
    _band_weights,
    log_frequency_db,
    lowest_frequency,
    write_spectrogram_png,
)


@pytest.mark.parametrize("sr", [8192, 44100])
def test_band_weights_average_the_bins(sr) -> None:
    n_fft = 2 ** math.ceil(math.log2(sr / 20))
    weights = _band_weights(sr, n_fft, 72)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)
    assert (weights >= 0).all()


@pytest.mark.parametrize(("sr", "freq"), [(8192, 440.0), (8192, 60.0), (44100, 3000.0)])
def test_a_sine_lights_the_band_of_its_frequency(sr, freq) -> None:
    n_bands = 72
    t = np.arange(sr) / sr
    db = log_frequency_db(np.sin(2 * np.pi * freq * t), sr, n_bands=n_bands)
    assert db.shape == (n_bands, 192)
    centres = np.geomspace(lowest_frequency(sr), sr / 2, n_bands)
    loudest = int(np.argmax(db[:, 96]))
    # The band whose centre is nearest in log frequency (a neighbour when the sine falls
    # between two centres: bands are 1/8 octave apart, wider than the triangle's flat top).
    nearest = int(np.argmin(np.abs(np.log2(centres / freq))))
    assert abs(loudest - nearest) <= 1


def test_a_level_change_shifts_every_band_by_its_db() -> None:
    sr = 8192
    x = np.random.default_rng(0).standard_normal(sr)
    loud, quiet = log_frequency_db(x, sr), log_frequency_db(0.1 * x, sr)
    # Power scales by 0.01: every band 20 dB lower (up to the 1e-20 floor, far below here).
    np.testing.assert_allclose(loud - quiet, 20.0, atol=1e-9)


def test_spectrogram_png(tmp_path) -> None:
    db = np.linspace(-100, 0, 72)[:, None] * np.ones((1, 192))  # lowest band first
    write_spectrogram_png(tmp_path / "s.png", db, top_db=0.0)
    image = np.asarray(Image.open(tmp_path / "s.png"))
    assert image.shape == (72, 192, 3)
    # Lowest band at the bottom, darker (magma: dark for low levels) than the top row.
    assert image[0].sum() > image[-1].sum()
    # Everything more than 70 dB below the top is the bottom colour.
    assert (image[-1] == image[-5]).all()


def test_page_audio_is_peak_normalised(tmp_path) -> None:
    x = 0.05 * np.sin(np.linspace(0, 200, 4000))
    audio = write_page_audio(tmp_path, "a", x, 8000, "flac")
    y, sr = sf.read(tmp_path / audio.name)
    assert audio.name == "a.flac" and sr == 8000
    assert np.abs(y).max() == pytest.approx(PEAK, abs=2**-15)
    assert audio.peak == pytest.approx(0.05, rel=1e-3)
    assert audio.volume == pytest.approx(0.05 / PEAK, rel=1e-3) and not audio.clipped
    # Louder than PEAK: played at it at "original level", and flagged.
    loud = write_page_audio(tmp_path, "b", 3 * np.sin(np.linspace(0, 200, 4000)), 8000, "wav")
    assert loud.volume == 1.0 and loud.clipped
    silent = write_page_audio(tmp_path, "c", np.zeros(100), 8000, "ogg")
    assert silent.peak == 0.0 and silent.volume == 0.0
    assert np.abs(sf.read(tmp_path / silent.name)[0]).max() < 1e-6
    with pytest.raises(ValueError, match="audio_format must be one of"):
        write_page_audio(tmp_path, "d", x, 8000, "mp4")
