"""The full scattering loss: the mean of the per-path distances over every path.

This is the expensive baseline that SCRAPL approximates without bias: the mean over paths of
SCRAPL's single-path loss (:class:`scrapl.losses.random_path.RandomPathLoss`) equals it,
values and gradients, for every transform.
"""

from __future__ import annotations

import torch
from torch import Tensor

from scrapl.losses.path_loss import PathLoss
from scrapl.transforms.primitives import full_precision


class AllPathsLoss(PathLoss):
    """``loss = mean_p reduction_batch mean_channels ‖ρ(S_p x) − ρ(S_p x_target)‖_p``.

    Work is shared between paths as the transform allows
    (:meth:`scrapl.transforms.base.PathTransform.all_paths`). The target's coefficients are
    computed first, without gradient unless it requires one; they are small (averaged), so
    only the signal's path-by-path intermediates take memory. Arguments: those of
    :class:`scrapl.losses.path_loss.PathLoss`.
    """

    def path_losses(self, x: Tensor, x_target: Tensor) -> Tensor:
        """Per-path losses, ``(n_paths,)`` in path index order (``(n_paths, batch)`` with
        ``reduction="none"``)."""
        x, x_target, batch = self.prepare(x, x_target)
        with full_precision(x.device):
            with torch.set_grad_enabled(torch.is_grad_enabled() and x_target.requires_grad):
                targets = dict(self.transform.all_paths(x_target))
            out = [
                self.reduce(self.distance(s_x, targets.pop(idx)), batch)
                for idx, s_x in self.transform.all_paths(x)
            ]
        return torch.stack(out)

    def forward(self, x: Tensor, x_target: Tensor) -> Tensor:
        """Mean over all paths of the reduced per-path distance."""
        return self.path_losses(x, x_target).mean(dim=0)
