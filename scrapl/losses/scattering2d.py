"""SCRAPL and the full loss for image scattering (kymatio 0.3's ``Scattering2D``).

:class:`Scattering2DSCRAPLLoss` compares two images along one random path per call — one
first-order channel ``(j1, θ1)`` or one second-order channel ``(j1, θ1, j2, θ2)`` — with P-Adam,
P-SAGA and θ-IS (:class:`scrapl.losses.random_path.RandomPathLoss`). :class:`Scattering2DLoss`
is the mean over every path (:class:`scrapl.losses.all_paths.AllPathsLoss`). Both only build
the transform (:class:`scrapl.transforms.scattering2d.Scattering2D`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path as FilePath

import torch

from scrapl.losses.all_paths import AllPathsLoss
from scrapl.losses.path_loss import check_reduction
from scrapl.losses.random_path import RandomPathLoss
from scrapl.transforms.scattering2d import Scattering2D, Scattering2DConfig


class Scattering2DSCRAPLLoss(RandomPathLoss):
    """Stochastic single-path image scattering loss with P-Adam, P-SAGA and importance sampling.

    Args:
        shape: image size ``(M, N)``.
        J, L: the transform (:class:`scrapl.transforms.scattering2d.Scattering2DConfig`;
            kymatio's ``Scattering2D(J, shape=(M, N), L=L)``).

    The other arguments are SCRAPL's (:class:`scrapl.losses.random_path.RandomPathLoss`).

    Shapes: ``x`` and ``x_target`` are ``(batch, channels, M, N)`` (or ``(batch, M, N)``);
    channels are folded into the batch. The distance along a path is the 2-norm (``p``) of
    the coefficient difference over (y, x). ``forward`` returns a scalar (``(batch,)`` with
    ``reduction="none"``).
    """

    def __init__(
        self,
        shape: Sequence[int],
        J: int,
        L: int = 8,
        p: float = 2,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
        grad_mult: float = 1e8,
        use_p_adam: bool = True,
        use_p_saga: bool = True,
        sample_all_paths_first: bool = False,
        n_theta: int = 1,
        min_prob_frac: float = 0.0,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
        seed: int | None = None,
        pathwise_dtype: torch.dtype | None = None,
        pathwise_offload: bool = False,
        probs_path: str | FilePath | None = None,
        reduction: str = "mean",
        check_finite: bool | None = None,
    ) -> None:
        self.check_arguments(
            n_theta,
            use_p_adam,
            use_rho_log1p,
            grad_mult,
            adam_betas,
            adam_eps,
            pathwise_dtype,
            pathwise_offload,
            probs_path,
        )
        check_reduction(reduction)
        config = Scattering2DConfig(shape=shape, J=J, L=L)
        super().__init__(
            Scattering2D(config),
            p=p,
            use_rho_log1p=use_rho_log1p,
            log1p_eps=log1p_eps,
            grad_mult=grad_mult,
            use_p_adam=use_p_adam,
            use_p_saga=use_p_saga,
            sample_all_paths_first=sample_all_paths_first,
            n_theta=n_theta,
            min_prob_frac=min_prob_frac,
            adam_betas=adam_betas,
            adam_eps=adam_eps,
            seed=seed,
            pathwise_dtype=pathwise_dtype,
            pathwise_offload=pathwise_offload,
            probs_path=probs_path,
            reduction=reduction,
            check_finite=check_finite,
        )


class Scattering2DLoss(AllPathsLoss):
    """Distance between the full image scattering (orders 1 and 2) of two images: the mean of
    :class:`Scattering2DSCRAPLLoss`'s per-path loss over every path.

    Work is shared between paths (the padded image's spectrum once, each first order once).

    Args:
        shape, J, L: the transform (:class:`scrapl.transforms.scattering2d.Scattering2DConfig`).
        p, use_rho_log1p, log1p_eps, reduction, check_finite: the distance and the inputs
            (:class:`scrapl.losses.path_loss.PathLoss`).
    """

    def __init__(
        self,
        shape: Sequence[int],
        J: int,
        L: int = 8,
        p: float = 2,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
        reduction: str = "mean",
        check_finite: bool | None = None,
    ) -> None:
        check_reduction(reduction)
        config = Scattering2DConfig(shape=shape, J=J, L=L)
        super().__init__(Scattering2D(config), p, use_rho_log1p, log1p_eps, reduction, check_finite)
