"""Curvature of one scattering path for θ-IS warmup: Hessian-vector power iteration.

For one batch, :func:`path_eigenvalues` estimates the largest-magnitude eigenvalue of
A_{u,p} = ∂g_{u,p}/∂w for each θ dim u by power iteration on double-backward vector products
(see the module docstring of :mod:`scrapl.warmup.theta_is` for the definition).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from tqdm import tqdm

from scrapl.warmup.args import forward_batch

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapl.losses.random_path import RandomPathLoss

SEED_STRIDE = 100003  # generator seed of (path p, θ dim u) is p * SEED_STRIDE + u
PROGRESS = ("path", "total", "none")  # warmup_lc_hvp(progress=...): a bar per path, one, none


def progress_bar(progress: str, n_paths: int, n_iter: int, n_batches: int) -> tqdm | None:
    """The one bar of a warmup call over ``n_paths`` paths (``progress="total"``: it counts
    power iterations of every path and batch; disabled for ``"none"``), or None for a bar per
    path (``"path"``, the seed's console output)."""
    if progress == "path":
        return None
    return tqdm(total=n_paths * n_iter * n_batches, desc="θ-IS warmup", disable=progress == "none")


def path_batch_eigenvalues(
    loss: RandomPathLoss,
    theta_fn: Callable,
    synth_fn: Callable,
    batches: list[tuple[dict, dict, Tensor]],
    params: list[Tensor],
    path_idx: int,
    todo: list[int],
    n_iter: int,
    bar: tqdm | None = None,
) -> tuple[list[float], list[list[float]]]:
    """Eigenvalue of A_{u,p} on every warmup batch, for path ``path_idx`` and each θ dim u
    of ``todo``: returns, per u, the sum of their magnitudes and the signed per-batch values.

    ``batches`` holds one ``(theta_fn kwargs, synth_fn kwargs, target audio)`` per batch;
    ``bar`` is the call's progress bar, advanced once per power iteration and batch (None: a
    bar of this path's own).
    """
    n_batches = len(batches)
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    gens = {u: torch.Generator().manual_seed(path_idx * SEED_STRIDE + u) for u in todo}
    abs_sum = [0.0] * len(todo)
    batch_eigs: list[list[float]] = [[] for _ in todo]
    own = bar is None
    if own:
        bar = tqdm(total=n_iter * n_batches, desc=f"path {path_idx}")
    try:
        for b, (kwargs, synth_kwargs, target) in enumerate(batches):
            theta, x_hat, target = forward_batch(
                loss, theta_fn, synth_fn, kwargs, synth_kwargs, target, b
            )
            starts = []
            for u in todo:
                flat = torch.randn(sum(sizes), generator=gens[u])
                parts = flat.split(sizes)
                starts.append(
                    [
                        t.view(s).to(device=p.device, dtype=p.dtype)
                        for t, s, p in zip(parts, shapes, params, strict=True)
                    ]
                )
            eigs = path_eigenvalues(
                loss, theta, x_hat, target, params, path_idx, todo, starts, n_iter, bar
            )
            del theta, x_hat
            for k, e in enumerate(eigs):
                abs_sum[k] += abs(e)
                batch_eigs[k].append(e)
    finally:
        if own:
            bar.close()
    return abs_sum, batch_eigs


def path_eigenvalues(
    loss: RandomPathLoss,
    theta: Tensor,
    x_hat: Tensor,
    target: Tensor,
    params: list[Tensor],
    path_idx: int,
    theta_idxs: list[int],
    starts: list[list[Tensor]],
    n_iter: int,
    bar: tqdm,
) -> list[float]:
    """Power-iteration eigenvalue (signed) of A_{u,p} for each u of ``theta_idxs``, one batch."""
    loss_p = loss.path_distances(x_hat, target, path_idx).mean()  # target: data, no grad
    (s,) = torch.autograd.grad(loss_p, theta, create_graph=True)
    # g_u = Σ_b s_{b,u}(w) ∇_w θ_{b,u}(w), kept differentiable in w (through s and θ).
    grads: list[list[Tensor | None]] = []
    for u in theta_idxs:
        g = torch.autograd.grad(
            theta[:, u], params, grad_outputs=s[:, u], create_graph=True, allow_unused=True
        )
        grads.append([gi if gi is not None and gi.requires_grad else None for gi in g])
    vecs = [[v / _norm(start) for v in start] for start in starts]
    eigs = [0.0] * len(theta_idxs)
    done = [False] * len(theta_idxs)
    for _ in range(n_iter):
        for k, g in enumerate(grads):
            if done[k]:
                continue
            av = _hvp(g, vecs[k], params)
            dot = torch.stack(
                [(v.double() * a.double()).sum() for v, a in zip(vecs[k], av, strict=True)]
            )
            sq = torch.stack([a.double().square().sum() for a in av])
            eigs[k], norm = float(dot.sum()), math.sqrt(float(sq.sum()))  # one sync
            if norm == 0.0 or not math.isfinite(norm):
                if not math.isfinite(norm):
                    raise FloatingPointError(
                        f"non-finite Hessian-vector product for path {path_idx}, θ dim "
                        f"{theta_idxs[k]}: check the encoder, synth and inputs for NaN/inf"
                    )
                done[k] = True  # v is in the null space: the eigenvalue estimate is 0
                eigs[k] = 0.0
                continue
            vecs[k] = [a / norm for a in av]
        bar.update(1)
    return eigs


def _norm(vs: list[Tensor]) -> float:
    return math.sqrt(float(torch.stack([v.double().square().sum() for v in vs]).sum()))


def _hvp(g: list[Tensor | None], v: list[Tensor], params: list[Tensor]) -> list[Tensor]:
    """``∇_w ⟨g(w), v⟩`` (= Aᵀ v); parameters g does not depend on give zeros."""
    pairs = [(gi, vi) for gi, vi in zip(g, v, strict=True) if gi is not None]
    if not pairs:
        return [torch.zeros_like(p) for p in params]
    out = torch.autograd.grad(
        [gi for gi, _ in pairs],
        params,
        grad_outputs=[vi for _, vi in pairs],
        retain_graph=True,
        allow_unused=True,
    )
    return [
        torch.zeros_like(p) if o is None else o.detach() for o, p in zip(out, params, strict=True)
    ]
