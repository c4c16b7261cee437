"""Total variation and convergence step on hand-made curves."""

from __future__ import annotations

import math

import pytest

from experiments.analysis.curves import convergence_step, total_variation


def test_total_variation_by_hand() -> None:
    # |3-5| + |4-3| + |1-4| = 6 over 4 points
    assert total_variation([5.0, 3.0, 4.0, 1.0]) == pytest.approx(1.5)
    # A monotone fall: the drop over the points; a flat curve: 0.
    assert total_variation([10.0, 8.0, 4.0, 0.0]) == pytest.approx(10.0 / 4)
    assert total_variation([2.0, 2.0, 2.0]) == 0.0
    assert total_variation([7.0]) == 0.0
    assert math.isnan(total_variation([]))


def test_total_variation_sees_oscillation() -> None:
    smooth = [300.0, 250.0, 200.0, 150.0, 100.0]
    noisy = [300.0, 150.0, 250.0, 100.0, 100.0]  # same start and end
    assert total_variation(noisy) > total_variation(smooth)


def test_total_variation_rejects_nan() -> None:
    with pytest.raises(ValueError, match="values must be finite"):
        total_variation([1.0, math.nan])


def test_convergence_step() -> None:
    curve = [(0, 300.0), (96, 150.0), (192, 100.0), (288, 80.0), (384, 120.0)]
    assert convergence_step(curve) == 192  # <= 100 counts, the first time only
    assert convergence_step(curve, threshold=90.0) == 288
    assert convergence_step([(0, 101.0), (10, 100.5)]) is None
    assert convergence_step([]) is None
    assert convergence_step([(0, 50.0)]) == 0  # converged before training
