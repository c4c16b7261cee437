"""Tests of the TR-808 loudness / centroid / flatness metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from experiments.metrics.tr808_features import (
    FEATURES,
    PARTS,
    feature_distances,
    frame,
    frame_loudness,
    frame_spectral_centroid,
    frame_spectral_flatness,
    k_weighting,
    tr808_features,
)

SR = 44100
N = 44100
n = np.arange(N)


def _mapped(centroid_hz: float) -> float:
    return -34.61 * centroid_hz**-0.1621 + 21.2985


def test_framing_is_2048_with_hop_512_without_padding():
    x = np.arange(42052.0)
    frames = frame(x)
    assert frames.shape == (79, 2048)  # (42052 - 2048) // 512 + 1
    assert frames[0, 0] == 0 and frames[1, 0] == 512 and frames[78, -1] == 78 * 512 + 2047


def test_k_weighting_at_48k_is_the_bs1770_table():
    # ITU-R BS.1770-4, table 1 (pre-filter) and table 2 (RLB high-pass), 48 kHz.
    impulse = np.zeros(64)
    impulse[0] = 1.0
    shelf = scipy.signal.lfilter(
        [1.53512485958697, -2.69169618940638, 1.19839281085285],
        [1.0, -1.69065929318241, 0.73248077421585],
        impulse,
    )
    expected = scipy.signal.lfilter(
        [1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621], shelf
    )
    np.testing.assert_allclose(k_weighting(impulse, 48000), expected, atol=1e-9)


def test_loudness_of_a_full_scale_1khz_sine_is_minus_3_01():
    # mean square 1/2 (-3.01 dB) plus the K-weighting's +0.69 dB at 997 Hz, minus 0.691
    loud = frame_loudness(np.sin(2 * math.pi * 997 * n / SR), SR)
    assert loud[5:].mean() == pytest.approx(10 * math.log10(0.5), abs=0.01)
    assert np.abs(loud[5:] - 10 * math.log10(0.5)).max() < 0.03
    # amplitude 1/2: 6.02 dB lower
    half = frame_loudness(0.5 * np.sin(2 * math.pi * 997 * n / SR), SR)
    np.testing.assert_allclose(loud - half, 20 * math.log10(2), atol=1e-9)


def test_loudness_of_silence_is_the_floor():
    np.testing.assert_allclose(frame_loudness(np.zeros(8192), SR), -0.691 - 80.0)


def test_centroid_of_a_cosine_at_quarter_rate_is_sr_over_4():
    # For cos(pi n / 2) (bin 512 of 2048) |X_k| = |X_{1024-k}|: the normalised log spectrum is
    # symmetric about bin 512, so its centroid is 11025 Hz exactly.
    centroid = frame_spectral_centroid(np.cos(math.pi * n / 2), SR)
    np.testing.assert_allclose(centroid, _mapped(SR / 4), rtol=1e-12)


def test_centroid_of_a_tone_and_of_white_noise():
    # A loud tone: nearly all the log-spectrum's mass lies in the window's main lobe, and the
    # 1e-4 floor (log1p(1e-4) per bin, centroid 11025 Hz) pulls the centroid up a little.
    f0 = 48 * SR / 2048
    tone = frame_spectral_centroid(np.sin(2 * math.pi * f0 * n / SR), SR)
    assert _mapped(f0) < tone.min() and tone.max() < _mapped(1.1 * f0)
    # white noise: a flat spectrum on average, centroid ~ sr / 4
    noise = np.random.default_rng(0).standard_normal(N)
    assert frame_spectral_centroid(noise, SR).mean() == pytest.approx(_mapped(SR / 4), abs=0.01)


def test_flatness_of_flat_spectrum_noise_and_sine():
    impulse = np.zeros(2048)
    impulse[1024] = 1.0  # |X_k| = w[1024] = 1 for every bin
    np.testing.assert_allclose(frame_spectral_flatness(impulse), 0.0, atol=1e-6)
    # White Gaussian noise: periodogram bins are exponential, E[log P] = log E[P] - gamma,
    # so the geometric / arithmetic mean ratio is e^-gamma (-5.01 dB in 20 log10).
    noise = np.random.default_rng(1).standard_normal(N)
    expected = 20 * math.log10(math.exp(-np.euler_gamma))
    assert frame_spectral_flatness(noise).mean() == pytest.approx(expected, abs=0.15)
    assert frame_spectral_flatness(np.sin(2 * math.pi * 997 * n / SR)).max() < -100


def test_features_remove_the_pad_and_weight_by_loudness():
    sine = np.sin(2 * math.pi * 997 * n / SR)
    padded = np.concatenate([np.zeros(2048), sine])[:N]
    feats = tr808_features(padded, SR)
    assert set(feats) == set(FEATURES)
    np.testing.assert_allclose(feats["loudness"], frame_loudness(sine[: N - 2048], SR))
    weight = feats["loudness"] + 80.691
    np.testing.assert_allclose(
        feats["centroid"], frame_spectral_centroid(sine[: N - 2048], SR) * weight
    )
    np.testing.assert_allclose(
        feats["flatness"], frame_spectral_flatness(sine[: N - 2048]) * weight
    )
    silent = tr808_features(np.zeros(N), SR)
    np.testing.assert_allclose(silent["centroid"], 0.0, atol=1e-9)
    np.testing.assert_allclose(silent["flatness"], 0.0, atol=1e-9)


def test_feature_distances_per_example_and_part():
    rng = np.random.default_rng(2)
    target = torch.from_numpy(rng.uniform(-0.5, 0.5, (3, 1, N)))
    d_same = feature_distances(target, target, SR)
    assert set(d_same) == {f"{f}_{p}" for f in FEATURES for p in PARTS}
    for value in d_same.values():
        assert value.shape == (3, 1)
        np.testing.assert_allclose(value, 0.0)
    silence = np.zeros((3, 1, N))
    d = feature_distances(target, silence, SR)
    loud = tr808_features(target, SR)["loudness"]
    np.testing.assert_allclose(d["loudness_transient"], np.abs(loud[..., 0:2] + 80.691).mean(-1))
    np.testing.assert_allclose(d["loudness_decay"], np.abs(loud[..., 2:66] + 80.691).mean(-1))
    np.testing.assert_allclose(
        feature_distances(silence, target, SR)["flatness_decay"], d["flatness_decay"]
    )


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: tr808_features(np.zeros(30000), SR), ValueError, "37376 samples"),
        (lambda: tr808_features(np.zeros(N), SR, pad=-1), ValueError, "pad"),
        (lambda: tr808_features(np.full(N, np.nan), SR), ValueError, "NaN"),
        (
            lambda: feature_distances(np.zeros((2, N)), np.zeros((3, N)), SR),
            ValueError,
            "same shape",
        ),
        (lambda: frame_loudness(np.zeros(100), SR), ValueError, ">= 2048"),
        (lambda: k_weighting(np.zeros(4096), 0), ValueError, "sr"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
