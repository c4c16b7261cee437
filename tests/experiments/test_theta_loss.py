"""Tests of the parameter-space baseline loss (experiments/losses/theta_loss.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from experiments.losses.theta_loss import ThetaLoss


def test_values_match_functional():
    torch.manual_seed(0)
    a, b = torch.rand(5, 3), torch.rand(5, 3)
    torch.testing.assert_close(ThetaLoss()(a, b), F.mse_loss(a, b))
    torch.testing.assert_close(ThetaLoss("mse")(a, b), ((a - b) ** 2).mean())
    torch.testing.assert_close(ThetaLoss("l1")(a, b), F.l1_loss(a, b))
    assert ThetaLoss()(a, a) == 0
    assert ThetaLoss()(a, b).shape == ()


def test_compares_theta_and_gradient():
    loss = ThetaLoss()
    assert loss.compares == "theta" and getattr(loss, "compares", "audio") == "theta"
    assert ThetaLoss.compares == "theta"
    a = torch.rand(4, 2, requires_grad=True)
    b = torch.rand(4, 2)
    loss(a, b).backward()
    torch.testing.assert_close(a.grad, 2 * (a - b).detach() / a.numel())


@pytest.mark.parametrize("kind", ["MSE", "l2", "", None, 1])
def test_bad_kind(kind):
    with pytest.raises(ValueError, match="kind.*'mse'.*'l1'"):
        ThetaLoss(kind)


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
