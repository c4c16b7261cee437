"""Image scattering path by path: agreement with kymatio 0.3's Scattering2D (filters, padding,
coefficients, distances), the full loss, gradients, cost of a path and argument checks."""

import numpy as np
import pytest
import torch
from kymatio.scattering2d.filter_bank import filter_bank as kymatio_filter_bank
from kymatio_reference import kymatio_numpy, kymatio_torch

from scrapl import Scattering2DLoss, Scattering2DSCRAPLLoss
from scrapl.losses.distance import path_distance
from scrapl.transforms.scattering2d import Scattering2D, Scattering2DConfig
from scrapl.transforms.scattering2d.filters import (
    crop_spectrum,
    gabor_2d,
    lowpass_factors,
    padded_shape,
    wavelet,
)

# ((M, N), J, L): rectangular, the default L = 8, M = N = 2**J (the reference's special
# padding: as much as the image), one orientation, odd sizes and an odd L.
CONFIGS = [((16, 20), 2, 4), ((32, 32), 3, 8), ((8, 8), 3, 3), ((40, 24), 2, 1), ((27, 33), 2, 5)]
TINY = dict(shape=(12, 16), J=2, L=2)
# The reference designs its filters in complex64 and stores them in float32: 6e-8 relative
# rounding of each filter value, ~1e-7 of a coefficient after the products and FFT sums
# (ours are designed in float64 and stored in float32 too). Measured worst: 4.2e-7 (float32
# computation) and 2.9e-7 (float64). Tolerance 1e-5 leaves room for other inputs; the
# acceptance bound is 1e-4.
RTOL = 1e-5


def _images(shape, batch=2, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *shape, generator=gen, dtype=torch.float64).to(dtype)


def _relative_errors(ours, ref):
    return [
        float(np.linalg.norm(ours(p) - ref[:, p + 1]) / np.linalg.norm(ref[:, p + 1]))
        for p in range(ref.shape[1] - 1)
    ]


@pytest.mark.parametrize("shape,J,L", CONFIGS, ids=str)
def test_filters_match_kymatio(shape, J, L):
    padded = padded_shape(*shape, J)
    ref = kymatio_filter_bank(*padded, J, L)
    for n, psi in enumerate(ref["psi"]):
        assert (psi["j"], psi["theta"]) == divmod(n, L)
        ours = wavelet(*padded, psi["j"], psi["theta"], L, list(range(len(psi["levels"]))))
        for k, level in enumerate(psi["levels"]):
            scale = np.abs(level).max()
            np.testing.assert_allclose(ours.levels[k], level, rtol=0, atol=1e-6 * scale)
    rows, cols = lowpass_factors(*padded, J)
    for k, level in enumerate(ref["phi"]["levels"]):
        ours = np.outer(crop_spectrum(rows, k, (0,)), crop_spectrum(cols, k, (0,)))
        np.testing.assert_allclose(ours, level, rtol=0, atol=1e-6 * np.abs(level).max())


def test_lowpass_factors_are_the_two_dimensional_design():
    padded = padded_shape(40, 24, 3)
    rows, cols = lowpass_factors(*padded, 3)
    full = np.real(np.fft.fft2(gabor_2d(*padded, 0.8 * 2**2, 0.0, 0.0)))
    np.testing.assert_allclose(np.outer(rows, cols), full, rtol=0, atol=1e-13 * full.max())


@pytest.mark.parametrize("shape,J,L", CONFIGS, ids=str)
def test_paths_are_kymatio_channels_in_order(shape, J, L):
    ours = Scattering2D(Scattering2DConfig(shape, J, L))
    out = kymatio_torch.Scattering2D(J, shape, L=L, out_type="list")(torch.zeros(1, *shape))
    keys = [(o["j"], o["theta"]) for o in out]
    assert keys[0] == ((), ()) and ours.n_paths == len(keys) - 1
    for path, (j, theta) in zip(ours.paths, keys[1:], strict=True):
        if path.order == 1:
            assert (j, theta) == ((path.j1,), (path.theta1,))
        else:
            assert (j, theta) == ((path.j1, path.j2), (path.theta1, path.theta2))
    assert ours.n_paths == J * L + L * L * J * (J - 1) // 2


@pytest.mark.parametrize("shape,J,L", CONFIGS, ids=str)
def test_coefficients_match_kymatio_float64(shape, J, L):
    x = _images(shape)
    ref = kymatio_numpy.Scattering2D(J, shape, L=L).scattering(x.numpy())
    ours = Scattering2D(Scattering2DConfig(shape, J, L)).double()
    assert ours(x, 0).shape == ref[:, 1].shape
    assert max(_relative_errors(lambda p: ours(x, p).numpy(), ref)) <= RTOL


@pytest.mark.parametrize("shape,J,L", CONFIGS, ids=str)
def test_coefficients_match_kymatio_torch_float32(shape, J, L):
    x = _images(shape, dtype=torch.float32)
    ref = kymatio_torch.Scattering2D(J, shape, L=L)(x).numpy()
    ours = Scattering2D(Scattering2DConfig(shape, J, L))
    assert max(_relative_errors(lambda p: ours(x, p).numpy(), ref)) <= RTOL


@pytest.mark.parametrize("shape,J,L", CONFIGS[:2], ids=str)
def test_path_distances_match_kymatio(shape, J, L):
    x, y = _images(shape, seed=1), _images(shape, seed=2)
    kym = kymatio_numpy.Scattering2D(J, shape, L=L)
    diff = kym.scattering(x.numpy()) - kym.scattering(y.numpy())
    ref = np.linalg.norm(diff.reshape(*diff.shape[:2], -1), axis=-1)[:, 1:]
    loss = Scattering2DSCRAPLLoss(shape, J, L, reduction="none").double()
    for p in range(loss.n_paths):
        d = loss(x.unsqueeze(1), y.unsqueeze(1), path_idx=p).numpy()
        np.testing.assert_allclose(d, ref[:, p], rtol=RTOL)


def test_channels_are_folded_into_the_batch():
    loss = Scattering2DSCRAPLLoss(**TINY, reduction="none").double()
    x, y = _images((3, *TINY["shape"]), seed=3), _images((3, *TINY["shape"]), seed=4)
    per_channel = [loss(x[:, c], y[:, c], path_idx=5) for c in range(3)]
    torch.testing.assert_close(loss(x, y, path_idx=5), sum(per_channel) / 3)


def test_shared_computation_equals_single_paths():
    ours = Scattering2D(Scattering2DConfig((16, 20), 3, 4)).double()
    x = _images((16, 20))
    shared = list(ours.all_paths(x))
    assert [p for p, _ in shared] == list(range(ours.n_paths))
    for p, s in shared:
        assert torch.equal(s, ours(x, p))


def test_one_path_costs_one_first_and_at_most_one_second_order_convolution(monkeypatch):
    ours = Scattering2D(Scattering2DConfig((16, 20), 3, 4))
    calls = []
    original = ours.wavelet_modulus
    monkeypatch.setattr(ours, "wavelet_modulus", lambda *a: calls.append(a[1:]) or original(*a))
    x = _images((16, 20), dtype=torch.float32)
    for p in (0, ours.n_paths // 2, ours.n_paths - 1):
        calls.clear()
        ours(x, p)
        path = ours.paths[p]
        expected = [(path.n1, 0)]
        if path.order == 2:
            expected.append((path.n2, path.j1))
        assert calls == expected


def test_mean_of_path_losses_equals_full_loss_values_and_gradients():
    scrapl = Scattering2DSCRAPLLoss(**TINY, use_p_adam=False, use_p_saga=False).double()
    full = Scattering2DLoss(**TINY).double()
    x = _images(TINY["shape"], seed=5).unsqueeze(1).requires_grad_()
    y = _images(TINY["shape"], seed=6).unsqueeze(1)
    mean_loss = sum(scrapl(x, y, path_idx=p) for p in range(scrapl.n_paths)) / scrapl.n_paths
    (grad_mean,) = torch.autograd.grad(mean_loss, x)
    full_loss = full(x, y)
    (grad_full,) = torch.autograd.grad(full_loss, x)
    # Bit-identical coefficients per path; only the order of the sums differs.
    torch.testing.assert_close(mean_loss, full_loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad_mean, grad_full, rtol=1e-10, atol=1e-16)


@pytest.mark.parametrize("use_log1p", [False, True])
@pytest.mark.parametrize("shape,J,L", [((12, 16), 2, 2), ((8, 8), 3, 1)], ids=str)
def test_path_gradient_matches_finite_differences(use_log1p, shape, J, L):
    ours = Scattering2D(Scattering2DConfig(shape, J, L)).double()
    x = _images(shape, seed=7).requires_grad_()
    y = _images(shape, seed=8)
    gen = torch.Generator().manual_seed(9)
    for p in (0, ours.n_paths // 2, ours.n_paths - 1):

        def loss(image, p=p):
            return path_distance(ours(image, p), ours(y, p), use_log1p=use_log1p).mean()

        (grad,) = torch.autograd.grad(loss(x), x)
        v = torch.randn(x.shape, generator=gen, dtype=x.dtype)
        eps = 1e-6
        with torch.no_grad():
            fd = (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)
        # Central differences: truncation O(eps²), rounding ~1e-16 / eps relative.
        torch.testing.assert_close((grad * v).sum(), fd, rtol=1e-6, atol=1e-12)


def test_transform_is_positively_homogeneous_and_zero_on_black():
    ours = Scattering2D(Scattering2DConfig(**TINY)).double()
    x = _images(TINY["shape"])
    for p in range(ours.n_paths):
        s = ours(x, p)
        assert (s >= -1e-12).all() and s.abs().max() > 0
        torch.testing.assert_close(ours(-3.0 * x, p), 3.0 * s, rtol=1e-12, atol=1e-14)
        assert ours(torch.zeros_like(x), p).abs().max() == 0


def test_gradient_at_black_is_finite():
    loss = Scattering2DSCRAPLLoss(**TINY)
    x = torch.zeros(1, 1, *TINY["shape"], requires_grad=True)
    for p in range(loss.n_paths):
        loss(x, torch.zeros_like(x), path_idx=p).backward()
    assert torch.isfinite(x.grad).all()


def test_filters_are_buffers_that_follow_dtype_and_stay_out_of_state_dict():
    loss = Scattering2DLoss(**TINY)
    assert len(list(loss.buffers())) > 0 and loss.state_dict() == {}
    loss.double()
    x = torch.randn(1, 1, *TINY["shape"], dtype=torch.float64)
    assert loss(x, 2 * x).dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(shape=16), TypeError, r"shape must be a pair \(M, N\)"),
        (dict(shape=(16, 16, 3)), TypeError, r"shape must be a pair \(M, N\)"),
        (dict(shape=(16, 1)), ValueError, r"shape\[1\]"),
        (dict(shape=(16.0, 16)), TypeError, r"shape\[0\]"),
        (dict(J=0), ValueError, "J must be an int >= 1"),
        (dict(J=4), ValueError, r"J must satisfy 2\*\*J <= min\(M, N\)"),
        (dict(L=0), ValueError, "L must be an int >= 1"),
        (dict(L=2.0), TypeError, "L must be an int"),
    ],
)
def test_bad_configuration_is_rejected_with_the_argument_named(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Scattering2DSCRAPLLoss(**{**TINY, **kwargs})
    with pytest.raises(exc, match=match):
        Scattering2DLoss(**{**TINY, **kwargs})


def test_bad_images_are_rejected_with_the_argument_named():
    loss = Scattering2DSCRAPLLoss(**TINY)
    good = torch.randn(2, 1, 12, 16)
    for bad in (torch.randn(2, 1, 16, 12), torch.randn(12, 16), torch.randn(2, 1, 1, 12, 16)):
        with pytest.raises(ValueError, match=r"x must have shape \(batch, channels, 12, 16\)"):
            loss(bad, bad)
    with pytest.raises(ValueError, match="x_target must have shape"):
        loss(good, torch.randn(2, 1, 12, 15))
