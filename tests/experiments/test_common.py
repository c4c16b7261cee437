"""Tests of the pieces shared by the synths (experiments/synths/common.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from experiments.synths.common import check_theta, example_generators, expm1_over_x


def test_expm1_over_x_values_and_gradients():
    x = torch.tensor([-1.0, -1e-3, -1e-5, 0.0, 1e-9, 1e-5, 1e-3, 2.0], dtype=torch.float64)
    x.requires_grad_(True)
    y = expm1_over_x(x)
    xs = x.detach().numpy()
    ref = np.where(xs == 0.0, 1.0, np.expm1(xs) / np.where(xs == 0.0, 1.0, xs))
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=0)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[3].item() == pytest.approx(0.5)  # d/dx (1 + x/2 + ...) at 0
    assert math.isclose(float(expm1_over_x(torch.tensor(0.0))), 1.0)


def _first_draw(gens: list[torch.Generator]) -> list[float]:
    return [float(torch.rand(1, generator=g)) for g in gens]


def test_example_generators_seed_semantics():
    batch = _first_draw(example_generators(10, 3))
    singles = [_first_draw(example_generators(10 + i, 1))[0] for i in range(3)]
    assert batch == singles
    assert len(set(batch)) == 3
    assert _first_draw(example_generators(torch.tensor([10, 11, 12]), 3)) == batch
    assert _first_draw(example_generators([12, 10], 2)) == [batch[2], batch[0]]


def test_example_generators_leaves_global_rng():
    torch.manual_seed(0)
    ref = torch.rand(2)
    torch.manual_seed(0)
    _first_draw(example_generators(5, 4))
    assert torch.equal(torch.rand(2), ref)


@pytest.mark.parametrize(
    ("seed", "batch", "exc"),
    [
        (1.5, 1, TypeError),
        (True, 1, TypeError),
        (-1, 1, ValueError),
        (2**63 - 1, 2, ValueError),
        (torch.tensor([1.0]), 1, TypeError),
        (torch.tensor(3), 1, ValueError),
        (torch.tensor([1, 2]), 1, ValueError),
        ([1, 2], 3, ValueError),
        ([1, "2"], 2, TypeError),
        (torch.Generator(), 1, TypeError),
    ],
)
def test_example_generators_bad_seed(seed, batch, exc):
    with pytest.raises(exc, match="seed"):
        example_generators(seed, batch)


def test_example_generators_bad_batch():
    with pytest.raises(ValueError, match="batch"):
        example_generators(0, 0)


@pytest.mark.parametrize(
    ("theta", "exc"),
    [
        (torch.zeros(3), ValueError),
        (torch.zeros(0, 2), ValueError),
        (torch.zeros(1, 3), ValueError),
        (torch.tensor([[0.5, 1.5]]), ValueError),
        (torch.tensor([[float("inf"), 0.5]]), ValueError),
        (torch.zeros(1, 2, dtype=torch.int64), TypeError),
        ([[0.5, 0.5]], TypeError),
    ],
)
def test_check_theta_rejects(theta, exc):
    with pytest.raises(exc, match="theta"):
        check_theta(theta, 2)


def test_check_theta_accepts():
    check_theta(torch.tensor([[0.0, 1.0], [0.5, 0.25]], dtype=torch.float64), 2)
    check_theta(torch.rand(4, 3), 3)
