"""Validation curves of a group's runs: mean and 95 % band over seeds at each validation.

The runs of a group share their validation schedule (same config), so the i-th validation
of every run is one point of the curve; its x is the mean over runs of the optimizer steps
taken, or of the training seconds spent (``time/train_s`` of the last training row before
the validation, 0 before any), and its band is 1.96 · std(ddof=0) / √n like the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.analysis.grouping import RunGroup
from experiments.analysis.metrics_csv import MetricsTable, validation_curve
from experiments.analysis.statistics import mean_ci95

__all__ = ["Band", "TIME_COLUMN", "curve_band", "validation_times"]

TIME_COLUMN = "time/train_s"


@dataclass(frozen=True)
class Band:
    """x, mean and half-width arrays of one curve, and the number of runs at each x."""

    x: np.ndarray
    mean: np.ndarray
    ci95: np.ndarray
    n: np.ndarray


def validation_times(table: MetricsTable, column: str) -> list[tuple[float, float]] | None:
    """``(training seconds so far, value)`` per validation; None without ``time/train_s``."""
    if not table.has(TIME_COLUMN):
        return None
    out, spent = [], 0.0
    for row in table.rows:
        spent = row.get(TIME_COLUMN, spent)
        if column in row:
            out.append((spent, row[column]))
    return out


def curve_band(group: RunGroup, column: str = "val/theta_l1", x: str = "step") -> Band | None:
    """The group's mean curve of ``column`` against ``x`` (``"step"`` or ``"time"``); None
    when no run has the curve (or, for time, the time column)."""
    if x not in ("step", "time"):
        raise ValueError(f"x must be 'step' or 'time', got {x!r}")
    curves = []
    for chain in group.chains:
        if x == "step":
            curve = validation_curve(chain.metrics, column)
        else:
            curve = validation_times(chain.metrics, column) or []
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
