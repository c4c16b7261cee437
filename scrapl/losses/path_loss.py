"""What every scattering loss of the package shares: a path transform and the per-path distance.

Precision policy. The transform computes in float32 (float64 when the loss was cast with
``.double()`` and is given float64), whatever the autocast state: the loss turns autocast off
for its own work. Half-precision inputs (float16, bfloat16, e.g. a network's output under
``torch.autocast``) are cast to float32, so their gradient flows back in their own dtype; the
loss value is float32. Integer or complex inputs are refused with a TypeError.

Reduction. Channels are folded into the batch for the transform; the distance of an example is
the mean over its channels of the per-channel distances, then ``reduction`` applies over the
batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` (shape ``(batch,)``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from scrapl.losses.distance import path_distance
from scrapl.transforms.base import PathTransform
from scrapl.transforms.primitives import full_precision
from scrapl.validation import check_bool, check_positive, check_signals

REDUCTIONS = ("mean", "sum", "none")


class PathLoss(nn.Module):
    """A :class:`scrapl.transforms.base.PathTransform` with the distance of
    :mod:`scrapl.losses.distance`, a reduction and the input checks.

    Base of the full losses (:class:`scrapl.losses.all_paths.AllPathsLoss`) and of SCRAPL
    (:class:`scrapl.losses.random_path.RandomPathLoss`).

    Args:
        transform: the scattering transform, evaluated path by path.
        p: order of the norm of the per-path distance (> 0; default 2, not squared).
        use_rho_log1p, log1p_eps: compare ``log1p(S / log1p_eps)`` instead of ``S``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the batch.
        check_finite: refuse inputs holding NaN or inf. None (default): only on CPU, where
            the check costs no host–device synchronisation; True: on every device (one
            synchronisation per call on a GPU); False: never.
    """

    def __init__(
        self,
        transform: PathTransform,
        p: float = 2.0,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
        reduction: str = "mean",
        check_finite: bool | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(transform, PathTransform):
            raise TypeError(
                f"transform must be a scrapl PathTransform, got {type(transform).__name__}"
            )
        self.p = check_positive("p", p)
        self.use_rho_log1p = check_bool("use_rho_log1p", use_rho_log1p)
        self.log1p_eps = check_positive("log1p_eps", log1p_eps)
        self.reduction = check_reduction(reduction)
        if check_finite is not None:
            check_bool("check_finite", check_finite)
        self.check_finite = check_finite
        self.transform = transform
        self.config = transform.config
        self.n_paths = transform.n_paths

    def prepare(self, x: object, x_target: object) -> tuple[Tensor, Tensor, int]:
        """Validated ``(batch * channels, *signal_shape)`` views of both signals in the
        computation dtype, and the batch size (see the module docstring)."""
        return check_signals(
            x, x_target, self.transform.signal_shape, self.transform.reference, self.check_finite
        )

    def path_distances(self, x: Tensor, x_target: Tensor, path_idx: int) -> Tensor:
        """Distance of every signal along one path, ``(signals,)``, for prepared inputs.

        The target gets a gradient only if it requires one (usually it is data).
        """
        with full_precision(x.device):
            s_x = self.transform(x, path_idx)
            with torch.set_grad_enabled(torch.is_grad_enabled() and x_target.requires_grad):
                s_y = self.transform(x_target, path_idx)
            return self.distance(s_x, s_y)

    def distance(self, s_x: Tensor, s_y: Tensor) -> Tensor:
        """Distance between the coefficients of one path, one value per signal."""
        return path_distance(s_x, s_y, self.p, self.use_rho_log1p, self.log1p_eps)

    def reduce(self, per_signal: Tensor, batch: int) -> Tensor:
        """Mean over channels, then the reduction over the batch."""
        per_example = per_signal.view(batch, -1).mean(dim=1)
        if self.reduction == "mean":
            return per_example.mean()
        if self.reduction == "sum":
            return per_example.sum()
        return per_example


def check_reduction(reduction: object) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction
