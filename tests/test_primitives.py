"""Modulus and truncated real FFT with their own backward passes: values against torch,
first and second derivatives against finite differences (gradcheck, float64)."""

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from scrapl.transforms.primitives import modulus, modulus_grad, rfft_adjoint, rfft_bins


def _complex(shape, seed, dtype=torch.complex128):
    return torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_modulus_equals_torch_abs(dtype):
    z = _complex((3, 5, 64), 0, dtype)
    u = modulus(z)
    assert u.dtype == z.abs().dtype and u.shape == z.shape
    rtol = 1e-6 if dtype == torch.complex64 else 1e-14
    torch.testing.assert_close(u, z.abs(), rtol=rtol, atol=0)


def test_modulus_passes_gradcheck_and_gradgradcheck():
    z = _complex((4, 6), 1).requires_grad_()
    assert torch.autograd.gradcheck(modulus, (z,))
    assert torch.autograd.gradgradcheck(modulus, (z,))


def test_modulus_gradient_equals_torch_abs_gradient_in_both_modes():
    z = _complex((2, 50), 2).requires_grad_()
    g = torch.randn(2, 50, dtype=torch.float64)
    (expected,) = torch.autograd.grad(z.abs(), z, g)
    (fast,) = torch.autograd.grad(modulus(z), z, g)
    (graph,) = torch.autograd.grad(modulus(z), z, g, create_graph=True)
    torch.testing.assert_close(fast, expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(graph, expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("create_graph", [False, True])
def test_modulus_gradient_is_zero_at_zero(create_graph):
    # Large upstream gradients too: a ratio g / |z| must not turn 0 * inf into NaN.
    z = torch.tensor([0j, 0j, 3 + 4j], dtype=torch.complex64, requires_grad=True)
    g = torch.tensor([1e30, -5.0, 2.0])
    (grad,) = torch.autograd.grad(modulus(z), z, g, create_graph=create_graph)
    torch.testing.assert_close(grad.detach(), torch.tensor([0j, 0j, 2 * (3 + 4j) / 5]))
    if create_graph:
        (second,) = torch.autograd.grad(grad.real.sum(), z)
        assert torch.isfinite(torch.view_as_real(second)).all()
        assert second[0] == 0 and second[1] == 0


def test_modulus_grad_with_and_without_graph_agree():
    z, g = _complex((3, 40), 3), torch.randn(3, 40, dtype=torch.float64)
    with torch.no_grad():
        fast = modulus_grad(z, g)
    with torch.enable_grad():
        graph = modulus_grad(z, g)
    torch.testing.assert_close(fast, graph, rtol=1e-15, atol=0)


@pytest.mark.parametrize("n,n_bins", [(16, 9), (16, 20), (16, 4), (15, 8), (15, 3), (16, 1)])
def test_rfft_bins_equals_truncated_rfft(n, n_bins):
    u = torch.randn(2, 3, n, dtype=torch.float64)
    expected = torch.fft.rfft(u)[..., :n_bins]
    out = rfft_bins(u, n_bins)
    assert out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


@pytest.mark.parametrize("n,n_bins", [(16, 9), (16, 5), (15, 8), (15, 2), (8, 1)])
def test_rfft_bins_passes_gradcheck_and_gradgradcheck(n, n_bins):
    u = torch.randn(2, n, dtype=torch.float64, requires_grad=True)

    def f(v):
        return rfft_bins(v, n_bins)

    assert torch.autograd.gradcheck(f, (u,))
    assert torch.autograd.gradgradcheck(f, (u,))


@pytest.mark.parametrize("n", [32, 33])
def test_rfft_adjoint_is_torch_rfft_vector_jacobian_product(n):
    u = torch.randn(3, n, dtype=torch.float64, requires_grad=True)
    g = _complex((3, n // 2 + 1), 4)
    (expected,) = torch.autograd.grad(torch.fft.rfft(u), u, g)
    torch.testing.assert_close(rfft_adjoint(g, n), expected, rtol=1e-12, atol=1e-12)


def _log_uniform_complex(n: int, lo: float, hi: float, dtype: torch.dtype, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    mag = 10 ** (torch.rand(n, generator=gen, dtype=torch.float64) * (hi - lo) + lo)
    angle = torch.rand(n, generator=gen, dtype=torch.float64) * 2 * math.pi
    z = torch.polar(mag, angle).to(dtype)
    # Exact zeros and pure real / imaginary values too (one component exactly 0).
    z[:3] = torch.tensor([0, 1e-42, 1e-42j]).to(dtype) if dtype == torch.complex64 else z[:3]
    return z


@pytest.mark.parametrize("dtype,lo,hi", [(torch.complex64, -40, 30), (torch.complex128, -320, 300)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_modulus_and_gradient_exact_on_the_whole_float_range(dtype, lo, hi, create_graph):
    # Reference in 80-bit long double (15-bit exponent: every complex128 value is normal
    # there), from the same stored values. A correctly rounded |z| is within half an ulp
    # (eps / 2 relative) where the result is a normal float, and within half the smallest
    # denormal where it is not; our value is the correctly rounded square root of a sum of
    # two squares rounded once each (≤ 2 eps relative in all), then divided by an exact
    # power of two (one more rounding, only where the result is a denormal). The gradient
    # g · z / |z| adds two roundings (quotient, product): 4 eps relative bounds both.
    z = _log_uniform_complex(4000, lo, hi, dtype, seed=7)
    real_dtype = torch.float32 if dtype == torch.complex64 else torch.float64
    info = torch.finfo(real_dtype)
    parts = torch.view_as_real(z).double().numpy().astype(np.longdouble)
    re, im = parts[:, 0], parts[:, 1]
    ref = np.sqrt(re * re + im * im)
    zz = z.clone().requires_grad_()
    u = modulus(zz)
    err = np.abs(u.detach().double().numpy().astype(np.longdouble) - ref)
    normal = ref >= info.tiny
    assert (err[normal] <= 2 * info.eps * ref[normal]).all()
    assert (err[~normal] <= info.smallest_normal * info.eps).all()  # ≤ one denormal step
    g = torch.rand(z.shape, generator=torch.Generator().manual_seed(8), dtype=real_dtype) + 0.5
    (grad,) = torch.autograd.grad(u, zz, g, create_graph=create_graph)
    grad = torch.view_as_real(grad.detach()).double().numpy().astype(np.longdouble)
    gl = g.double().numpy().astype(np.longdouble)
    safe = np.where(ref == 0, 1, ref)
    expected = np.stack([re / safe * gl, im / safe * gl], axis=-1) * (ref != 0)[:, None]
    diff = np.sqrt(((grad - expected) ** 2).sum(axis=-1))
    assert (diff <= 4 * info.eps * gl).all(), float((diff / gl).max())


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_modulus_commutes_with_power_of_two_scaling(dtype):
    # Multiplying z by 2**k changes only exponents: |2**k z| = 2**k |z| and the gradient
    # (z / |z| · g) does not change at all, bit for bit, as long as nothing leaves the range.
    z = _complex((2, 300), 11, dtype)
    g = torch.randn(2, 300, dtype=torch.float64).to(torch.view_as_real(z).dtype)
    # (k keeps every value normal: denormal inputs would themselves be rounded.)
    for k in (-20, -70, -100, 70) if dtype == torch.complex64 else (-20, -600, -1000, 600):
        scaled = (z * 2.0**k).requires_grad_()
        base = z.clone().requires_grad_()
        (g_scaled,) = torch.autograd.grad(modulus(scaled), scaled, g)
        (g_base,) = torch.autograd.grad(modulus(base), base, g)
        torch.testing.assert_close(g_scaled, g_base, rtol=4 * torch.finfo(g.dtype).eps, atol=0)
