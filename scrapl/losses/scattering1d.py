"""SCRAPL and the full loss for time scattering (kymatio 0.3's ``Scattering1D``).

:class:`Scattering1DSCRAPLLoss` compares two signals along one random path per call — one
first-order row ``(λ1)`` or one second-order row ``(λ1, λ2)`` of the transform — with P-Adam,
P-SAGA and θ-IS (:class:`scrapl.losses.random_path.RandomPathLoss`). :class:`Scattering1DLoss`
is the mean over every path (:class:`scrapl.losses.all_paths.AllPathsLoss`). Both only build
the transform (:class:`scrapl.transforms.scattering1d.Scattering1D`).
"""

from __future__ import annotations

from pathlib import Path as FilePath

import torch

from scrapl.losses.all_paths import AllPathsLoss
from scrapl.losses.path_loss import check_reduction
from scrapl.losses.random_path import RandomPathLoss
from scrapl.transforms.scattering1d import Scattering1D, Scattering1DConfig


class Scattering1DSCRAPLLoss(RandomPathLoss):
    """Stochastic single-path time scattering loss with P-Adam, P-SAGA and importance sampling.

    Args:
        shape: length of ``x`` and ``x_target`` in samples.
        J, Q1, Q2, T: the transform (:class:`scrapl.transforms.scattering1d.Scattering1DConfig`;
            kymatio's ``Scattering1D(J, shape, Q=(Q1, Q2), T=T)``).

    The other arguments are SCRAPL's (:class:`scrapl.losses.random_path.RandomPathLoss`).

    Shapes: ``x`` and ``x_target`` are ``(batch, channels, shape)`` (or ``(batch, shape)``);
    channels are folded into the batch. The distance along a path is the 2-norm (``p``) of
    the coefficient difference over time. ``forward`` returns a scalar (``(batch,)`` with
    ``reduction="none"``).
    """

    def __init__(
        self,
        shape: int,
        J: int,
        Q1: int,
        Q2: int,
        T: int | None = None,
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
        config = Scattering1DConfig(shape=shape, J=J, Q1=Q1, Q2=Q2, T=T)
        super().__init__(
            Scattering1D(config),
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


class Scattering1DLoss(AllPathsLoss):
    """Distance between the full time scattering (orders 1 and 2) of two signals: the mean of
    :class:`Scattering1DSCRAPLLoss`'s per-path loss over every path.

    Work is shared between paths (the padded spectrum once, each first-order row once).

    Args:
        shape, J, Q1, Q2, T: the transform
            (:class:`scrapl.transforms.scattering1d.Scattering1DConfig`).
        p, use_rho_log1p, log1p_eps, reduction, check_finite: the distance and the inputs
            (:class:`scrapl.losses.path_loss.PathLoss`).
    """

    def __init__(
        self,
        shape: int,
        J: int,
        Q1: int,
        Q2: int,
        T: int | None = None,
        p: float = 2,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
        reduction: str = "mean",
        check_finite: bool | None = None,
    ) -> None:
        check_reduction(reduction)
        config = Scattering1DConfig(shape=shape, J=J, Q1=Q1, Q2=Q2, T=T)
        super().__init__(Scattering1D(config), p, use_rho_log1p, log1p_eps, reduction, check_finite)
