"""Full joint time–frequency scattering loss: the mean of the per-path distances over all paths.

This is the expensive baseline that SCRAPL approximates without bias: the mean over paths of
:class:`scrapl.SCRAPLLoss`'s single-path loss equals this loss, values and gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

from scrapl.config import Averaging
from scrapl.path_loss import PathLoss


class JTFSLoss(PathLoss):
    """Distance between the full JTFS of two signals (Andén, Lostanlen & Mallat, IEEE TSP 2019).

    ``loss = mean_p mean_batch ‖ρ(S_p x) − ρ(S_p x_target)‖_p`` over every second-order path
    (see :mod:`scrapl.distance`). Work is shared between paths (first order once, each ψ2
    once). Only the first order and each ψ2's wavelet coefficients are kept for the backward
    pass: the much larger frequential intermediates are recomputed in time chunks
    (:mod:`scrapl.frequential`), so memory stays far below the transform's size.

    Args:
        shape, J, Q1, Q2, J_fr, Q_fr, T, F: the transform (:class:`scrapl.config.JTFSConfig`).
        p: order of the norm (> 0; default 2, not squared).
        use_rho_log1p: compare ``log1p(S / log1p_eps)`` instead of ``S``.
        log1p_eps: scale of the log compression.

    Shapes: ``x`` and ``x_target`` are ``(batch, channels, shape)`` (or ``(batch, shape)``);
    channels are folded into the batch. Returns a scalar.
    """

    def __init__(
        self,
        shape: int,
        J: int,
        Q1: int,
        Q2: int,
        J_fr: int,
        Q_fr: int,
        T: Averaging = None,
        F: Averaging = None,
        p: float = 2,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
    ) -> None:
        super().__init__(shape, J, Q1, Q2, J_fr, Q_fr, T, F, p, use_rho_log1p, log1p_eps)

    def path_losses(self, x: Tensor, x_target: Tensor) -> Tensor:
        """Per-path distances, ``(n_paths,)`` in path index order."""
        x, x_target = self.check_inputs(x, x_target)
        u1_x = self.jtfs.first_order_all(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and x_target.requires_grad):
            u1_y = self.jtfs.first_order_all(x_target)
        out = []
        for n2 in self.jtfs.paths_by_psi2:
            paths_x = self.jtfs.psi2_paths(u1_x, n2)
            with torch.set_grad_enabled(torch.is_grad_enabled() and x_target.requires_grad):
                paths_y = self.jtfs.psi2_paths(u1_y, n2)
            out += [
                self.distance(s_x, s_y) for (_, s_x), (_, s_y) in zip(paths_x, paths_y, strict=True)
            ]
        return torch.stack(out)

    def forward(self, x: Tensor, x_target: Tensor) -> Tensor:
        """Mean over all paths of the per-path distance (a scalar)."""
        return self.path_losses(x, x_target).mean()
