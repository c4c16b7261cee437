"""Fréchet distance between Gaussians fitted to two sets of embeddings (FAD, FID).

For ``N(mu1, S1)`` and ``N(mu2, S2)`` the squared 2-Wasserstein (Fréchet) distance is

    ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)),

as used by the Fréchet Audio Distance (Kilgour et al., "Fréchet Audio Distance: A
Reference-Free Metric for Evaluating Music Enhancement Algorithms", Interspeech 2019). The
matrix square root is ``scipy.linalg.sqrtm`` with the usual guards: when scipy finds the
product singular (e.g. fewer embeddings than dimensions) or the root is not finite, a small
multiple of the identity is added to both covariances; a negligible imaginary part from
rounding is dropped, a large one is an error; the result is clipped at 0 (it is a squared
distance).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from scrapl.validation import check_positive

__all__ = ["frechet_distance", "frechet_distance_from_embeddings", "gaussian_fit"]


def gaussian_fit(embeddings: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` (unbiased, ``ddof = 1``) of ``(n, d)`` rows."""
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 1:
        raise ValueError(f"embeddings must have shape (n >= 2, d >= 1), got {e.shape}")
    if not np.isfinite(e).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return e.mean(axis=0), np.atleast_2d(np.cov(e, rowvar=False))


def _sqrtm_or_none(m: np.ndarray) -> np.ndarray | None:
    """``sqrtm(m)``, or None where scipy finds ``m`` singular or the result is not finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            root = scipy.linalg.sqrtm(m)
        except scipy.linalg.LinAlgWarning:
            return None
    return root if np.isfinite(root).all() else None


def frechet_distance(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, eps: float = 1e-6
) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (see the module).

    Args:
        mu1, mu2: ``(d,)`` means.
        sigma1, sigma2: ``(d, d)`` symmetric positive semi-definite covariances.
        eps: ridge added to both covariances if ``sqrtm`` of their product is not finite.
    """
    mu1, mu2 = (
        np.atleast_1d(np.asarray(mu1, np.float64)),
        np.atleast_1d(np.asarray(mu2, np.float64)),
    )
    s1, s2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"need mu1, mu2 of shape (d,) and sigma1, sigma2 of shape (d, d); got {mu1.shape}, "
            f"{mu2.shape}, {s1.shape}, {s2.shape}"
        )
    eps = check_positive("eps", eps)
    covmean = _sqrtm_or_none(s1 @ s2)
    if covmean is None:
        ridge = eps * np.eye(d)
        covmean = scipy.linalg.sqrtm((s1 + ridge) @ (s2 + ridge))
    if np.iscomplexobj(covmean):
        if not np.allclose(covmean.imag, 0.0, atol=1e-3 * max(1.0, np.abs(covmean).max())):
            raise ValueError(
                "sqrtm(sigma1 @ sigma2) has a large imaginary part: the covariances are not "
                "positive semi-definite"
            )
        covmean = covmean.real
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def frechet_distance_from_embeddings(a: ArrayLike, b: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to ``(n_a, d)`` and ``(n_b, d)`` embeddings."""
    mu_a, s_a = gaussian_fit(a)
    mu_b, s_b = gaussian_fit(b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(
            f"embeddings must have the same dimension, got {mu_a.shape[0]} and {mu_b.shape[0]}"
        )
    return frechet_distance(mu_a, s_a, mu_b, s_b)
