"""The fused frequential-scattering operator against its naive definition."""

import pytest
import torch

import scrapl.transforms.jtfs.frequential as fq
import scrapl.transforms.jtfs.transform as jtfs_module
from scrapl import JTFS, JTFSConfig


def naive(y2, mats, avg):
    return (mats.transpose(-1, -2).unsqueeze(0) @ y2.unsqueeze(1)).abs() @ avg


@pytest.fixture
def inputs():
    g = torch.Generator().manual_seed(0)
    y2 = torch.randn(2, 5, 32, dtype=torch.complex128, generator=g, requires_grad=True)
    mats = torch.randn(3, 5, 7, dtype=torch.complex128, generator=g)
    avg = torch.randn(32, 4, dtype=torch.float64, generator=g)
    return y2, mats, avg


def test_matches_naive_values_and_gradients_with_chunking(inputs, monkeypatch):
    y2, mats, avg = inputs
    monkeypatch.setattr(fq, "CHUNK_ELEMENTS", 2 * 3 * 7 * 8)  # 8 time steps per chunk
    assert fq._chunk_length(2, 3, 7, 32, torch.device("cpu"), 4) == 8
    out = fq.scatter_modulus_average(y2, mats, avg)
    ref = naive(y2, mats, avg)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    w = torch.randn_like(ref)
    (g_out,) = torch.autograd.grad((out * w).sum(), y2)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), y2)
    torch.testing.assert_close(g_out, g_ref, rtol=1e-10, atol=1e-12)


def test_first_and_second_derivatives_pass_gradcheck(inputs, monkeypatch):
    y2, mats, avg = inputs
    monkeypatch.setattr(fq, "CHUNK_ELEMENTS", 2 * 3 * 7 * 16)

    def f(y):
        return fq.scatter_modulus_average(y, mats, avg)

    assert torch.autograd.gradcheck(f, (y2,))
    assert torch.autograd.gradgradcheck(f, (y2,))


def test_fft_fallback_for_large_averaging_matrices_gives_the_same_coefficients(monkeypatch):
    config = JTFSConfig(shape=1024, J=5, Q1=3, Q2=1, J_fr=2, Q_fr=1, T=64, F=2)
    with_matrices = JTFS(config).double()
    monkeypatch.setattr(jtfs_module, "MAX_MATRIX_ELEMENTS", 0)
    by_fft = JTFS(config).double()
    assert with_matrices.time_matrix and not by_fft.time_matrix
    x = torch.randn(2, 1024, dtype=torch.float64)
    for p in range(by_fft.n_paths):
        # Filters are stored in float32, so the two routes agree to float32 rounding.
        torch.testing.assert_close(by_fft(x, p), with_matrices(x, p), rtol=1e-6, atol=1e-10)


def test_chunks_only_on_cpu_or_when_gpu_memory_is_short(monkeypatch):
    cpu, cuda, meta = torch.device("cpu"), torch.device("cuda"), torch.device("meta")
    # CPU: the allocator-sized chunk, whatever memory is free.
    assert fq._chunk_length(32, 15, 96, 4096, cpu, 4) < 4096
    # Other devices: the whole axis at once when it fits (no free-memory figure: meta).
    assert fq._chunk_length(32, 15, 96, 4096, meta, 4) == 4096
    entry = fq.TEMPORARIES * 2 * 4  # bytes per intermediate entry in float32
    per_step = 32 * 15 * 96
    monkeypatch.setattr(fq, "_free_bytes", lambda device: 10**12)
    assert fq._chunk_length(32, 15, 96, 4096, cuda, 4) == 4096
    # Room for 1000 time steps within the budget: the largest halving of 4096 below it.
    free = int(1000 * per_step * entry / fq.GPU_FREE_FRACTION)
    monkeypatch.setattr(fq, "_free_bytes", lambda device: free)
    assert fq._chunk_length(32, 15, 96, 4096, cuda, 4) == 512
    monkeypatch.setattr(fq, "_free_bytes", lambda device: 0)
    assert fq._chunk_length(32, 15, 96, 4096, cuda, 4) == 1
