"""Validation curves of a group's runs: mean and 95 % band over seeds at each validation.

The runs of a group share their validation schedule (same config), so the i-th validation
of every run is one point of the curve; its x is the mean over runs of the optimizer steps
taken, or of the training seconds spent (``time/train_s`` of the last training row before
the validation, 0 before any; with ``x="cost"`` plus the seconds before the first step,
``time/warmup_s``: the θ-IS warmup), and its band is 1.96 · std(ddof=0) / √n like the
tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.analysis.grouping import RunGroup
from experiments.analysis.metrics_csv import MetricsTable, validation_curve
from experiments.analysis.statistics import mean_ci95

__all__ = ["Band", "TIME_COLUMN", "WARMUP_COLUMN", "X_CHOICES", "curve_band", "validation_times"]

TIME_COLUMN = "time/train_s"
WARMUP_COLUMN = "time/warmup_s"
X_CHOICES = ("step", "time", "cost")


@dataclass(frozen=True)
class Band:
    """x, mean and half-width arrays of one curve, and the number of runs at each x."""

    x: np.ndarray
    mean: np.ndarray
    ci95: np.ndarray
    n: np.ndarray


def validation_times(
    table: MetricsTable, column: str, with_warmup: bool = False
) -> list[tuple[float, float]] | None:
    """``(training seconds so far, value)`` per validation, the seconds before the first
    step added with ``with_warmup``; None without ``time/train_s`` (or ``time/warmup_s``)."""
    if not table.has(TIME_COLUMN) or (with_warmup and not table.has(WARMUP_COLUMN)):
        return None
    warmup = 0.0
    if with_warmup:
        warmup = next(row[WARMUP_COLUMN] for row in table.rows if WARMUP_COLUMN in row)
    out, spent = [], warmup
    for row in table.rows:
        spent = row[TIME_COLUMN] + warmup if TIME_COLUMN in row else spent
        if column in row:
            out.append((spent, row[column]))
    return out


def curve_band(group: RunGroup, column: str = "val/theta_l1", x: str = "step") -> Band | None:
    """The group's mean curve of ``column`` against ``x`` (``"step"``, ``"time"``: training
    seconds, ``"cost"``: training seconds after the warmup's); None when no run has the
    curve (or, for time and cost, the time columns)."""
    if x not in X_CHOICES:
        raise ValueError(f"x must be one of {X_CHOICES}, got {x!r}")
    curves = []
    for chain in group.chains:
        if x == "step":
            curve = validation_curve(chain.metrics, column)
        else:
            curve = validation_times(chain.metrics, column, with_warmup=x == "cost") or []
        if curve:
            curves.append(curve)
    if not curves:
        return None
    length = max(len(c) for c in curves)
    xs, means, cis, ns = [], [], [], []
    for i in range(length):
        points = [c[i] for c in curves if len(c) > i]
        n, mean, ci = mean_ci95([v for _, v in points])
        xs.append(float(np.mean([p for p, _ in points])))
        means.append(mean)
        cis.append(0.0 if n == 1 else ci)
        ns.append(n)
    return Band(np.array(xs), np.array(means), np.array(cis), np.array(ns))
