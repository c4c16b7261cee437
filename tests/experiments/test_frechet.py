"""Tests of the Fréchet distance against closed forms for known Gaussians."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.metrics.frechet import (
    frechet_distance,
    frechet_distance_from_embeddings,
    gaussian_fit,
)


def test_one_dimension():
    # (mu1 - mu2)^2 + (s1 - s2)^2 for standard deviations s1, s2
    assert frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9.0 + 1.0)


def test_diagonal_covariances():
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 1.0 + 4.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)


def test_scaled_identity_against_a_full_covariance():
    # S1 = s I: tr((S1 S2)^(1/2)) = sqrt(s) * sum(sqrt(eig(S2)))
    rng = np.random.default_rng(0)
    m = rng.standard_normal((5, 5))
    s2 = m @ m.T + 0.1 * np.eye(5)
    s = 2.5
    eig = np.linalg.eigvalsh(s2)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    expected = np.sum((mu1 - mu2) ** 2) + 5 * s + eig.sum() - 2 * np.sqrt(s) * np.sqrt(eig).sum()
    assert frechet_distance(mu1, s * np.eye(5), mu2, s2) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(mu2, s2, mu1, s * np.eye(5)) == pytest.approx(expected, rel=1e-10)


def test_samples_of_two_known_gaussians():
    rng = np.random.default_rng(1)
    cov_a = np.array([[2.0, 0.5], [0.5, 1.0]])
    cov_b = np.array([[1.0, -0.3], [-0.3, 0.5]])
    a = rng.multivariate_normal([0.0, 0.0], cov_a, size=200_000)
    b = rng.multivariate_normal([1.0, -1.0], cov_b, size=200_000)
    exact = frechet_distance([0.0, 0.0], cov_a, [1.0, -1.0], cov_b)
    assert frechet_distance_from_embeddings(a, b) == pytest.approx(exact, rel=0.02)
    assert frechet_distance_from_embeddings(a, a) == pytest.approx(0.0, abs=1e-8)


def test_singular_covariances_stay_finite():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((10, 32))  # fewer rows than dimensions: rank-deficient
    b = rng.standard_normal((10, 32)) + 1.0
    a[:, 0] = 3.0  # and a constant dimension
    value = frechet_distance_from_embeddings(a, b)
    assert np.isfinite(value) and value > 32.0  # at least the squared mean shift of ~1 per dim


def test_gaussian_fit():
    e = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, cov = gaussian_fit(e)
    np.testing.assert_allclose(mu, [2.0, 4.0])
    np.testing.assert_allclose(cov, np.cov(e.T))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gaussian_fit(np.zeros((1, 3))), r"shape \(n >= 2, d >= 1\)"),
        (lambda: gaussian_fit(np.full((4, 2), np.nan)), "NaN"),
        (lambda: frechet_distance([0.0, 0.0], np.eye(3), [0.0, 0.0], np.eye(2)), "shape"),
        (lambda: frechet_distance_from_embeddings(np.zeros((3, 2)), np.zeros((3, 4))), "dimension"),
        (lambda: frechet_distance([0.0], [[-1.0]], [0.0], [[1.0]]), "positive semi-definite"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
