"""Parameter-space ("P-loss") baseline of the SCRAPL sound-matching experiments
(Mitcheltree et al., ICLR 2026).

The supervised baseline compares the predicted synth parameters θ̂ directly with the true θ
of the target sound, never rendering audio. It is an upper reference for the audio-domain
losses on synths whose θ is recoverable from audio, but it needs θ labels.

The training loop decides what to feed a loss from its ``compares`` attribute:
``getattr(loss, "compares", "audio")`` is ``"theta"`` here, so it calls
``loss(theta_hat, theta)`` rather than ``loss(x_hat, x)``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ThetaLoss"]

_KINDS = ("mse", "l1")
_DIM_REDUCTIONS = ("sum", "mean")


class ThetaLoss(nn.Module):
    """Squared (``"mse"``) or absolute (``"l1"``) error between θ̂ and θ.

    Args:
        kind: ``"mse"`` (default) or ``"l1"``.
        dim_reduction: how the per-dimension errors (each a mean over the batch) are
            combined: ``"sum"`` (default, the published P-loss: the sum over θ dims of the
            MSE) or ``"mean"``.

    Shapes:
        ``forward(theta_hat, theta)``: two floating tensors of identical shape
        ``(batch, n_theta)`` (normalised parameters, unitless). Returns a scalar.
    """

    compares: str = "theta"

    def __init__(self, kind: str = "mse", dim_reduction: str = "sum") -> None:
        super().__init__()
        if not isinstance(kind, str) or kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}")
        if not isinstance(dim_reduction, str) or dim_reduction not in _DIM_REDUCTIONS:
            raise ValueError(
                f"dim_reduction must be one of {', '.join(map(repr, _DIM_REDUCTIONS))}, "
                f"got {dim_reduction!r}"
            )
        self.kind = kind
        self.dim_reduction = dim_reduction

    def forward(self, theta_hat: Tensor, theta: Tensor) -> Tensor:
        """Scalar distance between ``theta_hat`` (prediction) and ``theta`` (target)."""
        for name, t in (("theta_hat", theta_hat), ("theta", theta)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if not t.is_floating_point():
                raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
            if t.dim() != 2 or t.shape[0] < 1 or t.shape[1] < 1:
                raise ValueError(
                    f"{name} must have shape (batch, n_theta) with batch, n_theta >= 1, "
                    f"got {tuple(t.shape)}"
                )
        if theta_hat.shape != theta.shape:
            raise ValueError(
                f"theta_hat and theta must have the same shape, got {tuple(theta_hat.shape)} "
                f"and {tuple(theta.shape)}"
            )
        error = F.mse_loss if self.kind == "mse" else F.l1_loss
        per_dim = error(theta_hat, theta, reduction="none").mean(dim=0)
        return per_dim.sum() if self.dim_reduction == "sum" else per_dim.mean()

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, dim_reduction={self.dim_reduction!r}"
