"""The end-versus-best validation metrics and the P-SAGA statistics' means of a run."""

from __future__ import annotations

import math

import pytest
from run_fixtures import lightning_rows, write_run

from experiments.analysis.chains import chain_runs
from experiments.analysis.run_folder import read_runs
from experiments.analysis.run_metrics import run_metrics


def _metrics(tmp_path, rows):
    write_run(tmp_path, rows=rows)
    (chain,), _, _ = chain_runs(read_runs(tmp_path)[0])
    return run_metrics(chain)


def test_end_gap_and_pathwise_means(tmp_path) -> None:
    rows = lightning_rows([300.0, 160.0, 200.0], {"test/theta_l1": 170.0})
    train = [r for r in rows if "train/loss" in r]
    # Four training steps: a first visit (no cosine), then three revisits.
    for row, cos, ratio in zip(train, [math.nan, 0.5, 0.25, -0.15], [1.0, 2.0, 3.0, 2.0],
                               strict=True):  # fmt: skip
        row.update({"pathwise/stored_cos": cos, "pathwise/norm_ratio": ratio})
    m = _metrics(tmp_path, rows)
    assert m["val_best"] == 160.0 and m["val_last"] == 200.0
    assert m["val_end_gap_pct"] == pytest.approx(25.0)  # (200 − 160) / 160
    # Fewer than 10 validations: all of them; population sd of 300, 160, 200.
    assert m["val_tail_sd"] == pytest.approx(((80**2 + 60**2 + 20**2) / 3) ** 0.5)
    assert m["pathwise_stored_cos_mean"] == pytest.approx(0.2)  # NaN left out: 0.6 / 3
    assert m["pathwise_norm_ratio_mean"] == pytest.approx(2.0)
    assert "pathwise_stored_age_mean" not in m  # not logged


def test_run_ending_at_its_best(tmp_path) -> None:
    m = _metrics(tmp_path, lightning_rows([300.0, 200.0, 150.0], {"test/theta_l1": 150.0}))
    assert m["val_end_gap_pct"] == 0.0 and "pathwise_norm_ratio_mean" not in m
