"""Tests of the exact frequency-domain high-pass biquad against scipy's recursion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from experiments.synths.biquad import highpass_biquad, highpass_coefficients

SR = 44100
# (cutoff Hz, Q): the corners of the TR-808 ranges, a double pole (Q = 0.5), mid values and
# cutoffs close to Nyquist (poles near z = -1, long ringing at high Q).
CASES = [
    (20.0, 0.5),
    (20.0, 10.0),
    (50.0, 10.0),
    (1000.0, 0.5),
    (1000.0, 1 / math.sqrt(2)),
    (5000.0, 3.0),
    (12000.0, 10.0),
    (22000.0, 10.0),
    (22048.0, 10.0),
    (22050.0, 0.5),
    (22050.0, 10.0),
]


def _noise(batch: int, n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return 2.0 * torch.rand(batch, n, generator=gen, dtype=torch.float64) - 1.0


def _params(cases):
    fc = torch.tensor([c[0] for c in cases], dtype=torch.float64)
    q = torch.tensor([c[1] for c in cases], dtype=torch.float64)
    return fc, q


def _lfilter(fc, q, x) -> np.ndarray:
    b, a = highpass_coefficients(fc, q, SR)
    return np.stack(
        [scipy.signal.lfilter(b[i].numpy(), a[i].numpy(), x[i].numpy()) for i in range(len(fc))]
    )


def test_coefficients_match_the_formula():
    fc, q = 3000.0, 2.5
    k = math.tan(math.pi * fc / SR)
    norm = 1 / (1 + k / q + k * k)
    b, a = highpass_coefficients(torch.tensor([fc]), torch.tensor([q]), SR)
    np.testing.assert_allclose(b[0].numpy(), [norm, -2 * norm, norm], rtol=1e-12)
    np.testing.assert_allclose(
        a[0].numpy(), [1, 2 * (k * k - 1) * norm, (1 - k / q + k * k) * norm], rtol=1e-12
    )
    # gain 0 at DC, 1 at Nyquist, Q at the (prewarped) cutoff
    freqs = [0.0, 2 * math.pi * fc / SR, math.pi]
    _, h = scipy.signal.freqz(b[0].numpy(), a[0].numpy(), worN=freqs)
    np.testing.assert_allclose(np.abs(h), [0.0, q, 1.0], atol=1e-9)


@pytest.mark.parametrize("n_samples", [300, 44100])
def test_matches_lfilter_float64(n_samples):
    fc, q = _params(CASES)
    x = _noise(len(CASES), n_samples)
    y = highpass_biquad(x, fc, q, SR).numpy()
    ref = _lfilter(fc, q, x)
    err = np.abs(y - ref).max(axis=1)
    # the poles nearly coincide near z = -1 within 2 Hz of Nyquist at Q = 10 (see the module)
    near_nyquist = (fc.numpy() > 22040) & (q.numpy() > 5)
    assert err[~near_nyquist].max() < 1e-10, err
    assert err[near_nyquist].max() < 1e-6, err


def test_matches_lfilter_float32_within_1e5():
    fc, q = _params(CASES)
    x = _noise(len(CASES), 44100, seed=1)
    y = highpass_biquad(x.float(), fc.float(), q.float(), SR)
    assert y.dtype == torch.float32
    ref = _lfilter(fc.float().double(), q.float().double(), x.float().double())
    assert np.abs(y.double().numpy() - ref).max() < 1e-5


def test_channels_axis_and_explicit_fft_size():
    fc, q = _params(CASES[:3])
    x = _noise(3 * 2, 500).reshape(3, 2, 500)
    y = highpass_biquad(x, fc, q, SR, n_fft=2048)
    for c in range(2):
        np.testing.assert_allclose(y[:, c].numpy(), _lfilter(fc, q, x[:, c]), atol=1e-10)


def test_steady_state_sine_gain_is_q_at_cutoff():
    # A sine at the cutoff comes out with amplitude |H| = Q once the transient has died.
    fc, q = 2000.0, 4.0
    n = np.arange(44100)
    x = torch.from_numpy(np.sin(2 * math.pi * fc * n / SR))[None]
    y = highpass_biquad(x, torch.tensor([fc]), torch.tensor([q]), SR)[0].numpy()
    steady = y[22050:]
    assert np.abs(steady).max() == pytest.approx(q, rel=1e-3)


@pytest.mark.parametrize(("fc", "q"), [(20.0, 10.0), (700.0, 0.5), (5000.0, 3.0), (21000.0, 8.0)])
def test_gradient_in_cutoff_and_q_matches_finite_differences(fc, q):
    x = _noise(1, 400, seed=2)
    fc_t = torch.tensor([fc], dtype=torch.float64, requires_grad=True)
    q_t = torch.tensor([q], dtype=torch.float64, requires_grad=True)

    def f(cutoff, quality):
        return highpass_biquad(x, cutoff, quality, SR)

    assert torch.autograd.gradcheck(f, (fc_t, q_t), eps=1e-6 * fc, atol=1e-6, rtol=1e-4)


def test_gradient_in_input_matches_finite_differences():
    x = _noise(2, 16, seed=3).requires_grad_(True)
    fc, q = _params([(300.0, 6.0), (9000.0, 0.8)])
    assert torch.autograd.gradcheck(lambda s: highpass_biquad(s, fc, q, SR), (x,))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(x=torch.zeros(2, 10, dtype=torch.int64)), TypeError, "floating-point"),
        (dict(x=torch.zeros(10)), ValueError, "shape"),
        (dict(x=torch.zeros(2, 1)), ValueError, "n_samples"),
        (dict(cutoff_hz=torch.tensor([100.0])), ValueError, "cutoff_hz"),
        (dict(cutoff_hz=torch.tensor([100.0, 0.0])), ValueError, "cutoff_hz must be finite"),
        (dict(q=torch.tensor([1.0, math.nan])), ValueError, "q must be finite"),
        (dict(n_fft=18), ValueError, r"n_fft must be >= 2 \* n_samples - 1 = 19"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = dict(
        x=torch.zeros(2, 10), cutoff_hz=torch.tensor([100.0, 200.0]), q=torch.ones(2), sr=SR
    )
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        highpass_biquad(**args)
