"""Tests of the parameter-space baseline loss (experiments/losses/theta_loss.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from experiments.losses.theta_loss import ThetaLoss


def test_values_match_functional():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(5, 3, generator=g), torch.rand(5, 3, generator=g)
    # default: the published P-loss, sum over θ dims of each dim's MSE
    expected = sum(F.mse_loss(a[:, u], b[:, u]) for u in range(3))
    torch.testing.assert_close(ThetaLoss()(a, b), expected)
    torch.testing.assert_close(ThetaLoss("mse")(a, b), 3 * F.mse_loss(a, b))
    torch.testing.assert_close(ThetaLoss("mse", "mean")(a, b), ((a - b) ** 2).mean())
    torch.testing.assert_close(ThetaLoss("l1", "mean")(a, b), F.l1_loss(a, b))
    torch.testing.assert_close(ThetaLoss("l1")(a, b), (a - b).abs().mean(0).sum())
    assert ThetaLoss()(a, a) == 0
    assert ThetaLoss()(a, b).shape == ()


def test_compares_theta_and_gradient():
    loss = ThetaLoss()
    assert loss.compares == "theta" and getattr(loss, "compares", "audio") == "theta"
    assert ThetaLoss.compares == "theta"
    g = torch.Generator().manual_seed(1)
    a = torch.rand(4, 2, generator=g).requires_grad_(True)
    b = torch.rand(4, 2, generator=g)
    loss(a, b).backward()
    torch.testing.assert_close(a.grad, 2 * (a - b).detach() / a.shape[0])


@pytest.mark.parametrize("kind", ["MSE", "l2", "", None, 1])
def test_bad_kind(kind):
    with pytest.raises(ValueError, match="kind.*'mse'.*'l1'"):
        ThetaLoss(kind)


@pytest.mark.parametrize("dim_reduction", ["SUM", "max", None])
def test_bad_dim_reduction(dim_reduction):
    with pytest.raises(ValueError, match="dim_reduction.*'sum'.*'mean'"):
        ThetaLoss("mse", dim_reduction)


def test_bad_inputs():
    loss = ThetaLoss()
    with pytest.raises(ValueError, match="theta_hat and theta"):
        loss(torch.rand(4, 2), torch.rand(4, 3))
    with pytest.raises(ValueError, match="theta_hat"):
        loss(torch.rand(4), torch.rand(4))
    with pytest.raises(ValueError, match="theta"):
        loss(torch.rand(4, 2), torch.rand(4, 2, 1))
    with pytest.raises(TypeError, match="theta"):
        loss(torch.rand(4, 2), torch.ones(4, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="theta_hat"):
        loss([[0.0, 1.0]], torch.rand(1, 2))
