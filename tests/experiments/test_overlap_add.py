"""The granular synth's overlap-add: grain after grain, the same sums in the same order on
every device, equal to the scatter_add it replaces (to the bit on CPU)."""

from __future__ import annotations

import pytest
import torch

from experiments.synths.granular import GranularSynth, draw_grains, overlap_add


def _grains(batch: int, n_grains: int, grain_len: int, n_samples: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    grains = torch.randn(batch, n_grains, grain_len, generator=g, dtype=torch.float64)
    _, onsets = draw_grains(seed, batch, n_grains, 100.0, 200.0, n_samples, grain_len)
    return grains, onsets


def _scatter_add(grains: torch.Tensor, onsets: torch.Tensor, n_samples: int) -> torch.Tensor:
    batch, _, grain_len = grains.shape
    index = (onsets[:, :, None] + torch.arange(grain_len)).reshape(batch, -1)
    out = grains.new_zeros(batch, n_samples)
    return out.scatter_add(1, index, grains.reshape(batch, -1))


def test_overlap_add_equals_scatter_add_within_summation_error():
    # Reference in float64 (u = 1.1e-16), result in float32 (u = 6e-8): a sum of at most K
    # terms accumulated in any order is within (K - 1) u sum_k |g_k| of the exact sum
    # (Higham, Accuracy and Stability, §4.2), plus u |y| for rounding the inputs to float32.
    grains, onsets = _grains(3, 40, 64, 400)
    exact = _scatter_add(grains, onsets, 400)
    ours = overlap_add(grains.float(), onsets, 400).double()
    u = torch.finfo(torch.float32).eps / 2
    bound = 40 * u * _scatter_add(grains.abs(), onsets, 400)
    assert ((ours - exact).abs() <= bound).all()
    # Every grain lands where it should: a single grain is copied exactly.
    one = overlap_add(grains[:, :1], onsets[:, :1], 400)
    for b in range(3):
        o = int(onsets[b, 0])
        assert torch.equal(one[b, o : o + 64], grains[b, 0])
        assert one[b, :o].eq(0).all() and one[b, o + 64 :].eq(0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_overlap_add_is_bitwise_scatter_add_on_cpu_and_repeatable(dtype):
    # CPU scatter_add walks each row's indices in order: 0 + g_0 + g_1 + ..., the order of
    # overlap_add, so the two agree to the bit (the audio of existing runs is unchanged).
    grains, onsets = _grains(4, 64, 128, 1024, seed=3)
    grains = grains.to(dtype)
    ours = overlap_add(grains, onsets, 1024)
    assert torch.equal(ours, _scatter_add(grains, onsets, 1024))
    assert torch.equal(ours, overlap_add(grains.clone(), onsets.clone(), 1024))


def test_overlap_add_gradients_first_and_second_order():
    grains, onsets = _grains(2, 5, 6, 30, seed=1)
    grains.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda g: overlap_add(g, onsets, 30), (grains,))
    assert torch.autograd.gradgradcheck(lambda g: overlap_add(g, onsets, 30), (grains,))
    # The gradient of a weighted sum is the weights at each grain's samples, exactly.
    w = torch.randn(2, 30, dtype=torch.float64)
    (grad,) = torch.autograd.grad((overlap_add(grains, onsets, 30) * w).sum(), grains)
    (ref,) = torch.autograd.grad((_scatter_add(grains, onsets, 30) * w).sum(), grains)
    assert torch.equal(grad, ref)


def test_overlap_add_shape_errors():
    with pytest.raises(ValueError, match="grains must be"):
        overlap_add(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int64), 10)
    with pytest.raises(ValueError, match="onsets"):
        overlap_add(torch.zeros(2, 3, 4), torch.zeros(2, 2, dtype=torch.int64), 10)


def test_granular_synth_renders_twice_the_same():
    synth = GranularSynth(sr=8192, n_samples=4096, n_grains=16, grain_len=512)
    theta = torch.tensor([[0.3, 0.8], [0.9, 0.1]])
    seed = torch.tensor([5, 6])
    x = synth(theta, seed)
    assert torch.equal(x, synth(theta, seed))
    assert x.shape == (2, 1, 4096) and torch.isfinite(x).all()
