"""Tests of the AM/FM chirplet synth: properties measured from the rendered audio."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import optimize, signal

from experiments.synths.chirplet import ChirpletSynth, chirplet, draw_shift

SR = 8192
N = 32768
AM_LO, AM_HI = (0.99, 1.98), (2.8, 8.4)
FM_SLOW, FM_MID, FM_FAST = (0.5, 1.0), (2.0, 4.0), (4.0, 12.0)


def _theta(*rows: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def _geo(lo: float, hi: float, t: float) -> float:
    return lo * (hi / lo) ** t


def _documented_window(gamma: float, synth: ChirpletSynth) -> tuple[float, float]:
    """(effective duration D, sigma) in seconds, from the formula in the module docstring."""
    d_max = (synth.n_samples - 2 * synth.max_shift) / synth.sr
    duration = min(synth.bw_octaves / abs(gamma), d_max) if gamma != 0 else d_max
    sigma = (duration / 2) / math.sqrt(2 * math.log(1 / synth.sigma0))
    return duration, sigma


def _render(synth: ChirpletSynth, theta_am: float, theta_fm: float, seed: int):
    """Audio (float64 numpy), tau axis (s) around the drawn window centre, f_AM, gamma."""
    theta = _theta((theta_am, theta_fm))
    x = synth(theta, seed)[0, 0].double().numpy()
    ctrl = synth.controls(theta)
    shift = int(draw_shift(seed, 1, synth.max_shift)[0])
    tau = (np.arange(N) - N / 2 - shift) / SR
    return x, tau, float(ctrl["am_hz"][0]), float(ctrl["fm_oct_per_s"][0])


# ------------------------------------------------------------------ shapes, mapping, seeds


def test_shape_dtype_finite_and_bounded() -> None:
    synth = ChirpletSynth(am_range=AM_HI, fm_range=FM_FAST)
    theta = torch.rand(5, 2, generator=torch.Generator().manual_seed(0))
    x = synth(theta, torch.arange(5))
    assert x.shape == (5, 1, N)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert x.abs().max() <= 1.0 + 1e-6
    x64 = synth.to(torch.float64)(theta.double(), 3)
    assert x64.dtype == torch.float64 and torch.isfinite(x64).all()
    assert "sample_index" in dict(synth.named_buffers())


def test_log_mapping() -> None:
    synth = ChirpletSynth(am_range=AM_HI, fm_range=FM_FAST)
    c = synth.controls(_theta((0.0, 0.0), (1.0, 1.0), (0.5, 0.5)))
    assert set(c) == {"am_hz", "fm_oct_per_s"}
    assert c["am_hz"].shape == (3,) and c["fm_oct_per_s"].shape == (3,)
    expected_am = [AM_HI[0], AM_HI[1], math.sqrt(AM_HI[0] * AM_HI[1])]
    expected_fm = [FM_FAST[0], FM_FAST[1], math.sqrt(FM_FAST[0] * FM_FAST[1])]
    np.testing.assert_allclose(c["am_hz"].numpy(), expected_am, rtol=1e-5)
    np.testing.assert_allclose(c["fm_oct_per_s"].numpy(), expected_fm, rtol=1e-5)


def test_same_seed_identical_and_shift_in_range() -> None:
    synth = ChirpletSynth(fm_range=FM_MID)
    theta = _theta((0.3, 0.7))
    assert torch.equal(synth(theta, 11), synth(theta, 11))
    assert torch.equal(synth(theta, torch.tensor([11])), synth(theta, 11))
    shifts = draw_shift(torch.arange(200), 200, 2048)
    assert shifts.dtype == torch.int64
    assert shifts.abs().max() <= 2048 and len(set(shifts.tolist())) > 150
    # the global RNG is not consumed
    state = torch.get_rng_state()
    synth(theta, 5)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize(
    ("am", "fm", "theta"), [(AM_LO, FM_MID, (0.2, 0.4)), (AM_HI, FM_FAST, (0.8, 0.9))]
)
def test_different_seed_is_a_time_shift(am, fm, theta) -> None:
    synth = ChirpletSynth(am_range=am, fm_range=fm)
    seed_a, seed_b = 1, 2
    d_a, d_b = (int(v) for v in draw_shift(torch.tensor([seed_a, seed_b]), 2, 2048))
    assert d_a != d_b
    xa = synth(_theta(theta), seed_a)[0, 0].double().numpy()
    xb = synth(_theta(theta), seed_b)[0, 0].double().numpy()
    assert not np.allclose(xa, xb)
    xcorr = signal.correlate(xb, xa, mode="full", method="fft")
    lag = int(np.argmax(xcorr)) - (N - 1)
    assert lag == d_b - d_a
    # and it is exactly that translation where both windows are non-negligible
    lo, hi = max(0, d_b - d_a), min(N, N + d_b - d_a)
    np.testing.assert_allclose(xb[lo:hi], xa[lo - (d_b - d_a) : hi - (d_b - d_a)], atol=2e-3)


def test_batch_example_equals_single_call() -> None:
    synth = ChirpletSynth(am_range=AM_HI, fm_range=FM_MID)
    theta = torch.rand(4, 2, generator=torch.Generator().manual_seed(1))
    seeds = torch.tensor([7, 0, 123, 99999], dtype=torch.int64)
    batch = synth(theta, seeds)
    for i in range(4):
        single = synth(theta[i : i + 1], int(seeds[i]))
        torch.testing.assert_close(batch[i : i + 1], single, rtol=0, atol=1e-6)
    # an int seed s gives example i the seed s + i
    batch_int = synth(theta, 40)
    for i in range(4):
        torch.testing.assert_close(
            batch_int[i : i + 1], synth(theta[i : i + 1], 40 + i), rtol=0, atol=1e-6
        )


def test_window_stays_inside_signal_for_slowest_chirp() -> None:
    synth = ChirpletSynth(fm_range=FM_SLOW)
    seeds = torch.arange(64)
    shifts = draw_shift(seeds, 64, 2048)
    x = synth(torch.zeros(64, 2), seeds)[:, 0]
    env = np.abs(signal.hilbert(x.double().numpy(), axis=-1))
    assert shifts.abs().max() > 1900  # some extreme shifts were drawn
    # at the signal edges the window is at most sigma0 = 0.1 of its peak
    assert env[:, :4].max() <= 0.1 + 0.01 and env[:, -4:].max() <= 0.1 + 0.01


# ------------------------------------------------------------------ AM / FM from the audio


@pytest.mark.parametrize(
    ("am", "fm", "theta_am", "theta_fm"),
    [
        (AM_LO, FM_SLOW, 0.0, 0.5),
        (AM_LO, FM_SLOW, 0.5, 0.5),
        (AM_LO, FM_SLOW, 1.0, 0.0),
        (AM_HI, FM_MID, 0.0, 0.0),
        (AM_HI, FM_MID, 0.5, 0.3),
        (AM_HI, FM_MID, 1.0, 0.0),
    ],
)
def test_am_rate_recovered(am, fm, theta_am, theta_fm) -> None:
    synth = ChirpletSynth(am_range=am, fm_range=fm)
    x, tau, f_am, gamma = _render(synth, theta_am, theta_fm, seed=3)
    assert f_am == pytest.approx(_geo(*am, theta_am), rel=1e-5)
    duration, sigma = _documented_window(gamma, synth)
    inside = np.abs(tau) < duration / 2
    am_env = np.abs(signal.hilbert(x))[inside] / np.exp(-0.5 * (tau[inside] / sigma) ** 2)
    t_in = tau[inside]
    # initial guess: peak of the zero-padded spectrum of the mean-removed envelope
    spec = np.abs(np.fft.rfft(am_env - am_env.mean(), n=1 << 20))
    freqs = np.fft.rfftfreq(1 << 20, d=1 / SR)
    band = (freqs > 0.3) & (freqs < 20)
    f0 = freqs[band][np.argmax(spec[band])]

    def model(t, a, b, f, phi):
        return a + b * np.cos(2 * np.pi * f * t + phi)

    (_, b_fit, f_fit, _), _ = optimize.curve_fit(model, t_in, am_env, p0=[0.5, 0.5, f0, 0.0])
    assert abs(f_fit) == pytest.approx(f_am, rel=0.03)
    assert abs(b_fit) == pytest.approx(0.5, rel=0.1)  # full-depth raised cosine


@pytest.mark.parametrize(
    ("am", "fm", "theta_am", "theta_fm"),
    [
        (AM_LO, FM_SLOW, 0.5, 0.0),
        (AM_LO, FM_SLOW, 0.5, 1.0),
        (AM_LO, FM_MID, 0.2, 0.5),
        (AM_HI, FM_MID, 0.5, 1.0),
        (AM_HI, FM_FAST, 0.0, 0.0),
        (AM_HI, FM_FAST, 1.0, 0.5),
        (AM_HI, FM_FAST, 1.0, 1.0),
    ],
)
def test_fm_rate_recovered(am, fm, theta_am, theta_fm) -> None:
    synth = ChirpletSynth(am_range=am, fm_range=fm)
    x, tau, _, gamma = _render(synth, theta_am, theta_fm, seed=8)
    assert gamma == pytest.approx(_geo(*fm, theta_fm), rel=1e-5)
    analytic = signal.hilbert(x)
    inst_f = np.diff(np.unwrap(np.angle(analytic))) * SR / (2 * np.pi)
    t_mid = tau[:-1] + 0.5 / SR
    env = np.abs(analytic)[:-1]
    duration, _ = _documented_window(gamma, synth)
    # near the centre (within +-1/2 octave of the sweep) and away from the AM zeros
    sel = (np.abs(t_mid) < duration / 4) & (env > 0.3 * env.max())
    assert sel.sum() > 300
    slope, intercept = np.polyfit(t_mid[sel], np.log2(inst_f[sel]), 1)
    assert slope == pytest.approx(gamma, rel=0.05)
    assert 2.0**intercept == pytest.approx(512.0, rel=0.01)
    centre = int(np.argmin(np.abs(t_mid)))
    assert inst_f[centre - 8 : centre + 8].mean() == pytest.approx(512.0, rel=0.01)


def test_zero_chirp_rate_limit_is_pure_tone() -> None:
    am = torch.tensor([2.0, 2.0])
    shift = torch.tensor([100.0, 100.0])
    gamma = torch.tensor([0.0, 1e-7], requires_grad=True)
    x = chirplet(am, gamma, shift, SR, N, 512.0, 2.0, 0.1, max_duration=3.5)
    assert torch.isfinite(x).all()
    tau = (torch.arange(N, dtype=torch.float64) - N / 2 - 100) / SR
    sigma = (3.5 / 2) / math.sqrt(2 * math.log(10))
    tone = (
        torch.exp(-0.5 * (tau / sigma) ** 2)
        * 0.5
        * (1 + torch.cos(2 * math.pi * 2.0 * tau))
        * torch.cos(2 * math.pi * 512.0 * tau)
    )
    torch.testing.assert_close(x[0].double(), tone, rtol=0, atol=2e-3)
    torch.testing.assert_close(x[1], x[0], rtol=0, atol=2e-3)
    x.pow(2).sum().backward()
    assert torch.isfinite(gamma.grad).all()
    # huge chirp rates stay finite (phase exponent is clamped far outside the window)
    y = chirplet(am, torch.tensor([500.0, -500.0]), shift, SR, N, 512.0, 2.0, 0.1)
    assert torch.isfinite(y).all()


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize(("am", "fm"), [(AM_LO, FM_SLOW), (AM_HI, FM_FAST)])
def test_gradients_finite_and_nonzero(am, fm) -> None:
    synth = ChirpletSynth(am_range=am, fm_range=fm)
    target = synth(_theta((0.7, 0.6), (0.1, 0.2)), 4)
    theta = _theta((0.4, 0.5), (0.3, 0.0)).requires_grad_(True)
    loss = (synth(theta, 4) - target).pow(2).sum()
    loss.backward()
    assert theta.grad is not None and torch.isfinite(theta.grad).all()
    assert (theta.grad.abs() > 0).all()


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
