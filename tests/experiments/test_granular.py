"""Tests of the granular chirplet synth (experiments/synths/granular.py).

Properties are measured from the rendered audio: grain amplitudes by least squares against
independently built (numpy) grain waveforms, chirp direction and rate from the phase of the
analytic signal (scipy.signal.hilbert).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from experiments.synths.granular import GranularSynth, draw_grains, granular

SR = 8192


def _theta(density: float, slope: float, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor([[density, slope]], dtype=dtype)


def _gamma(theta_slope: float, cap: float = 0.95) -> float:
    return math.tan(cap * math.pi / 2 * (2 * theta_slope - 1))


@pytest.fixture(scope="module")
def synth() -> GranularSynth:
    return GranularSynth()


# ---------------------------------------------------------------- shape, dtype, finiteness


def test_shape_dtype_finite_and_bounded(synth):
    theta = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [0.3, 0.9]])
    x = synth(theta, torch.arange(4))
    assert x.shape == (4, 1, 32768)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert x.abs().max() <= 1.0  # normalised by n_grains
    x64 = synth(theta.double(), 3)
    assert x64.dtype == torch.float64 and torch.isfinite(x64).all()


def test_controls_mapping(synth):
    theta = torch.tensor([[0.25, 0.0], [0.5, 0.5], [1.0, 1.0], [0.0, 0.75]])
    c = synth.controls(theta)
    assert torch.equal(c["density"], theta[:, 0])
    expected = torch.tensor([_gamma(t) for t in theta[:, 1].tolist()])
    torch.testing.assert_close(c["slope_oct_per_s"], expected)
    assert c["slope_oct_per_s"][1] == 0.0
    assert synth.max_slope_oct_per_s == pytest.approx(math.tan(0.95 * math.pi / 2))


def test_window_is_buffer(synth):
    names = [n for n, _ in synth.named_buffers()]
    assert "window" in names
    assert len(list(synth.parameters())) == 0


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
    f0, onsets = draw_grains(torch.arange(8), 8, 64, 256.0, 2048.0, 32768, 4096)
    assert f0.shape == onsets.shape == (8, 64)
    assert onsets.dtype == torch.int64
    assert f0.min() >= 256.0 and f0.max() <= 2048.0
    assert onsets.min() >= 0 and onsets.max() <= 32768 - 4096
    # log-uniform: log2(f0) spans 8..11 octaves with mean near 9.5
    assert abs(torch.log2(f0.double()).mean().item() - 9.5) < 0.15
    with pytest.raises(ValueError, match="seed"):
        draw_grains(torch.arange(3), 4, 64, 256.0, 2048.0, 32768, 4096)
    with pytest.raises(TypeError, match="seed"):
        draw_grains(1.5, 1, 64, 256.0, 2048.0, 32768, 4096)


# ---------------------------------------------------------------- density


def _grain_matrix(
    f0: np.ndarray, onsets: np.ndarray, n: int, length: int, gamma: float
) -> np.ndarray:
    """Independent numpy rendering of unit-amplitude grains, one per column."""
    t = np.arange(length) / SR
    w = scipy.signal.get_window("hann", length)  # periodic Hann
    if gamma == 0.0:
        warped = t
    else:
        warped = (2.0 ** (gamma * t) - 1.0) / (gamma * math.log(2.0))
    cols = np.zeros((n, len(f0)))
    for k, (f, o) in enumerate(zip(f0, onsets, strict=True)):
        cols[o : o + length, k] = w * np.sin(2 * np.pi * f * warped)
    return cols


def test_density_increases_audible_grains(synth):
    seed = 2024
    f0, onsets = synth.draw(seed, 1, dtype=torch.float64)
    slope_theta = 0.65
    gamma = _gamma(slope_theta)
    G = _grain_matrix(f0[0].numpy(), onsets[0].numpy(), 32768, 4096, gamma)
    counts, energies = [], []
    for d in (0.1, 0.4, 0.7, 1.0):
        x = synth(_theta(d, slope_theta, torch.float64), seed)[0, 0].numpy()
        amps, *_ = np.linalg.lstsq(G, x * synth.n_grains, rcond=None)
        # The fitted amplitudes reproduce the audio, and follow the documented roll-off.
        assert np.abs(G @ amps - x * synth.n_grains).max() < 1e-6
        k = np.arange(64)
        expected = 1 / (1 + np.exp(-(d * 64 - k - 0.5)))
        np.testing.assert_allclose(amps, expected, atol=1e-6)
        counts.append(int((amps > 0.5).sum()))
        energies.append(float((x**2).sum()))
        assert abs(counts[-1] - d * 64) <= 1
    assert counts == sorted(counts) and len(set(counts)) == 4, counts
    assert all(b > a for a, b in zip(energies, energies[1:], strict=False)), energies


def test_density_energy_envelope_increases():
    """Energy envelope (frame RMS) measured without knowing the grains rises with density."""
    synth = GranularSynth()
    seeds = torch.arange(4)
    frac_active = []
    for d in (0.1, 0.4, 0.7, 1.0):
        theta = torch.tensor([[d, 0.5]] * 4)
        x = synth(theta, seeds)[:, 0].numpy()
        frames = x[:, : 32768 // 512 * 512].reshape(4, -1, 512)
        rms = np.sqrt((frames**2).mean(-1))
        frac_active.append(float((rms > 0.3 / 64).mean()))
    assert all(b > a for a, b in zip(frac_active, frac_active[1:], strict=False)), frac_active


# ---------------------------------------------------------------- slope


def _measure_chirp(x: np.ndarray, onset: int, length: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Instantaneous frequency (Hz) over the central 60% of a grain, from the Hilbert phase."""
    seg = x[onset : onset + length]
    phase = np.unwrap(np.angle(scipy.signal.hilbert(seg)))
    inst_f = np.diff(phase) * SR / (2 * np.pi)
    lo, hi = int(0.2 * length), int(0.8 * length)
    t = (np.arange(length - 1) + 0.5) / SR
    return t[lo:hi], inst_f[lo:hi]


@pytest.mark.parametrize("theta_slope", [0.2, 0.35, 0.5, 0.65, 0.8])
def test_slope_direction_and_rate_single_grain(theta_slope):
    synth = GranularSynth(n_grains=1)  # one audible grain
    seed = 3
    f0, onsets = synth.draw(seed, 1, dtype=torch.float64)
    x = synth(_theta(1.0, theta_slope, torch.float64), seed)[0, 0].numpy()
    t, inst_f = _measure_chirp(x, int(onsets[0, 0]))
    gamma = _gamma(theta_slope)
    assert inst_f.max() < SR / 2
    rate, intercept = np.polyfit(t, np.log2(inst_f), 1)  # octaves per second
    if theta_slope > 0.5:
        assert inst_f[-1] > inst_f[0] and rate > 0
    elif theta_slope < 0.5:
        assert inst_f[-1] < inst_f[0] and rate < 0
    if theta_slope == 0.5:
        assert abs(rate) < 0.02
        np.testing.assert_allclose(inst_f, float(f0[0, 0]), rtol=5e-3)
    else:
        assert rate == pytest.approx(gamma, rel=0.1)
        assert 2.0**intercept == pytest.approx(float(f0[0, 0]), rel=0.02)


@pytest.mark.parametrize("gamma", [-6.0, -2.0, 2.0, 6.0])
def test_pure_function_steep_slopes(gamma):
    """The pure synthesis function, one grain at 300 Hz, measured rate matches gamma."""
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
    rate, _ = np.polyfit(t, np.log2(inst_f), 1)
    assert rate == pytest.approx(gamma, rel=0.1)
    assert np.sign(inst_f[-1] - inst_f[0]) == np.sign(gamma)


def test_slope_in_full_synth_few_grains(synth):
    """With the default 64 grains and low density, the loudest grain chirps the right way."""
    seed = 9
    f0, onsets = synth.draw(seed, 1)
    for theta_slope, sign in ((0.75, 1), (0.25, -1)):
        x = synth(_theta(0.0, theta_slope), seed)[0, 0].numpy().astype(np.float64)
        # Grain 0 has the largest amplitude; isolate it by subtracting the others' model.
        G = _grain_matrix(
            f0[0].double().numpy(), onsets[0].numpy(), 32768, 4096, _gamma(theta_slope)
        )
        amps = 1 / (1 + np.exp(-(0 - np.arange(64) - 0.5)))
        residual = x * 64 - G[:, 1:] @ amps[1:]
        t, inst_f = _measure_chirp(residual, int(onsets[0, 0]))
        rate, _ = np.polyfit(t, np.log2(inst_f), 1)
        assert np.sign(rate) == sign
        assert rate == pytest.approx(_gamma(theta_slope), rel=0.1)


def test_zero_slope_limit_continuous():
    """gamma -> 0 is handled without NaN and matches the closed form on both sides of the
    series / expm1 switch (reference: numpy expm1, float64)."""
    f0 = torch.tensor([[1000.0]], dtype=torch.float64)
    onsets = torch.tensor([[0]])
    d = torch.tensor([1.0], dtype=torch.float64)
    t = np.arange(4096) / SR
    w = scipy.signal.get_window("hann", 4096)
    amp = 1 / (1 + math.exp(-0.5))
    for g in (0.0, 1e-9, 1e-6, -1e-6, 1e-4, 1e-3, -0.5):
        out = granular(d, torch.tensor([g], dtype=torch.float64), f0, onsets, SR, 4096, 4096)
        assert torch.isfinite(out).all()
        warped = t if g == 0.0 else np.expm1(g * math.log(2) * t) / (g * math.log(2))
        ref = amp * w * np.sin(2 * np.pi * 1000.0 * warped)
        np.testing.assert_allclose(out[0, 0].numpy(), ref, rtol=0, atol=1e-9)
    gamma = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    granular(d, gamma, f0, onsets, SR, 4096, 4096).sum().backward()
    assert torch.isfinite(gamma.grad).all()


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("theta_values", [[0.3, 0.7], [0.5, 0.5], [0.9, 0.2]])
def test_gradients_finite_nonzero(synth, theta_values):
    theta = torch.tensor([theta_values], requires_grad=True)
    target = synth(torch.tensor([[0.6, 0.4]]), 1).detach()
    x = synth(theta, 2)
    loss = (x * target).sum() + (x**2).sum()
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
        ({"grain_len": 40000}, ValueError, "grain_len"),
        ({"f0_min": 0.0}, ValueError, "f0_min"),
        ({"f0_max": 100.0}, ValueError, "f0_max"),
        ({"f0_max": 5000.0}, ValueError, "f0_max"),
        ({"f0_min": "low"}, TypeError, "f0_min"),
        ({"slope_cap": 1.0}, ValueError, "slope_cap"),
        ({"slope_cap": 0.0}, ValueError, "slope_cap"),
        ({"density_sharpness": -1.0}, ValueError, "density_sharpness"),
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
