"""Tests of the AM/FM chirplet synth: properties measured from the rendered audio."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import signal

from experiments.synths.chirplet import ChirpletSynth, chirplet, draw_shift, shift_zero_wrap

SR = 8192
N = 32768
AM_LO, AM_HI = (0.9899, 1.9799), (3.9598, 7.9196)
FM_LO, FM_MED, FM_HI = (0.5, 1.0), (2.0, 4.0), (8.0, 16.0)


def _theta(*rows: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def _render_centred(am: float, gamma: float) -> np.ndarray:
    """The pure function without shift, float64 numpy."""
    out = chirplet(
        torch.tensor([am], dtype=torch.float64),
        torch.tensor([gamma], dtype=torch.float64),
        torch.tensor([0]),
        SR,
        N,
    )
    return out[0].numpy()


def _carrier_phase(gamma: float) -> np.ndarray:
    t = (np.arange(N) - N / 2) / SR
    return 2 * np.pi * 512.0 / (gamma * math.log(2)) * (2.0 ** (gamma * t) - 1.0)


# ------------------------------------------------------------------ shapes, mapping, seeds


def test_shape_dtype_finite() -> None:
    synth = ChirpletSynth(am_range=AM_HI, fm_range=FM_HI)
    theta = torch.rand(5, 2, generator=torch.Generator().manual_seed(0))
    x = synth(theta, torch.arange(5))
    assert x.shape == (5, 1, N)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    # no normalisation: the peak follows the gain gamma (<= 16 here)
    assert x.abs().max() <= FM_HI[1] + 1e-4
    x64 = synth.to(torch.float64)(theta.double(), 3)
    assert x64.dtype == torch.float64 and torch.isfinite(x64).all()
    assert "sample_index" in dict(synth.named_buffers())


def test_log2_mapping() -> None:
    synth = ChirpletSynth(am_range=AM_HI, fm_range=FM_HI)
    c = synth.controls(_theta((0.0, 0.0), (1.0, 1.0), (0.5, 0.5)))
    assert set(c) == {"am_hz", "fm_oct_per_s"}
    expected_am = [AM_HI[0], AM_HI[1], math.sqrt(AM_HI[0] * AM_HI[1])]
    expected_fm = [FM_HI[0], FM_HI[1], math.sqrt(FM_HI[0] * FM_HI[1])]
    np.testing.assert_allclose(c["am_hz"].numpy(), expected_am, rtol=1e-5)
    np.testing.assert_allclose(c["fm_oct_per_s"].numpy(), expected_fm, rtol=1e-5)


def test_shift_zero_wrap_small_example() -> None:
    x = torch.arange(1.0, 6.0).repeat(3, 1)
    out = shift_zero_wrap(x, torch.tensor([2, -2, 0]))
    torch.testing.assert_close(
        out,
        torch.tensor([[0.0, 0.0, 1.0, 2.0, 3.0], [3.0, 4.0, 5.0, 0.0, 0.0], [1, 2, 3, 4, 5.0]]),
    )


def test_same_seed_identical_and_shift_range() -> None:
    synth = ChirpletSynth(fm_range=FM_MED)
    theta = _theta((0.3, 0.7))
    assert torch.equal(synth(theta, 11), synth(theta, 11))
    assert torch.equal(synth(theta, torch.tensor([11])), synth(theta, 11))
    shifts = draw_shift(torch.arange(4000), 4000, 2048)
    assert shifts.dtype == torch.int64
    assert shifts.min() >= -2048 and shifts.max() <= 2048
    assert shifts.min() < -2000 and shifts.max() > 2000  # the whole range is used
    assert abs(shifts.double().mean().item()) < 60  # uniform: mean 0, std 1183 / sqrt(4000)
    # the global RNG is not consumed
    state = torch.get_rng_state()
    synth(theta, 5)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize(
    ("am", "fm", "theta"), [(AM_LO, FM_MED, (0.2, 0.4)), (AM_HI, FM_HI, (0.8, 0.9))]
)
def test_different_seed_is_an_exact_time_shift(am, fm, theta) -> None:
    synth = ChirpletSynth(am_range=am, fm_range=fm).double()
    d_a, d_b = (int(v) for v in draw_shift(torch.tensor([1, 2]), 2, 2048))
    assert d_a != d_b
    xa = synth(_theta(theta).double(), 1)[0, 0].numpy()
    xb = synth(_theta(theta).double(), 2)[0, 0].numpy()
    centred = chirplet(
        *(v.double() for v in synth.controls(_theta(theta).double()).values()),
        torch.tensor([0]),
        SR,
        N,
    )[0].numpy()
    for x, d in ((xa, d_a), (xb, d_b)):
        n = np.arange(N)
        src = n - d
        ok = (src >= 0) & (src < N)
        np.testing.assert_array_equal(x[~ok], 0.0)  # wrapped samples are zeroed
        np.testing.assert_allclose(x[ok], centred[src[ok]], rtol=0, atol=1e-12)


def test_batch_example_equals_single_call() -> None:
    synth = ChirpletSynth(am_range=AM_HI, fm_range=FM_MED)
    theta = torch.rand(4, 2, generator=torch.Generator().manual_seed(1))
    seeds = torch.tensor([7, 0, 123, 99999], dtype=torch.int64)
    batch = synth(theta, seeds)
    for i in range(4):
        single = synth(theta[i : i + 1], int(seeds[i]))
        torch.testing.assert_close(batch[i : i + 1], single, rtol=0, atol=1e-6)
    batch_int = synth(theta, 40)  # an int seed s gives example i the seed s + i
    for i in range(4):
        torch.testing.assert_close(
            batch_int[i : i + 1], synth(theta[i : i + 1], 40 + i), rtol=0, atol=1e-6
        )


# ------------------------------------------------------------------ window, AM, gain, FM


@pytest.mark.parametrize("gamma", [0.5, 2.0, 8.0, 16.0])
def test_window_sigma_and_gain_measured(gamma) -> None:
    """Envelope / |AM| is gamma * Gaussian of sigma = sigma0 bw sr / gamma samples,
    centred on (N - 1) / 2."""
    am = 7.9
    y = _render_centred(am, gamma)
    env = np.abs(signal.hilbert(y))
    n = np.arange(N)
    t = (n - N / 2) / SR
    mod = np.abs(np.sin(2 * np.pi * (am / 2) * t))
    sigma = 0.1 * 2.0 * SR / gamma
    sel = (mod > 0.05) & (np.abs(n - (N - 1) / 2) < 2.5 * sigma) & (np.abs(n - N / 2) < N / 2 - 600)
    assert sel.sum() > 100
    a, b, c = np.polyfit(n[sel], np.log(env[sel] / mod[sel]), 2)
    sigma_fit = math.sqrt(-1 / (2 * a))
    centre_fit = -b / (2 * a)
    assert sigma_fit == pytest.approx(sigma, rel=0.02)
    assert centre_fit == pytest.approx((N - 1) / 2, abs=0.02 * sigma)
    peak = math.exp(c - b**2 / (4 * a))  # the Gaussian's fitted height
    assert peak == pytest.approx(gamma, rel=0.02)  # the chirp is multiplied by gamma


@pytest.mark.parametrize("am", [AM_LO[0], AM_HI[1]])
def test_am_is_zero_mean_with_f_am_humps(am) -> None:
    """Demodulating the carrier gives a signed modulator sin(pi f_AM t): it changes sign at
    t = k / f_AM (a raised cosine never would)."""
    gamma = 0.5
    y = _render_centred(am, gamma)
    z = signal.hilbert(y)
    demod = (z * np.exp(-1j * (_carrier_phase(gamma) - np.pi / 2))).real
    n = np.arange(N)
    t = (n - N / 2) / SR
    w = np.exp(-((n - (N - 1) / 2) ** 2) / (2 * (0.1 * 2 * SR / gamma) ** 2))
    inner = np.abs(t) < 1.2
    m = demod[inner] / (gamma * w[inner])
    expected = np.sin(2 * np.pi * (am / 2) * t[inner])
    assert np.corrcoef(m, expected)[0, 1] > 0.999
    assert m.min() < -0.9 and m.max() > 0.9
    zero_crossings = np.sum(np.diff(np.sign(m[np.abs(m) > 0.05])) != 0)
    assert zero_crossings == pytest.approx(2.4 * am, abs=1.01)


@pytest.mark.parametrize(
    ("fm", "theta_fm"), [(FM_LO, 0.0), (FM_LO, 1.0), (FM_MED, 0.5), (FM_HI, 0.0)]
)
def test_fm_rate_and_centre_frequency(fm, theta_fm) -> None:
    synth = ChirpletSynth(am_range=AM_HI, fm_range=fm, max_shift=0).double()
    theta = torch.tensor([[0.3, theta_fm]], dtype=torch.float64)
    gamma = float(synth.controls(theta)["fm_oct_per_s"][0])
    assert gamma == pytest.approx(fm[0] * (fm[1] / fm[0]) ** theta_fm, rel=1e-9)
    x = synth(theta, 0)[0, 0].numpy()
    analytic = signal.hilbert(x)
    inst_f = np.diff(np.unwrap(np.angle(analytic))) * SR / (2 * np.pi)
    t_mid = (np.arange(N - 1) + 0.5 - N / 2) / SR
    env = np.abs(analytic)[:-1]
    sigma_s = 0.1 * 2 / gamma
    sel = (np.abs(t_mid) < 1.5 * sigma_s) & (env > 0.3 * env.max())
    assert sel.sum() > 50
    slope, intercept = np.polyfit(t_mid[sel], np.log2(inst_f[sel]), 1)
    assert slope == pytest.approx(gamma, rel=0.03)
    assert 2.0**intercept == pytest.approx(512.0, rel=0.01)


def test_no_gradient_through_the_window_width() -> None:
    """d/dgamma equals the derivative with sigma held at its value (and not the total one)."""
    am, g0 = torch.tensor([2.0], dtype=torch.float64), 3.0
    weights = torch.randn(N, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gamma = torch.tensor([g0], dtype=torch.float64, requires_grad=True)
    (chirplet(am, gamma, torch.tensor([5]), SR, N) @ weights).sum().backward()

    n = torch.arange(N, dtype=torch.float64)
    t = (n - N / 2) / SR

    def fixed_sigma(g: float, sigma: float) -> float:
        cycles = 512.0 / (g * math.log(2)) * torch.expm1(g * math.log(2) * t)
        w = torch.exp(-0.5 * ((n - (N - 1) / 2) / sigma) ** 2)
        y = g * w * torch.sin(math.pi * 2.0 * t) * torch.sin(2 * math.pi * cycles)
        return float(shift_zero_wrap(y[None], torch.tensor([5]))[0] @ weights)

    h = 1e-6
    sigma0 = 0.2 * SR / g0
    fd_fixed = (fixed_sigma(g0 + h, sigma0) - fixed_sigma(g0 - h, sigma0)) / (2 * h)
    fd_total = (
        fixed_sigma(g0 + h, 0.2 * SR / (g0 + h)) - fixed_sigma(g0 - h, 0.2 * SR / (g0 - h))
    ) / (2 * h)
    assert float(gamma.grad[0]) == pytest.approx(fd_fixed, rel=1e-5)
    assert abs(fd_total - fd_fixed) > 1e-3 * abs(fd_fixed)  # the check has teeth


@pytest.mark.parametrize(("am", "fm"), [(AM_LO, FM_LO), (AM_HI, FM_HI)])
def test_gradients_finite_and_nonzero(am, fm) -> None:
    synth = ChirpletSynth(am_range=am, fm_range=fm)
    target = synth(_theta((0.7, 0.6), (0.1, 0.2)), 4)
    theta = _theta((0.4, 0.5), (0.3, 0.0)).requires_grad_(True)
    loss = (synth(theta, 4) - target).pow(2).sum()
    loss.backward()
    assert theta.grad is not None and torch.isfinite(theta.grad).all()
    assert (theta.grad.abs() > 0).all()


def test_huge_rates_stay_finite() -> None:
    am = torch.tensor([2.0, 2.0])
    y = chirplet(am, torch.tensor([500.0, 1e-7]), torch.tensor([3, -3]), SR, N)
    assert torch.isfinite(y).all()


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        (torch.rand(3), ValueError, "theta"),
        (torch.rand(3, 3), ValueError, "theta"),
        (torch.tensor([[0.5, 1.5]]), ValueError, "theta"),
        (torch.tensor([[-0.1, 0.5]]), ValueError, "theta"),
        (torch.tensor([[float("nan"), 0.5]]), ValueError, "theta"),
        (torch.tensor([[0, 1]]), TypeError, "theta"),
        ([[0.5, 0.5]], TypeError, "theta"),
    ],
)
def test_bad_theta_raises(bad, exc, match) -> None:
    synth = ChirpletSynth()
    with pytest.raises(exc, match=match):
        synth(bad, 0)
    with pytest.raises(exc, match=match):
        synth.controls(bad)


@pytest.mark.parametrize(
    ("bad", "exc"),
    [
        (1.5, TypeError),
        (torch.tensor([1.0]), TypeError),
        (torch.tensor([1, 2]), ValueError),
        (-1, ValueError),
        (True, TypeError),
    ],
)
def test_bad_seed_raises(bad, exc) -> None:
    with pytest.raises(exc, match="seed"):
        ChirpletSynth()(_theta((0.5, 0.5)), bad)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"sr": 0}, ValueError, "sr"),
        ({"sr": "8192"}, TypeError, "sr"),
        ({"n_samples": 1.5}, TypeError, "n_samples"),
        ({"n_samples": 1}, ValueError, "n_samples"),
        ({"f_c": -1.0}, ValueError, "f_c"),
        ({"f_c": 3000.0}, ValueError, "f_c"),
        ({"bw_octaves": 0.0}, ValueError, "bw_octaves"),
        ({"am_range": (2.0, 1.0)}, ValueError, "am_range"),
        ({"am_range": (0.0, 1.0)}, ValueError, "am_range"),
        ({"am_range": 1.0}, TypeError, "am_range"),
        ({"fm_range": (1.0, 1.0)}, ValueError, "fm_range"),
        ({"fm_range": (1.0, float("inf"))}, ValueError, "fm_range"),
        ({"max_shift": -1}, ValueError, "max_shift"),
        ({"max_shift": 16384}, ValueError, "max_shift"),
        ({"max_shift": 2.5}, TypeError, "max_shift"),
        ({"sigma0": 1.0}, ValueError, "sigma0"),
        ({"sigma0": 0.0}, ValueError, "sigma0"),
    ],
)
def test_bad_constructor_args_raise(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        ChirpletSynth(**kwargs)
