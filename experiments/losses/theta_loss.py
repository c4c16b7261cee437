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


class ThetaLoss(nn.Module):
    """Mean squared (``"mse"``) or mean absolute (``"l1"``) error between θ̂ and θ.

    Args:
        kind: ``"mse"`` (default) or ``"l1"``.

    Shapes:
        ``forward(theta_hat, theta)``: two floating tensors of identical shape
        ``(batch, n_theta)`` (normalised parameters, unitless). Returns a scalar: the mean
        over all ``batch * n_theta`` entries of the squared / absolute differences.
    """

    compares: str = "theta"

    def __init__(self, kind: str = "mse") -> None:
        super().__init__()
        if not isinstance(kind, str) or kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}")
        self.kind = kind

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
        if self.kind == "mse":
            return F.mse_loss(theta_hat, theta)
        return F.l1_loss(theta_hat, theta)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
