"""Summaries of a validation curve (the paper's): total variation and convergence step."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["CONVERGENCE_THRESHOLD", "convergence_step", "total_variation"]

# θ L1 (per mille) at which a run counts as converged: the paper's 100 ‰.
CONVERGENCE_THRESHOLD = 100.0


def total_variation(values: Sequence[float]) -> float:
    """``Σ |y[i+1] − y[i]| / n_points`` of a curve; NaN for an empty curve.

    It grows with how much the curve goes up and down, not only with how far it falls.
    """
    ys = [float(v) for v in values]
    if not all(math.isfinite(v) for v in ys):
        raise ValueError(f"values must be finite, got {ys}")
    if not ys:
        return math.nan
    return sum(abs(b - a) for a, b in zip(ys, ys[1:], strict=False)) / len(ys)


def convergence_step(
    curve: Sequence[tuple[int, float]], threshold: float = CONVERGENCE_THRESHOLD
) -> int | None:
    """The step of the first point ``(step, value)`` with ``value <= threshold``, in curve
    order; None when the curve never gets there."""
    for step, value in curve:
        if value <= threshold:
            return int(step)
    return None
