"""P-Adam / P-SAGA step statistics (scrapl.pathwise.step_stats) against hand computations."""

import math

import torch

from scrapl.pathwise.adam_saga import PathwiseGradientTransform
from scrapl.pathwise.step_stats import NAMES

# float64 throughout: every value below is a handful of sums of O(1) terms, so the only
# error is rounding, ~1e-15 relative; 1e-12 leaves three orders of magnitude of margin.
TOL = 1e-12


def _vec(*values):
    return torch.tensor(values, dtype=torch.float64)


def _cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def _saga_only(n_paths=3):
    t = PathwiseGradientTransform(n_paths, use_p_adam=False, use_p_saga=True)
    t.record_stats = True
    return t


def test_off_by_default_and_leaves_state_alone():
    t = PathwiseGradientTransform(3, use_p_adam=True, use_p_saga=True)
    t.apply_all([_vec(1.0, 2.0)], 0, 1)
    assert t.last_stats is None
    # Switching the statistics on changes no output and no state.
    a, b = (PathwiseGradientTransform(3) for _ in range(2))
    b.record_stats = True
    steps = [(0, _vec(1.0, -2.0)), (1, _vec(0.5, 0.1)), (0, _vec(-1.0, 3.0))]
    for k, (p, g) in enumerate(steps, start=1):
        ga, gb = a.apply_all([g * 1e-6], p, k)[0], b.apply_all([g * 1e-6], p, k)[0]
        assert torch.equal(ga, gb)
    sa, sb = a.state_dict(), b.state_dict()
    assert torch.equal(sa["buffers"]["total"], sb["buffers"]["total"])
    assert set(b.last_stats) == set(NAMES)


def test_saga_only_hand_computation():
    # Without P-Adam, ĝ is the raw gradient: path 0 at step 1, path 1 at step 2, path 0
    # again at step 5. At step 5 the table holds g1 (age 4) and g2 (age 3).
    t = _saga_only()
    g1, g2, g5 = _vec(1.0, 0.0, 2.0), _vec(0.0, 1.0, 1.0), _vec(2.0, 1.0, -1.0)
    t.apply_all([g1], 0, 1)
    first = t.last_stats
    assert float(first["revisit"]) == 0.0 and math.isnan(float(first["stored_cos"]))
    assert math.isnan(float(first["stored_age"])) and math.isnan(float(first["table_age"]))
    assert float(first["table_paths"]) == 0.0
    # First step: out = g1 - 0 + mean(empty table, counted as 1 path of zeros) = g1.
    assert abs(float(first["norm_ratio"]) - 1.0) < TOL
    t.apply_all([g2], 1, 2)
    out = t.apply_all([g5], 0, 5)[0]
    s = t.last_stats
    expected_out = g5 - g1 + (g1 + g2) / 2
    assert torch.allclose(out, expected_out, rtol=0, atol=TOL)
    assert float(s["revisit"]) == 1.0
    assert abs(float(s["stored_cos"]) - _cos(g1, g5)) < TOL
    assert float(s["stored_age"]) == 4.0
    assert float(s["table_age"]) == 3.5
    assert float(s["table_paths"]) == 2.0
    assert abs(float(s["raw_norm"]) - float(g5.norm())) < TOL
    assert abs(float(s["out_norm"]) - float(expected_out.norm())) < TOL
    ratio = float(expected_out.norm() / g5.norm())
    assert abs(float(s["norm_ratio"]) - ratio) < TOL
    assert abs(float(s["hat_cos"]) - 1.0) < TOL  # no P-Adam: ĝ is the gradient
    assert abs(float(s["out_cos"]) - _cos(g5, expected_out)) < TOL


def test_fresh_vs_stale_entries():
    # A path whose gradient did not change since its last visit: cosine 1, and the SAGA
    # correction then cancels its own term (out = mean of the table). A reversed gradient
    # (a stale entry of a network that moved on): cosine -1.
    t = _saga_only(2)
    g = _vec(3.0, -1.0)
    t.apply_all([g], 0, 1)
    t.apply_all([g], 0, 2)
    assert abs(float(t.last_stats["stored_cos"]) - 1.0) < TOL
    t.apply_all([-g], 0, 3)
    assert abs(float(t.last_stats["stored_cos"]) + 1.0) < TOL
    assert float(t.last_stats["stored_age"]) == 1.0


def test_with_p_adam_the_cosine_is_of_p_adam_outputs():
    # Reference: the outputs of a P-Adam-only transform on the same gradients are the ĝ that
    # P-SAGA stores, so the cosine of path 0's two outputs is the statistic at its revisit.
    steps = [(0, _vec(1.0, -2.0, 0.5)), (1, _vec(0.3, 0.1, 0.2)), (0, _vec(-1.0, 3.0, 0.4))]
    adam = PathwiseGradientTransform(2, use_p_adam=True, use_p_saga=False)
    full = PathwiseGradientTransform(2, use_p_adam=True, use_p_saga=True)
    adam.record_stats = full.record_stats = True
    outs = []
    for k, (p, g) in enumerate(steps, start=1):
        outs.append(adam.apply_all([g * 1e-7], p, k)[0])
        full.apply_all([g * 1e-7], p, k)
        # P-Adam alone hands its output on unchanged: ratio 1, no table.
        assert abs(float(adam.last_stats["norm_ratio"]) - 1.0) < TOL
        assert math.isnan(float(adam.last_stats["stored_cos"]))
    s = full.last_stats
    assert abs(float(s["stored_cos"]) - _cos(outs[0], outs[2])) < TOL
    assert abs(float(s["hat_cos"]) - _cos(steps[2][1], outs[2])) < TOL
    assert abs(float(s["raw_norm"]) - float(outs[2].norm())) < TOL
    assert float(s["stored_age"]) == 2.0


def test_ages_start_from_p_adam_record_when_switched_on_late():
    t = PathwiseGradientTransform(2, use_p_adam=True, use_p_saga=True)
    t.apply_all([_vec(1.0, 2.0)], 0, 1)
    t.apply_all([_vec(2.0, 1.0)], 1, 3)
    t.record_stats = True
    t.apply_all([_vec(1.0, 1.0)], 0, 7)
    assert float(t.last_stats["stored_age"]) == 6.0
    assert float(t.last_stats["table_age"]) == (6.0 + 4.0) / 2


def test_non_finite_step_gives_nan_and_keeps_ages():
    t = _saga_only(2)
    t.apply_all([_vec(1.0, 2.0)], 0, 1)
    t.apply_all([_vec(float("inf"), 2.0)], 0, 2)
    assert all(math.isnan(float(v)) for v in t.last_stats.values())
    t.apply_all([_vec(1.0, 1.0)], 0, 4)
    assert float(t.last_stats["stored_age"]) == 3.0  # the skipped step stored nothing


def test_missing_parameter_is_left_out_of_the_norms():
    t = PathwiseGradientTransform(2, use_p_adam=False, use_p_saga=True)
    t.record_stats = True
    a, b = _vec(1.0, 0.0), _vec(0.0, 2.0, 2.0)
    t.apply_all([a, b], 0, 1)
    t.apply_all([None, b * 2], 0, 2)
    s = t.last_stats
    assert abs(float(s["raw_norm"]) - float((b * 2).norm())) < TOL
    assert abs(float(s["stored_cos"]) - 1.0) < TOL
