"""Reading metrics.csv: the validation-step rule, last values, malformed files."""

from __future__ import annotations

import pytest
from run_fixtures import lightning_rows, write_metrics

from experiments.analysis.errors import RunFolderError
from experiments.analysis.metrics_csv import (
    last_values,
    read_metrics_csv,
    train_values,
    validation_curve,
)


def test_validation_steps_follow_lightning(tmp_path) -> None:
    # 2 steps per epoch: pre-fit validation after 0 steps, then after 2, 4 and 6 steps,
    # although Lightning logs the fit validations at steps 1, 3 and 5.
    rows = lightning_rows([300.0, 200.0, 120.0, 90.0], {"test/theta_l1": 95.0}, step_time=0.5)
    write_metrics(tmp_path / "metrics.csv", rows)
    table = read_metrics_csv(tmp_path / "metrics.csv")
    assert [r["step"] for r in table.rows if "val/theta_l1" in r] == [0, 1, 3, 5]
    assert validation_curve(table) == [(0, 300.0), (2, 200.0), (4, 120.0), (6, 90.0)]
    assert last_values(table, "test/") == {"test/theta_l1": 95.0}
    assert [t for _, t in train_values(table, "time/train_s")] == [0.5 * k for k in range(1, 7)]


def test_validation_without_prefit(tmp_path) -> None:
    rows = lightning_rows([999.0, 200.0, 120.0], None, steps_per_epoch=3, prefit=False)
    write_metrics(tmp_path / "metrics.csv", rows)
    assert validation_curve(read_metrics_csv(tmp_path / "metrics.csv")) == [
        (3, 999.0), (6, 200.0), (9, 120.0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "metrics.csv is empty"),
        ("epoch,loss\n0,1.0\n", "no 'step' column"),
        ("epoch,step,val/loss\n0,0,abc\n", "line 2, column 'val/loss': 'abc' is not a number"),
        ("epoch,step,val/loss\n0,0,1.0\n0,1\n", "line 3 has 2 cells, the header 3"),
        ("epoch,step,val/loss\n0,1.5,1.0\n", "step must be an integer"),
    ],
)
def test_malformed_metrics(tmp_path, text, message) -> None:
    (tmp_path / "metrics.csv").write_text(text)
    with pytest.raises(RunFolderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_metrics_csv(tmp_path / "metrics.csv")
