"""Modulus and truncated real FFT with their own backward passes: values against torch,
first and second derivatives against finite differences (gradcheck, float64)."""

import pytest
import torch

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
