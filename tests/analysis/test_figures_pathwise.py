"""Epoch means of the P-SAGA statistics and their figure."""

from __future__ import annotations

import math

import pytest
from run_fixtures import lightning_rows, write_metrics

from experiments.analysis.figures_pathwise import PANELS, epoch_means, pathwise_figure
from experiments.analysis.metrics_csv import read_metrics_csv


def _table(tmp_path):
    rows = lightning_rows([300.0, 250.0, 200.0], {"test/theta_l1": 190.0})
    train = [r for r in rows if "train/loss" in r]
    for row, cos in zip(train, [math.nan, 0.4, 0.6, 0.8], strict=True):
        row["pathwise/stored_cos"] = cos
    write_metrics(tmp_path / "metrics.csv", rows)
    return read_metrics_csv(tmp_path / "metrics.csv")


def test_epoch_means(tmp_path) -> None:
    table = _table(tmp_path)
    # Epoch 0: the NaN of a first visit left out (0.4 alone); epoch 1: (0.6 + 0.8) / 2.
    assert epoch_means(table, "pathwise/stored_cos") == [(0, 0.4), (1, pytest.approx(0.7))]
    # Validation: one value per epoch, the pre-fit validation left out.
    assert epoch_means(table, "val/theta_l1", rows="val") == [(0, 250.0), (1, 200.0)]
    assert epoch_means(table, "pathwise/norm_ratio") == []
    with pytest.raises(ValueError, match="rows"):
        epoch_means(table, "val/theta_l1", rows="test")


def test_figure_has_a_panel_per_quantity(tmp_path) -> None:
    fig = pathwise_figure([("a", _table(tmp_path))], title="t")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [name for _, name, _ in PANELS]
    cos_axis = fig.axes[[c for c, _, _ in PANELS].index("pathwise/stored_cos")]
    assert len(cos_axis.lines) == 1 and list(cos_axis.lines[0].get_ydata()) == [0.4, 0.7]
    with pytest.raises(ValueError, match="runs"):
        pathwise_figure([])
