"""experiments.analysis.path_gradients: per-path gradients and their sign agreement."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from experiments.analysis.path_gradients import (
    path_gradients,
    sign_agreement,
    summarise_paths,
)
from experiments.synths.granular import GranularSynth
from scrapl import JTFSLoss


class IdentitySynth(nn.Module):
    """θ itself as the "audio" ``(batch, 1, n_theta)``; the seed adds nothing."""

    def forward(self, theta: torch.Tensor, seed: object) -> torch.Tensor:
        return theta.unsqueeze(1)


class ToyPaths(nn.Module):
    """Four paths with known directions: toward both θ, away from both, toward θ_0 only, none."""

    def path_losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        d = (x - y).squeeze(1)
        return torch.stack(
            [
                (d**2).sum(1).mean(),
                -(d**2).sum(1).mean(),
                (d[:, 0] ** 2).mean(),
                x.sum() * 0.0,
            ]
        )


def _pairs(batch: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return torch.rand(batch, 2, generator=gen), torch.rand(batch, 2, generator=gen)


def test_toy_gradients_are_the_per_example_derivatives() -> None:
    target, theta = _pairs()
    g = path_gradients(IdentitySynth(), ToyPaths(), target, theta, 0, 1)
    assert g.shape == (4, 6, 2)
    d = theta - target  # d/dθ_i of (θ_i − θ*_i)² is 2 (θ_i − θ*_i), whatever the batch size
    torch.testing.assert_close(g[0], 2 * d)
    torch.testing.assert_close(g[1], -2 * d)
    torch.testing.assert_close(g[2], torch.stack([2 * d[:, 0], torch.zeros(6)], dim=1))
    assert (g[3] == 0).all()


def test_toy_sign_agreement_and_summary() -> None:
    target, theta = _pairs()
    g = path_gradients(IdentitySynth(), ToyPaths(), target, theta, 0, 1)
    per_path = sign_agreement(g, theta, target)
    expected = torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 0.5], [0.5, 0.5]])
    torch.testing.assert_close(per_path, expected)
    # The mean of the paths is 2d/4 on θ_0 (right way) and 0 on θ_1 (says nothing).
    uniform = summarise_paths(g, theta, target, ["a", "b"])
    assert [s.full_loss_agreement for s in uniform] == [1.0, 0.5]
    assert [s.mean_path_agreement for s in uniform] == [0.625, 0.5]
    assert [s.n_paths_above for s in uniform] == [2, 1]
    assert uniform[0].spearman_rho is None and uniform[0].probs_agreement is None
    # π on the first path only: a drawn path always points the right way.
    probs = torch.tensor([0.97, 0.01, 0.01, 0.01])
    focused = summarise_paths(g, theta, target, ["a", "b"], probs)
    assert focused[0].probs_agreement == pytest.approx(0.97 + 0.01 + 0.005)
    assert focused[1].probs_agreement == pytest.approx(0.97 + 0.005 + 0.005)
    # Ranks of θ_0's agreement (1, 0, 1, ½) with ties averaged: 3.5, 1, 3.5, 2; of π: 1, 4, 2, 3.
    # Their Pearson correlation: −4.5 / √(4.5 · 5).
    against = summarise_paths(g, theta, target, ["a", "b"], torch.tensor([0.1, 0.4, 0.2, 0.3]))
    assert against[0].spearman_rho == pytest.approx(-4.5 / (4.5 * 5) ** 0.5)


def test_batched_gradients_match_one_example_at_a_time() -> None:
    # The examples of a batch do not interact: one backward per path gives each its own.
    torch.manual_seed(0)
    synth = GranularSynth(n_samples=1024, n_grains=8, grain_len=256)
    loss = JTFSLoss(shape=1024, J=5, Q1=1, Q2=1, J_fr=2, Q_fr=1)
    target, theta = _pairs(3)
    seeds, seeds_hat = torch.tensor([5, 6, 7]), torch.tensor([50, 60, 70])
    g = path_gradients(synth, loss, target, theta, seeds, seeds_hat)
    assert g.shape[0] == loss.n_paths > 1 and g.shape[1:] == (3, 2) and g.abs().sum() > 0
    for i in range(3):
        one = path_gradients(
            synth, loss, target[i : i + 1], theta[i : i + 1], seeds[i : i + 1], seeds_hat[i : i + 1]
        )
        torch.testing.assert_close(g[:, i : i + 1], one, rtol=1e-4, atol=1e-9)


def test_bad_input_is_named() -> None:
    target, theta = _pairs()
    with pytest.raises(TypeError, match="loss must have a path_losses"):
        path_gradients(IdentitySynth(), nn.MSELoss(), target, theta, 0, 1)
    with pytest.raises(ValueError, match="theta and theta_target"):
        path_gradients(IdentitySynth(), ToyPaths(), target[:3], theta, 0, 1)
    g = path_gradients(IdentitySynth(), ToyPaths(), target, theta, 0, 1)
    with pytest.raises(ValueError, match="names must give one name per θ dimension"):
        summarise_paths(g, theta, target, ["a"])
    with pytest.raises(ValueError, match=r"probs must hold one probability per path, shape \(4,\)"):
        summarise_paths(g, theta, target, ["a", "b"], torch.ones(5) / 5)
    with pytest.raises(ValueError, match="grads must end in theta's"):
        sign_agreement(g, theta[:, :1], target)
