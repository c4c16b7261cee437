"""Tests of the granular chirplet synth (experiments/synths/granular.py).

Properties are measured from the rendered audio: grain amplitudes by least squares against
independently built (numpy) grain waveforms, chirp direction, rate and centre pitch from the
phase of the analytic signal (scipy.signal.hilbert). The amplitude law and the chirp-rate
mapping are re-derived here from their written definitions (the paper's set-up), in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from experiments.synths.granular import GranularSynth, draw_grains, grain_amplitudes, granular

SR = 8192
GAMMA_UNIT = SR / (12 * 256) / 4  # a quarter of one CQT bin per CQT frame, oct/s


def _theta(density: float, slope: float, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor([[density, slope]], dtype=dtype)


def _gamma(theta_slope: float, cap: float = 0.95) -> float:
    return GAMMA_UNIT * math.tan(cap * math.pi / 2 * (2 * theta_slope - 1))


def _amplitudes_np(d: float, n_grains: int = 64) -> np.ndarray:
    k = np.arange(n_grains)
    a = 1.0 - 1.0 / (
        1.0 + np.exp(-2.0 * (1.0 - d) * n_grains * (k / n_grains - (0.25 * d + 0.75 * d**2)))
    )
    return a / a.max()


@pytest.fixture(scope="module")
def synth() -> GranularSynth:
    return GranularSynth()


# ---------------------------------------------------------------- shape, norm, mapping


def test_shape_dtype_finite_and_unit_norm(synth):
    theta = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [0.3, 0.9]])
    x = synth(theta, torch.arange(4))
    assert x.shape == (4, 1, 32768)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    torch.testing.assert_close(x.square().sum(-1).sqrt(), torch.ones(4, 1), rtol=0, atol=1e-5)
    x64 = synth(theta.double(), 3)
    assert x64.dtype == torch.float64
    torch.testing.assert_close(
        x64.square().sum(-1).sqrt(), torch.ones(4, 1, dtype=torch.float64), rtol=0, atol=1e-12
    )


def test_loudness_carries_no_density(synth):
    """Densities 0 and 1 have the same energy (unit norm), unlike an unnormalised sum."""
    seeds = torch.arange(6)
    low = synth(torch.tensor([[0.0, 0.5]] * 6), seeds)
    high = synth(torch.tensor([[1.0, 0.5]] * 6), seeds)
    torch.testing.assert_close(low.square().sum(-1), high.square().sum(-1), rtol=0, atol=1e-5)


def test_controls_mapping(synth):
    theta = torch.tensor([[0.25, 0.0], [0.5, 0.5], [1.0, 1.0], [0.0, 0.75]])
    c = synth.controls(theta)
    assert torch.equal(c["density"], theta[:, 0])
    expected = torch.tensor([_gamma(t) for t in theta[:, 1].tolist()])
    torch.testing.assert_close(c["slope_oct_per_s"], expected)
    assert c["slope_oct_per_s"][1] == 0.0
    assert synth.slope_scale == pytest.approx(2.0 / 3.0)
    assert synth.max_slope_oct_per_s == pytest.approx(8.4708, abs=1e-4)  # |gamma| <= 8.47
    assert abs(float(c["slope_oct_per_s"][0])) <= 8.471


def test_window_is_buffer(synth):
    names = [n for n, _ in synth.named_buffers()]
    assert "window" in names
    assert len(list(synth.parameters())) == 0
    w = synth.window.double().numpy()
    n = np.arange(4096)
    np.testing.assert_allclose(w, np.sin(np.pi * n / 4096) ** 2, atol=1e-6)


# ---------------------------------------------------------------- seeds


def test_same_seed_identical_different_seed_differs(synth):
    theta = _theta(0.6, 0.7)
    a = synth(theta, 123)
    b = synth(theta, 123)
    c = synth(theta, 124)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3
    f_a, o_a = synth.draw(123, 1)
    f_c, o_c = synth.draw(124, 1)
    assert not torch.equal(f_a, f_c) and not torch.equal(o_a, o_c)


def test_seed_per_example_in_batch(synth):
    seeds = torch.tensor([5, 17, 99], dtype=torch.int64)
    theta = torch.tensor([[0.2, 0.1], [0.5, 0.5], [0.9, 0.8]])
    batch = synth(theta, seeds)
    for i in range(3):
        single = synth(theta[i : i + 1], int(seeds[i]))
        torch.testing.assert_close(batch[i], single[0], rtol=0, atol=1e-6)
    # An int seed s gives example i the seed s + i (so equal thetas still get distinct grains).
    theta_same = torch.tensor([[0.5, 0.3], [0.5, 0.3]])
    batch_int = synth(theta_same, 7)
    for i in range(2):
        single = synth(theta_same[i : i + 1], 7 + i)
        torch.testing.assert_close(batch_int[i], single[0], rtol=0, atol=1e-6)
    assert (batch_int[0] - batch_int[1]).abs().max() > 1e-3
    f_int, o_int = synth.draw(7, 2)
    f_seq, o_seq = synth.draw([7, 8], 2)
    assert torch.equal(f_int, f_seq) and torch.equal(o_int, o_seq)


def test_global_rng_untouched(synth):
    torch.manual_seed(0)
    ref = torch.rand(3)
    torch.manual_seed(0)
    synth(_theta(0.5, 0.5), 11)
    assert torch.equal(torch.rand(3), ref)


def test_draw_grains_ranges():
    f0, onsets = draw_grains(torch.arange(64), 64, 64, 256.0, 2048.0, 32768, 4096)
    assert f0.shape == onsets.shape == (64, 64)
    assert onsets.dtype == torch.int64
    assert f0.min() >= 256.0 and f0.max() <= 2048.0
    assert onsets.min() >= 0 and onsets.max() <= 32768 - 4096 - 1
    # [0, N - L): with N - L = 4 the onsets take exactly the values 0, 1, 2, 3.
    _, few = draw_grains(0, 1, 400, 256.0, 2048.0, 4100, 4096)
    assert set(few[0].tolist()) == {0, 1, 2, 3}
    # log-uniform: log2(f0) spans 8..11 octaves with mean near 9.5
    assert abs(torch.log2(f0.double()).mean().item() - 9.5) < 0.05
    with pytest.raises(ValueError, match="seed"):
        draw_grains(torch.arange(3), 4, 64, 256.0, 2048.0, 32768, 4096)
    with pytest.raises(TypeError, match="seed"):
        draw_grains(1.5, 1, 64, 256.0, 2048.0, 32768, 4096)


# ---------------------------------------------------------------- density


@pytest.mark.parametrize("d, n_audible", [(0.0, 1), (0.25, 8), (0.5, 21), (0.75, 40), (1.0, 64)])
def test_audible_grains_per_density(d, n_audible):
    a = grain_amplitudes(torch.tensor([d], dtype=torch.float64), 64)[0].numpy()
    assert int((a > 0.5).sum()) == n_audible
    np.testing.assert_allclose(a, _amplitudes_np(d), rtol=0, atol=1e-12)
    assert a[0] == 1.0 and np.all(np.diff(a) <= 0)


def _grain_matrix(
    f0: np.ndarray, onsets: np.ndarray, n: int, length: int, gamma: float
) -> np.ndarray:
    """Independent numpy rendering of the grains before their amplitude, one per column."""
    t = (np.arange(length) - length / 2) / SR
    w = scipy.signal.get_window("hann", length)  # periodic Hann
    cycles = np.cumsum(2.0 ** (gamma * t)) / SR
    cols = np.zeros((n, len(f0)))
    for k, (f, o) in enumerate(zip(f0, onsets, strict=True)):
        cols[o : o + length, k] = w * np.sin(2 * np.pi * f * cycles) / np.sqrt(f)
    return cols


def test_grain_amplitudes_measured_from_audio(synth):
    seed = 2024
    f0, onsets = synth.draw(seed, 1, dtype=torch.float64)
    slope_theta = 0.65
    G = _grain_matrix(f0[0].numpy(), onsets[0].numpy(), 32768, 4096, _gamma(slope_theta))
    counts = []
    for d in (0.1, 0.4, 0.7, 1.0):
        x = synth(_theta(d, slope_theta, torch.float64), seed)[0, 0].numpy()
        amps, *_ = np.linalg.lstsq(G, x, rcond=None)
        assert np.abs(G @ amps - x).max() < 1e-7  # the model explains the audio
        np.testing.assert_allclose(amps / amps[0], _amplitudes_np(d), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(G @ (amps / amps[0])), 1 / amps[0], rtol=1e-9)
        counts.append(int((amps / amps[0] > 0.5).sum()))
    assert counts == sorted(counts) and len(set(counts)) == 4, counts


# ---------------------------------------------------------------- slope


def _measure_chirp(x: np.ndarray, onset: int, length: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Instantaneous frequency (Hz) over the central 60% of a grain, from the Hilbert phase,
    against time from the grain's centre (s)."""
    seg = x[onset : onset + length]
    phase = np.unwrap(np.angle(scipy.signal.hilbert(seg)))
    inst_f = np.diff(phase) * SR / (2 * np.pi)
    lo, hi = int(0.2 * length), int(0.8 * length)
    t = (np.arange(1, length) - length / 2) / SR
    return t[lo:hi], inst_f[lo:hi]


@pytest.mark.parametrize("theta_slope", [0.1, 0.35, 0.5, 0.65, 0.9])
def test_slope_sign_rate_and_centre_pitch(theta_slope):
    synth = GranularSynth(n_grains=1)  # one grain
    seed = 3
    f0, onsets = synth.draw(seed, 1, dtype=torch.float64)
    x = synth(_theta(1.0, theta_slope, torch.float64), seed)[0, 0].numpy()
    t, inst_f = _measure_chirp(x, int(onsets[0, 0]))
    gamma = _gamma(theta_slope)
    assert abs(gamma) <= synth.max_slope_oct_per_s
    rate, intercept = np.polyfit(t, np.log2(inst_f), 1)  # octaves per second
    if theta_slope == 0.5:
        assert abs(rate) < 0.01
        np.testing.assert_allclose(inst_f, float(f0[0, 0]), rtol=2e-3)
    else:
        assert np.sign(rate) == np.sign(theta_slope - 0.5)
        assert rate == pytest.approx(gamma, rel=0.02)
    # f0 is the pitch at the grain's centre.
    assert 2.0**intercept == pytest.approx(float(f0[0, 0]), rel=5e-3)


@pytest.mark.parametrize("gamma", [-8.0, -2.0, 2.0, 8.0])
def test_pure_function_steep_slopes(gamma):
    """The pure synthesis function, one grain at 300 Hz: measured rate matches gamma."""
    f0 = torch.tensor([[300.0]], dtype=torch.float64)
    onsets = torch.tensor([[1000]])
    x = granular(
        torch.tensor([1.0], dtype=torch.float64),
        torch.tensor([gamma], dtype=torch.float64),
        f0,
        onsets,
        SR,
        8192,
        4096,
    )[0, 0].numpy()
    t, inst_f = _measure_chirp(x, 1000)
    rate, intercept = np.polyfit(t, np.log2(inst_f), 1)
    assert rate == pytest.approx(gamma, rel=0.02)
    assert 2.0**intercept == pytest.approx(300.0, rel=5e-3)


def test_pure_function_matches_numpy_reference():
    """Two grains, float64: the torch rendering equals the numpy one, normalised."""
    f0 = np.array([400.0, 700.0])
    onsets = np.array([10, 300])
    gamma = -3.0
    d = 0.3
    G = _grain_matrix(f0, onsets, 6000, 4096, gamma)
    y = G @ _amplitudes_np(d, 2)
    out = granular(
        torch.tensor([d], dtype=torch.float64),
        torch.tensor([gamma], dtype=torch.float64),
        torch.from_numpy(f0[None]),
        torch.from_numpy(onsets[None]),
        SR,
        6000,
        4096,
    )[0, 0].numpy()
    np.testing.assert_allclose(out, y / np.linalg.norm(y), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("theta_values", [[0.3, 0.7], [0.5, 0.5], [0.9, 0.2]])
def test_gradients_finite_nonzero(synth, theta_values):
    theta = torch.tensor([theta_values], requires_grad=True)
    target = synth(torch.tensor([[0.6, 0.4]]), 1).detach()
    x = synth(theta, 2)
    loss = (x * target).sum() + (x**3).sum()
    loss.backward()
    assert theta.grad is not None
    assert torch.isfinite(theta.grad).all()
    assert (theta.grad.abs() > 0).all(), theta.grad


def test_gradcheck_small():
    synth = GranularSynth(
        sr=1024, n_samples=512, n_grains=4, grain_len=128, f0_min=32.0, f0_max=256.0
    )
    theta = torch.tensor([[0.4, 0.6], [0.5, 0.5]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda th: synth(th, torch.tensor([0, 1])), (theta,))


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "theta, exc",
    [
        (torch.zeros(2), ValueError),
        (torch.zeros(1, 3), ValueError),
        (torch.zeros(1, 2, 1), ValueError),
        (torch.tensor([[1.1, 0.5]]), ValueError),
        (torch.tensor([[0.5, -0.01]]), ValueError),
        (torch.tensor([[float("nan"), 0.5]]), ValueError),
        (torch.zeros(1, 2, dtype=torch.int64), TypeError),
        ([[0.5, 0.5]], TypeError),
    ],
)
def test_bad_theta(synth, theta, exc):
    with pytest.raises(exc, match="theta"):
        synth(theta, 0)


@pytest.mark.parametrize(
    "kwargs, exc, name",
    [
        ({"sr": 0}, ValueError, "sr"),
        ({"sr": 8192.0}, TypeError, "sr"),
        ({"n_samples": -1}, ValueError, "n_samples"),
        ({"n_grains": 0}, ValueError, "n_grains"),
        ({"n_grains": True}, TypeError, "n_grains"),
        ({"grain_len": 32768}, ValueError, "grain_len"),
        ({"f0_min": 0.0}, ValueError, "f0_min"),
        ({"f0_max": 100.0}, ValueError, "f0_max"),
        ({"f0_max": 5000.0}, ValueError, "f0_max"),
        ({"f0_min": "low"}, TypeError, "f0_min"),
        ({"slope_cap": 1.0}, ValueError, "slope_cap"),
        ({"slope_cap": 0.0}, ValueError, "slope_cap"),
        ({"cqt_bins_per_octave": 0}, ValueError, "cqt_bins_per_octave"),
        ({"cqt_hop": 2.5}, TypeError, "cqt_hop"),
    ],
)
def test_bad_constructor_args(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        GranularSynth(**kwargs)


def test_bad_seed(synth):
    with pytest.raises(ValueError, match="seed"):
        synth(torch.full((3, 2), 0.5), torch.arange(2))
    with pytest.raises(TypeError, match="seed"):
        synth(torch.full((1, 2), 0.5), torch.tensor([0.5]))
