"""Tests of the TR-808 synth: properties measured from the rendered audio.

One voice is isolated by muting the others (-60 dB, 10 ms decays) and the waveshaper is made
transparent by inverting it: with ``tanh_gain = -24 dB`` the mix is ``atanh(out) / 10^(-24/20)``
exactly. Pitches come from the phase of the analytic signal (scipy.signal.hilbert), decay
times from its magnitude or from frame RMS, the noise filter from the cross-spectrum of the
filter's input and the synth's output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from experiments.synths.tr808 import PARAMETERS, TR808Synth, decay_envelope, tr808

SR = 44100
N = 44100
TANH_LINEAR_DB = -24.0
MUTED = dict(
    osc1_freq=1000.0,
    osc1_mod=0.0,
    osc2_freq=1000.0,
    osc2_mod=0.0,
    freq_decay=10.0,
    osc1_decay=10.0,
    osc2_decay=10.0,
    noise_decay=10.0,
    noise_freq=1000.0,
    noise_q=1 / math.sqrt(2),
    osc1_gain=-60.0,
    osc2_gain=-60.0,
    noise_gain=-60.0,
    tanh_gain=TANH_LINEAR_DB,
)


@pytest.fixture(scope="module")
def synth() -> TR808Synth:
    return TR808Synth()


def theta_of(**physical: float) -> torch.Tensor:
    """``(1, 14)`` float64 theta for physical values (the muted defaults elsewhere)."""
    values = {**MUTED, **physical}
    return torch.tensor(
        [[(values[p.name] - p.lo) / (p.hi - p.lo) for p in PARAMETERS]], dtype=torch.float64
    )


def mix(synth: TR808Synth, **physical: float) -> np.ndarray:
    """The pre-waveshaper mix y of one render with tanh_gain = -24 dB (float64 numpy)."""
    out = synth(theta_of(**physical))[0, 0].numpy()
    return np.arctanh(out) / 10 ** (TANH_LINEAR_DB / 20)


def zero_crossings(y: np.ndarray) -> np.ndarray:
    """Times (samples, linearly interpolated) where y changes sign. A sine times a positive
    envelope crosses zero exactly where its phase is a multiple of pi, whatever the envelope."""
    k = np.flatnonzero(np.signbit(y[:-1]) != np.signbit(y[1:]))
    return k + y[k] / (y[k] - y[k + 1])


def t60_samples(decay_ms: float, attack: int = 44) -> float:
    r = 1 - 6.91 / (decay_ms * SR / 1000)
    return attack + math.log(1e-3) / math.log(r)


# ------------------------------------------------------------------ shape, mapping, determinism


def test_parameters_in_published_order():
    assert [p.name for p in PARAMETERS] == [
        "osc1_freq", "osc1_mod", "osc2_freq", "osc2_mod", "freq_decay", "osc1_decay",
        "osc2_decay", "noise_decay", "noise_freq", "noise_q", "osc1_gain", "osc2_gain",
        "noise_gain", "tanh_gain",
    ]  # fmt: skip
    assert TR808Synth.n_theta == 14
    assert PARAMETERS[8].hi == 22050.0 and PARAMETERS[13].lo == -24.0


def test_controls_are_linear(synth):
    theta = torch.tensor([[0.0] * 14, [1.0] * 14, [0.25] * 14])
    c = synth.controls(theta)
    assert list(c) == [p.name for p in PARAMETERS]
    for p in PARAMETERS:
        expected = [p.lo, p.hi, p.lo + 0.25 * (p.hi - p.lo)]
        np.testing.assert_allclose(c[p.name].numpy(), expected, rtol=1e-6, err_msg=p.name)


def test_shape_dtype_bounded_and_deterministic(synth):
    theta = torch.rand(5, 14, generator=torch.Generator().manual_seed(0))
    x = synth(theta)
    assert x.shape == (5, 1, N) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.abs().max() <= 1.0
    assert torch.equal(x, synth(theta))
    assert torch.equal(x, TR808Synth(noise_seed=0)(theta))
    assert not torch.allclose(x, TR808Synth(noise_seed=1)(theta))
    for i in range(5):
        torch.testing.assert_close(synth(theta[i : i + 1]), x[i : i + 1], rtol=0, atol=1e-5)
    x64 = synth(theta.double())
    assert x64.dtype == torch.float64
    torch.testing.assert_close(x64.float(), x, rtol=0, atol=1e-4)


def test_noise_buffer_is_a_fixed_uniform_draw(synth):
    noise = dict(synth.named_buffers())["noise"]
    assert noise.shape == (N,) and noise.dtype == torch.float32
    assert noise.min() >= -1.0 and noise.max() < 1.0
    assert abs(float(noise.mean())) < 0.01 and float(noise.var()) == pytest.approx(1 / 3, rel=0.02)
    assert "noise" not in synth.state_dict()  # reproduced from noise_seed
    state = torch.get_rng_state()
    synth(torch.rand(2, 14, generator=torch.Generator().manual_seed(1)))
    assert torch.equal(state, torch.get_rng_state())


def test_decay_envelope_attack_and_decay():
    env = decay_envelope(torch.tensor([100.0], dtype=torch.float64), 10000, SR)[0].numpy()
    np.testing.assert_allclose(env[:44], np.arange(44) / 44)
    r = 1 - 6.91 / (100 * SR / 1000)
    np.testing.assert_allclose(env[44:], r ** np.arange(10000 - 44), rtol=1e-12)


# ------------------------------------------------------------------ oscillators


@pytest.mark.parametrize("voice", ["osc1", "osc2"])
@pytest.mark.parametrize("freq", [20.0, 614.0, 2000.0])
def test_oscillator_pitch_with_zero_modulation(synth, voice, freq):
    y = mix(synth, **{f"{voice}_freq": freq, f"{voice}_gain": 0.0, f"{voice}_decay": 2000.0})
    crossings = zero_crossings(y[1000:40000])
    half_period = np.polyfit(np.arange(crossings.size), crossings, 1)[0]
    assert SR / (2 * half_period) == pytest.approx(freq, rel=1e-5)


def test_oscillators_share_the_exponential_pitch_envelope(synth):
    settings = {"osc1": (300.0, 1.5), "osc2": (800.0, -0.6)}
    r = 1 - 6.91 / (150 * SR / 1000)
    for voice, (freq, mod) in settings.items():
        y = mix(
            synth,
            freq_decay=150.0,
            **{f"{voice}_freq": freq, f"{voice}_mod": mod},
            **{f"{voice}_gain": 0.0, f"{voice}_decay": 2000.0},
        )
        crossings = zero_crossings(y[500:8000]) + 500
        inst_freq = SR / (2 * np.diff(crossings))  # Hz, between successive crossings
        env = (inst_freq / freq - 1) / mod
        # the phase step from sample m to m + 1 uses env[m]: half a sample behind
        t = 0.5 * (crossings[1:] + crossings[:-1]) - 0.5
        np.testing.assert_allclose(env, r ** (t - 44), atol=2e-3, err_msg=voice)


@pytest.mark.parametrize("voice", ["osc1", "osc2"])
@pytest.mark.parametrize("decay_ms", [50.0, 300.0])
def test_oscillator_decay_reaches_minus_60_db_at_decay_time(synth, voice, decay_ms):
    y = mix(synth, **{f"{voice}_gain": 0.0, f"{voice}_decay": decay_ms})
    env = np.abs(scipy.signal.hilbert(y))
    peak = int(np.argmax(env))
    below = np.flatnonzero(env[peak:] < 1e-3 * env[peak])[0] + peak
    assert below == pytest.approx(t60_samples(decay_ms), rel=0.01)


# ------------------------------------------------------------------ noise


@pytest.mark.parametrize("decay_ms", [100.0, 600.0])
def test_noise_decay_reaches_minus_60_db_at_decay_time(synth, decay_ms):
    y = mix(synth, noise_gain=0.0, noise_decay=decay_ms, noise_freq=20.0)
    frames = y[: (N // 441) * 441].reshape(-1, 441)
    level_db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)))
    level_db -= level_db[:3].max()
    t = (np.arange(frames.shape[0]) + 0.5) * 441
    fit = (level_db < -6) & (level_db > -50)
    slope_db_per_sample = np.polyfit(t[fit], level_db[fit], 1)[0]
    assert -60 / slope_db_per_sample == pytest.approx(decay_ms * SR / 1000, rel=0.03)


def _transfer(synth: TR808Synth, **physical: float) -> tuple[np.ndarray, np.ndarray]:
    """|H| of the noise voice: cross-spectrum of the filter input and the output."""
    values = {**MUTED, "noise_gain": 0.0, "noise_decay": 2000.0, **physical}
    controls = synth.controls(theta_of(**values))
    # A quieter buffer keeps the resonant output away from the [-1, 1] clamp.
    quiet = 0.05 * synth.noise.double()
    out = tr808(**controls, noise=quiet, sr=SR)[0, 0].numpy()
    y = np.arctanh(out) / 10 ** (TANH_LINEAR_DB / 20)
    x = quiet.numpy() * decay_envelope(controls["noise_decay"], N, SR)[0].numpy()
    f, pxy = scipy.signal.csd(x, y, fs=SR, nperseg=4096)
    _, pxx = scipy.signal.welch(x, fs=SR, nperseg=4096)
    return f, np.abs(pxy / pxx)


@pytest.mark.parametrize("cutoff", [500.0, 4000.0, 12000.0])
def test_noise_cutoff_is_the_minus_3_db_point_at_q_0707(synth, cutoff):
    f, gain = _transfer(synth, noise_freq=cutoff, noise_q=1 / math.sqrt(2))
    crossing = np.flatnonzero(gain >= 1 / math.sqrt(2))[0]
    # interpolate the -3 dB crossing between the two bins around it
    g0, g1 = gain[crossing - 1], gain[crossing]
    f_3db = f[crossing - 1] + (1 / math.sqrt(2) - g0) / (g1 - g0) * (f[crossing] - f[crossing - 1])
    assert f_3db == pytest.approx(cutoff, rel=0.02)
    assert gain[(f > 0) & (f < cutoff / 10)].max() < 0.02  # 12 dB/octave below the cutoff
    assert gain[(f > 1.5 * cutoff) & (f < min(3 * cutoff, 0.95 * SR / 2))].min() > 0.9


def test_noise_resonance_peaks_at_cutoff_with_gain_q(synth):
    f, gain = _transfer(synth, noise_freq=3000.0, noise_q=8.0)
    assert f[np.argmax(gain)] == pytest.approx(3000.0, rel=0.02)
    assert gain.max() == pytest.approx(8.0, rel=0.1)


def test_noise_is_clamped_before_its_gain(synth):
    y = mix(synth, noise_gain=0.0, noise_decay=2000.0, noise_freq=2000.0, noise_q=10.0)
    assert np.abs(y).max() <= 1.0 + 2e-3  # muted voices add up to 2e-3
    assert (np.abs(y) > 0.998).sum() > 10  # the resonance drives the filter into the clamp


# ------------------------------------------------------------------ gains and waveshaper


@pytest.mark.parametrize(
    ("voice", "extra"),
    [
        ("osc1", {"osc1_decay": 500.0}),
        ("osc2", {"osc2_decay": 500.0, "osc2_freq": 150.0}),
        ("noise", {"noise_decay": 500.0, "noise_freq": 20.0}),
    ],
)
def test_voice_gains_in_db(synth, voice, extra):
    rms = {}
    for gain_db in (6.0, 0.0, -20.0):
        y = mix(synth, **extra, **{f"{voice}_gain": gain_db})
        rms[gain_db] = np.sqrt((y**2).mean())
    assert rms[6.0] / rms[0.0] == pytest.approx(10 ** (6 / 20), rel=0.005)
    assert rms[0.0] / rms[-20.0] == pytest.approx(10.0, rel=0.01)


@pytest.mark.parametrize("tanh_db", [0.0, 12.0, 24.0])
def test_tanh_waveshaper_gain(synth, tanh_db):
    physical = dict(osc1_gain=0.0, osc1_decay=400.0, osc2_gain=-6.0, noise_gain=-12.0)
    y = mix(synth, **physical)
    out = synth(theta_of(**physical, tanh_gain=tanh_db))[0, 0].numpy()
    np.testing.assert_allclose(out, np.tanh(10 ** (tanh_db / 20) * y), atol=1e-9)
    if tanh_db == 24.0:
        assert np.abs(out).max() > 0.99  # saturates


# ------------------------------------------------------------------ gradients and checks


def test_gradients_finite_and_nonzero_for_every_parameter(synth):
    gen = torch.Generator().manual_seed(3)
    theta = torch.cat([torch.rand(4, 14, generator=gen), torch.zeros(1, 14), torch.ones(1, 14)])
    theta.requires_grad_(True)
    target = synth(torch.rand(6, 14, generator=gen))
    ((synth(theta) - target) ** 2).mean().backward()
    assert torch.isfinite(theta.grad).all()
    assert (theta.grad[:4].abs().sum(dim=0) > 0).all()


def test_gradcheck_short_render():
    synth = TR808Synth(n_samples=400).double()
    theta = torch.tensor(
        [[0.1, 0.6, 0.3, 0.2, 0.05, 0.1, 0.2, 0.1, 0.3, 0.2, 0.9, 0.8, 0.85, 0.6]],
        dtype=torch.float64,
        requires_grad=True,
    )
    assert torch.autograd.gradcheck(synth, (theta,), eps=1e-7, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize(
    ("theta", "exc", "match"),
    [
        (torch.rand(2, 13), ValueError, r"shape \(batch, 14\)"),
        (torch.full((1, 14), 1.5), ValueError, r"\[0, 1\]"),
        (torch.full((1, 14), math.nan), ValueError, "finite"),
        (torch.zeros(1, 14, dtype=torch.int64), TypeError, "floating-point"),
        ([[0.5] * 14], TypeError, "torch.Tensor"),
    ],
)
def test_bad_theta(synth, theta, exc, match):
    with pytest.raises(exc, match=match):
        synth(theta)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(n_samples=1), ValueError, "n_samples"),
        (dict(noise_seed=-1), ValueError, "noise_seed"),
        (dict(noise_seed=1.5), TypeError, "noise_seed"),
        (dict(attack=-1), ValueError, "attack"),
        (dict(n_samples=44, attack=44), ValueError, "attack"),
        (dict(sr=600), ValueError, "sr must be >"),
        (dict(sr=0), ValueError, "sr"),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        TR808Synth(**kwargs)
