"""Tests of the log1p-CQT front end of the SCRAPL encoder (experiments/models/cqt.py)."""

from __future__ import annotations

import math

import pytest
import torch
from nnAudio.features import CQT1992v2

from experiments.models.cqt import CQTFeatures

SR = 8192


@pytest.fixture(scope="module")
def cqt() -> CQTFeatures:
    return CQTFeatures()


def _tiny(**kwargs) -> CQTFeatures:
    # 2 octaves × 4 bins of 32..~108 Hz at 256 Hz: kernels of <= 64 samples.
    return CQTFeatures(sr=256, n_octaves=2, bins_per_octave=4, hop_length=16, **kwargs)


def _sine(f: float, n: int, sr: int = SR, phase: float = 0.3) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float64) / sr
    return torch.sin(2 * math.pi * f * t + phase).float()


# ---------------------------------------------------------------- shapes and defaults


def test_paper_shape_and_defaults(cqt):
    assert cqt.fmin == pytest.approx(102.4)  # 0.4 sr / 2**5 (the paper's set-up)
    assert cqt.fmin * 2**cqt.n_octaves == pytest.approx(0.4 * SR)
    assert CQTFeatures(sr=44100, n_octaves=9).fmin == pytest.approx(34.453125)
    assert cqt.n_bins == 60
    x = torch.randn(2, 1, 32768)
    y = cqt(x)
    assert y.shape == (2, 60, 129)
    assert cqt.n_frames(32768) == 129
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all() and (y >= 0).all()
    torch.testing.assert_close(cqt(x[:, 0]), y)  # (batch, N) accepted too


def test_matches_nnaudio_magnitude(cqt):
    x = torch.randn(2, 8192)
    ref = CQT1992v2(sr=SR, hop_length=256, fmin=102.4, n_bins=60, verbose=False)(x)
    torch.testing.assert_close(cqt(x), torch.log1p(ref / cqt.eps), rtol=1e-5, atol=1e-5)


def test_frequencies(cqt):
    f = cqt.frequencies
    assert f.shape == (60,)
    assert f[0] == pytest.approx(102.4) and f[12] == pytest.approx(204.8)
    assert f[-1] < SR / 2


# ---------------------------------------------------------------- kernels are buffers


def test_no_parameters_and_kernels_are_buffers(cqt):
    assert sum(p.numel() for p in cqt.parameters()) == 0
    buffers = dict(cqt.named_buffers())
    assert {"cqt.cqt_kernels_real", "cqt.cqt_kernels_imag"} <= set(buffers)
    assert len(cqt.state_dict()) == 0  # non-persistent: checkpoints hold learned weights only


def test_to_float64():
    m = CQTFeatures().to(torch.float64)
    assert all(b.dtype == torch.float64 for b in m.buffers())
    x = torch.randn(1, 8192, dtype=torch.float64)
    y = m(x)
    assert y.dtype == torch.float64
    y32 = CQTFeatures()(x.float())
    torch.testing.assert_close(y.float(), y32, rtol=1e-4, atol=1e-4)
    with pytest.raises(TypeError, match="audio"):
        m(x.float())


# ---------------------------------------------------------------- properties


@pytest.mark.parametrize("k", [0, 7, 19, 30, 45, 59])
def test_sine_peaks_in_its_bin(cqt, k):
    f = cqt.fmin * 2 ** (k / 12)
    y = cqt(_sine(f, 8192)[None])
    # Average over central frames (edges see the reflect padding).
    assert int(y[0, :, 4:-4].mean(-1).argmax()) == k


@pytest.mark.parametrize("f", [200.0, 440.0, 1000.0, 3000.0])
def test_off_grid_sine_peaks_in_nearest_bin(cqt, f):
    nearest = round(12 * math.log2(f / cqt.fmin))
    y = cqt(_sine(f, 8192)[None])
    assert int(y[0, :, 4:-4].mean(-1).argmax()) == nearest


def test_batch_independence(cqt):
    torch.manual_seed(0)
    x = torch.randn(3, 1, 4096)
    y = cqt(x)
    for i in range(3):
        torch.testing.assert_close(cqt(x[i : i + 1]), y[i : i + 1], rtol=1e-5, atol=1e-5)
    x2 = x.clone()
    x2[1] = torch.randn(1, 4096)  # changing example 1 leaves examples 0 and 2 untouched
    y2 = cqt(x2)
    assert torch.equal(y2[0], y[0]) and torch.equal(y2[2], y[2])
    assert not torch.allclose(y2[1], y[1])


def test_gradcheck_tiny_float64():
    m = _tiny().to(torch.float64)
    torch.manual_seed(0)
    x = torch.randn(2, 64, dtype=torch.float64, requires_grad=True)
    assert m(x).shape == (2, 8, 5)
    assert torch.autograd.gradcheck(m, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_grad_finite_with_digital_silence(cqt):
    x = torch.zeros(1, 8192)
    x[0, 6000:] = torch.randn(2192)
    x.requires_grad_(True)
    cqt(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


# ---------------------------------------------------------------- argument and input errors


@pytest.mark.parametrize(
    "kwargs,exc,name",
    [
        ({"fmin": 130.0}, ValueError, "fmin"),  # 130 * 32 > 4096
        ({"fmin": 0.0}, ValueError, "fmin"),
        ({"n_octaves": 6, "fmin": 128.0}, ValueError, "fmin"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1e-3}, ValueError, "eps"),
        ({"sr": 8192.0}, TypeError, "sr"),
        ({"n_octaves": 0}, ValueError, "n_octaves"),
        ({"bins_per_octave": 0}, ValueError, "bins_per_octave"),
        ({"hop_length": 0}, ValueError, "hop_length"),
        ({"hop_length": True}, TypeError, "hop_length"),
    ],
)
def test_bad_args(kwargs, exc, name):
    with pytest.raises(exc, match=f"^{name} "):
        CQTFeatures(**kwargs)


def test_explicit_fmin_at_limit_is_accepted():
    assert CQTFeatures(fmin=128.0).fmin == 128.0
    assert CQTFeatures(sr=22050, n_octaves=9, fmin=20.0).n_bins == 108


def test_bad_inputs(cqt):
    with pytest.raises(ValueError, match="audio"):
        cqt(torch.randn(2, 2, 4096))
    with pytest.raises(ValueError, match="audio"):
        cqt(torch.randn(4096))
    with pytest.raises(ValueError, match="audio"):
        cqt(torch.randn(1, cqt.min_samples))
    with pytest.raises(TypeError, match="audio"):
        cqt(torch.zeros(1, 4096, dtype=torch.int64))
    with pytest.raises(TypeError, match="audio"):
        cqt([0.0] * 4096)
