"""SCRAPL and the full loss for the joint time–frequency scattering transform (JTFS).

:class:`SCRAPLLoss` is the seed API: the JTFS evaluated along one random second-order path per
step, with P-Adam, P-SAGA and θ-IS (:class:`scrapl.losses.random_path.RandomPathLoss`).
:class:`JTFSLoss` is the expensive baseline it approximates without bias: the mean over every
path (:class:`scrapl.losses.all_paths.AllPathsLoss`; Andén, Lostanlen & Mallat, IEEE TSP 2019).
Both only build the transform (:class:`scrapl.transforms.jtfs.JTFS`).
"""

from __future__ import annotations

from pathlib import Path as FilePath

import torch

from scrapl.losses.all_paths import AllPathsLoss
from scrapl.losses.path_loss import check_reduction
from scrapl.losses.random_path import RandomPathLoss
from scrapl.transforms.jtfs import JTFS, Averaging, JTFSConfig


class SCRAPLLoss(RandomPathLoss):
    """Stochastic single-path JTFS loss with P-Adam, P-SAGA and importance sampling.

    Args:
        shape: length of ``x`` and ``x_target`` in samples.
        J, Q1, Q2, J_fr, Q_fr, T, F: the transform (:class:`scrapl.transforms.jtfs.JTFSConfig`).

    The other arguments are SCRAPL's (:class:`scrapl.losses.random_path.RandomPathLoss`).

    Shapes: ``x`` and ``x_target`` are ``(batch, channels, shape)`` (or ``(batch, shape)``);
    channels are folded into the batch. ``forward`` returns a scalar (``(batch,)`` with
    ``reduction="none"``).
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
        # Cheap checks first: designing the filters takes seconds.
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
        config = JTFSConfig(shape=shape, J=J, Q1=Q1, Q2=Q2, J_fr=J_fr, Q_fr=Q_fr, T=T, F=F)
        super().__init__(
            JTFS(config),
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

    @property
    def jtfs(self) -> JTFS:
        """The transform (:class:`scrapl.transforms.jtfs.JTFS`)."""
        return self.transform


class JTFSLoss(AllPathsLoss):
    """Distance between the full JTFS of two signals: the mean of SCRAPL's per-path loss
    over every second-order path.

    Work is shared between paths (first order once, each ψ2 once). Only the first order and
    each ψ2's wavelet coefficients are kept for the backward pass: the much larger
    frequential intermediates are recomputed in time chunks
    (:mod:`scrapl.transforms.jtfs.frequential`), so memory stays far below the transform's size.

    Args:
        shape, J, Q1, Q2, J_fr, Q_fr, T, F: the transform
            (:class:`scrapl.transforms.jtfs.JTFSConfig`).
        p, use_rho_log1p, log1p_eps, reduction, check_finite: the distance and the inputs
            (:class:`scrapl.losses.path_loss.PathLoss`).

    Shapes: ``x`` and ``x_target`` are ``(batch, channels, shape)`` (or ``(batch, shape)``).
    Returns a scalar (``(batch,)`` with ``reduction="none"``).
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
        reduction: str = "mean",
        check_finite: bool | None = None,
    ) -> None:
        check_reduction(reduction)
        config = JTFSConfig(shape=shape, J=J, Q1=Q1, Q2=Q2, J_fr=J_fr, Q_fr=Q_fr, T=T, F=F)
        super().__init__(JTFS(config), p, use_rho_log1p, log1p_eps, reduction, check_finite)

    @property
    def jtfs(self) -> JTFS:
        """The transform (:class:`scrapl.transforms.jtfs.JTFS`)."""
        return self.transform
