"""The paper's statistics over seeds (Mitcheltree et al., ICLR 2026).

* Tables: mean ± 1.96 · std(ddof = 0) / √n over the seeds of a group.
* Comparisons of two groups: the difference of the means, b − a, with its Student-t 95 %
  half-width, and the p-value of a t-test. Paired by seed (scipy ``ttest_rel``) when both
  groups hold the same seeds, Welch's unequal-variance test (``ttest_ind``,
  ``equal_var=False``) otherwise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Comparison", "compare", "mean_ci95"]

Z95 = 1.96


def _finite(name: str, values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite numbers, got {arr.tolist()}")
    return arr


def mean_ci95(values: Sequence[float]) -> tuple[int, float, float]:
    """``(n, mean, 1.96 · std(ddof=0) / √n)``; the half-width is NaN for n = 1 (one run
    shows no spread) and both are NaN for n = 0."""
    arr = _finite("values", values)
    n = arr.size
    if n == 0:
        return 0, math.nan, math.nan
    ci = Z95 * float(arr.std(ddof=0)) / math.sqrt(n) if n > 1 else math.nan
    return n, float(arr.mean()), ci


@dataclass(frozen=True)
class Comparison:
    """b − a for one metric.

    Attributes:
        n: seed pairs (paired test) or runs on both sides together (Welch).
        n_a, n_b: runs of each side.
        mean_diff: mean(b) − mean(a) (= the mean of the paired differences when paired).
        ci95: Student-t 95 % half-width of ``mean_diff`` (Welch–Satterthwaite degrees of
            freedom for Welch); NaN when it is undefined (too few runs).
        p_value: two-sided p-value of the t-test; NaN when undefined.
        test: ``"paired"`` or ``"welch"``.
    """

    n: int
    n_a: int
    n_b: int
    mean_diff: float
    ci95: float
    p_value: float
    test: str


def _t_half_width(se: float, df: float) -> float:
    if not (df > 0 and math.isfinite(se)):
        return math.nan
    return float(stats.t.ppf(0.975, df)) * se


def compare(a: Mapping[int, float], b: Mapping[int, float]) -> Comparison:
    """Compare the values of two groups, given as ``{seed: value}``.

    Paired (``ttest_rel`` on the seed-sorted values) when ``a`` and ``b`` have the same
    seeds, Welch (``ttest_ind(b, a, equal_var=False)``) otherwise.
    """
    va = _finite("a", [a[s] for s in sorted(a)])
    vb = _finite("b", [b[s] for s in sorted(b)])
    na, nb = va.size, vb.size
    if na == 0 or nb == 0:
        raise ValueError(f"both groups need values, got {na} and {nb}")
    with warnings.catch_warnings():
        # scipy warns on too few values or zero variance and returns NaN: NaN is our answer.
        warnings.simplefilter("ignore", RuntimeWarning)
        if sorted(a) == sorted(b):
            diff = vb - va
            p = float(stats.ttest_rel(vb, va).pvalue) if na > 1 else math.nan
            se = float(diff.std(ddof=1)) / math.sqrt(na) if na > 1 else math.nan
            ci = _t_half_width(se, na - 1)
            return Comparison(na, na, nb, float(diff.mean()), ci, p, "paired")
        p = float(stats.ttest_ind(vb, va, equal_var=False).pvalue) if min(na, nb) > 1 else math.nan
        if min(na, nb) > 1:
            qa, qb = va.var(ddof=1) / na, vb.var(ddof=1) / nb
            se = math.sqrt(qa + qb)
            if se > 0:
                df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
                ci = _t_half_width(se, df)
            else:  # no spread on either side: the difference is exact
                ci = 0.0
        else:
            ci = math.nan
        return Comparison(na + nb, na, nb, float(vb.mean() - va.mean()), ci, p, "welch")
