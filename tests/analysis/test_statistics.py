"""Means, CIs and t-tests over seeds against scipy and against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from experiments.analysis.statistics import compare, mean_ci95


def test_mean_ci95_by_hand() -> None:
    # std(ddof=0) of 1..4 is sqrt(1.25); 1.96 * sqrt(1.25) / 2 = 1.09567...
    n, mean, ci = mean_ci95([4.0, 1.0, 3.0, 2.0])
    assert (n, mean) == (4, 2.5)
    assert ci == pytest.approx(1.96 * math.sqrt(1.25) / 2, rel=1e-12)
    assert ci == pytest.approx(1.0956733, rel=1e-6)


def test_mean_ci95_edges() -> None:
    n, mean, ci = mean_ci95([7.0])
    assert (n, mean) == (1, 7.0) and math.isnan(ci)
    n, mean, ci = mean_ci95([])
    assert n == 0 and math.isnan(mean) and math.isnan(ci)
    with pytest.raises(ValueError, match="values must hold finite numbers"):
        mean_ci95([1.0, math.nan])


def test_paired_by_hand_and_scipy() -> None:
    a = {0: 1.0, 1: 2.0, 2: 3.0}
    b = {2: 6.0, 0: 2.0, 1: 4.0}  # differences (by seed) 1, 2, 3
    res = compare(a, b)
    assert res.test == "paired" and (res.n, res.n_a, res.n_b) == (3, 3, 3)
    assert res.mean_diff == pytest.approx(2.0)
    # sd of the differences 1, se 1/sqrt(3), t_{0.975, 2} = 4.302653
    assert res.ci95 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    # t = 2 / (1/sqrt(3)) = 3.4641 with 2 degrees of freedom
    assert res.p_value == pytest.approx(2 * stats.t.sf(2 * math.sqrt(3), 2), rel=1e-12)
    assert res.p_value == pytest.approx(stats.ttest_rel([2, 4, 6], [1, 2, 3]).pvalue, rel=1e-12)


def test_welch_by_hand_and_scipy() -> None:
    a = {0: 1.0, 1: 2.0, 2: 4.0}
    b = {3: 3.0, 4: 5.0, 5: 8.0, 6: 9.0}
    res = compare(a, b)
    assert res.test == "welch" and (res.n, res.n_a, res.n_b) == (7, 3, 4)
    assert res.mean_diff == pytest.approx(6.25 - 7 / 3)
    va, vb = np.var([1, 2, 4], ddof=1), np.var([3, 5, 8, 9], ddof=1)
    qa, qb = va / 3, vb / 4
    df = (qa + qb) ** 2 / (qa**2 / 2 + qb**2 / 3)
    assert res.ci95 == pytest.approx(stats.t.ppf(0.975, df) * math.sqrt(qa + qb), rel=1e-12)
    ref = stats.ttest_ind([3, 5, 8, 9], [1, 2, 4], equal_var=False)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_ci_excludes_zero_exactly_when_significant(seed) -> None:
    # A t-test and its t interval agree: p < 0.05 <=> |b - a| > half-width (both tests).
    rng = np.random.default_rng(seed)
    shift = [0.0, 0.3, 0.8][seed % 3]
    a = {s: float(v) for s, v in enumerate(rng.normal(0, 1, 8))}
    paired_b = {s: v + shift + float(rng.normal(0, 0.5)) for s, v in a.items()}
    welch_b = {s + 100: float(v) for s, v in enumerate(rng.normal(shift, 2, 6))}
    for b in (paired_b, welch_b):
        res = compare(a, b)
        assert (res.p_value < 0.05) == (abs(res.mean_diff) > res.ci95)


def test_compare_edges() -> None:
    one = compare({0: 1.0}, {0: 2.0})
    assert one.test == "paired" and one.mean_diff == 1.0
    assert math.isnan(one.p_value) and math.isnan(one.ci95)
    exact = compare({0: 1.0, 1: 1.0}, {2: 3.0, 3: 3.0})
    assert exact.test == "welch" and exact.mean_diff == 2.0 and exact.ci95 == 0.0
    with pytest.raises(ValueError, match="both groups need values"):
        compare({}, {0: 1.0})
    with pytest.raises(ValueError, match="b must hold finite numbers"):
        compare({0: 1.0}, {0: math.inf})
