"""Which scattering paths tell an estimate which way to move each synth parameter.

SCRAPL (Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for Machine
Learning", ICLR 2026) follows the gradient of one JTFS path per step. For a path ``p`` and a
synth parameter ``θ_k``, the path's gradient ``∂L_p/∂θ_k`` (through the synth and the
distance, no encoder) points toward the target when its sign is that of ``θ_k − θ*_k``. Over
random pairs of target ``θ*`` and estimate ``θ`` rendered with different seeds (the "meso"
setting of the experiments), the **sign agreement** of a path and a parameter is

    agreement = mean over pairs of (1 + sign(∂L_p/∂θ_k) · sign(θ_k − θ*_k)) / 2

1 for a path whose gradient always points the right way, 0 for one that always points away,
½ for one that says nothing (a zero gradient counts ½). The same number for the mean of the
path distances (the full JTFS loss) shows what averaging over paths buys; set beside θ-IS's
path probabilities it shows whether importance sampling favours the informative paths.

Units: gradients are of the distance per unit of ``θ`` (``θ`` in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from experiments.synths.common import SeedLike

__all__ = [
    "PathGradientSummary",
    "median_magnitudes",
    "path_gradients",
    "sign_agreement",
    "summarise_paths",
]


def path_gradients(
    synth: nn.Module,
    loss: nn.Module,
    theta_target: Tensor,
    theta: Tensor,
    target_seed: SeedLike,
    seed: SeedLike,
) -> Tensor:
    """Per-path, per-example gradients ``∂L_p(x_i, y_i)/∂θ_i``, ``(n_paths, batch, n_theta)``.

    ``y = synth(theta_target, target_seed)``, ``x = synth(theta, seed)``; ``loss`` must have
    ``path_losses(x, y) -> (n_paths,)``, each the mean over the batch of one path's distance
    (as :class:`scrapl.JTFSLoss`). Examples do not interact, so one backward pass per path
    gives every example's gradient (the batch mean's gradient times the batch size).
    """
    if not callable(getattr(loss, "path_losses", None)):
        raise TypeError(
            f"loss must have a path_losses(x, x_target) method (e.g. scrapl.JTFSLoss), "
            f"got {type(loss).__name__}"
        )
    if theta.ndim != 2 or theta.shape != theta_target.shape:
        raise ValueError(
            f"theta and theta_target must have the same (batch, n_theta) shape, got "
            f"{tuple(theta.shape)} and {tuple(theta_target.shape)}"
        )
    theta = theta.detach().clone().requires_grad_(True)
    with torch.no_grad():
        y = synth(theta_target, target_seed)
    per_path = loss.path_losses(synth(theta, seed), y)
    grads = [
        torch.autograd.grad(value, theta, retain_graph=i + 1 < len(per_path))[0]
        for i, value in enumerate(per_path)
    ]
    return torch.stack(grads) * theta.shape[0]


def sign_agreement(grads: Tensor, theta: Tensor, theta_target: Tensor) -> Tensor:
    """Sign agreement (module docstring) of ``grads`` ``(..., batch, n_theta)`` with
    ``theta − theta_target`` ``(batch, n_theta)``: ``(..., n_theta)`` in [0, 1]."""
    if grads.shape[-2:] != theta.shape or theta.shape != theta_target.shape:
        raise ValueError(
            f"grads must end in theta's (batch, n_theta) shape and theta_target match it, got "
            f"{tuple(grads.shape)}, {tuple(theta.shape)} and {tuple(theta_target.shape)}"
        )
    toward = torch.sign(grads) * torch.sign(theta - theta_target)
    return ((1.0 + toward) / 2.0).mean(dim=-2)


@dataclass(frozen=True)
class PathGradientSummary:
    """Per synth parameter: the paths' agreements and how they relate to θ-IS's π."""

    name: str
    mean_path_agreement: float  # averaged over paths: what one uniformly drawn path gives
    full_loss_agreement: float  # of the mean over paths (the full JTFS loss)
    n_paths_above: int  # paths with agreement >= the threshold
    threshold: float
    spearman_rho: float | None  # rank correlation of π and agreement; None without π
    spearman_p: float | None
    probs_agreement: float | None  # agreement of one path drawn from π, on average


def summarise_paths(
    grads: Tensor,
    theta: Tensor,
    theta_target: Tensor,
    names: Sequence[str],
    probs: Tensor | None = None,
    threshold: float = 0.75,
) -> list[PathGradientSummary]:
    """One :class:`PathGradientSummary` per parameter from ``path_gradients``' output."""
    n_paths, _, n_theta = grads.shape
    if len(names) != n_theta:
        raise ValueError(f"names must give one name per θ dimension ({n_theta}), got {names!r}")
    if probs is not None and probs.shape != (n_paths,):
        raise ValueError(
            f"probs must hold one probability per path, shape ({n_paths},), got "
            f"{tuple(probs.shape)}"
        )
    per_path = sign_agreement(grads, theta, theta_target)  # (n_paths, n_theta)
    full = sign_agreement(grads.mean(dim=0), theta, theta_target)  # (n_theta,)
    out = []
    for k, name in enumerate(names):
        agree = per_path[:, k].double()
        rho = p = drawn = None
        if probs is not None:
            pi = probs.double() / probs.double().sum()
            drawn = float((pi * agree).sum())
            if agree.unique().numel() > 1 and pi.unique().numel() > 1:
                res = stats.spearmanr(pi.numpy(), agree.numpy())
                rho, p = float(res.statistic), float(res.pvalue)
        out.append(
            PathGradientSummary(
                name=name,
                mean_path_agreement=float(agree.mean()),
                full_loss_agreement=float(full[k]),
                n_paths_above=int((agree >= threshold).sum()),
                threshold=threshold,
                spearman_rho=rho,
                spearman_p=p,
                probs_agreement=drawn,
            )
        )
    return out


def median_magnitudes(grads: Tensor) -> np.ndarray:
    """Median over examples of ``|∂L_p/∂θ_k|``, ``(n_paths, n_theta)``."""
    return grads.abs().median(dim=1).values.numpy()
