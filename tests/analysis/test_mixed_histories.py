"""Histories that are not one run's are reported, not averaged, by every analysis script; a
run continued in its own folder is one run; a run without metrics.csv is skipped saying why."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from run_fixtures import lightning_rows, write_metrics, write_run

from experiments.analysis.errors import RunFolderError
from experiments.analysis.metrics_csv import MetricsTable, one_history, read_metrics_csv
from experiments.analysis.results_doc import build_document

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _interleaved(a: list[dict], b: list[dict], lag: int = 3) -> list[dict]:
    """Two runs' rows as one file receives them when ``b`` starts ``lag`` rows after ``a``."""
    out = a[:lag]
    for i in range(max(len(a) - lag, len(b))):
        out += a[lag + i : lag + i + 1] + b[i : i + 1]
    return out


def _table(steps: list[int]) -> MetricsTable:
    return MetricsTable(
        ("step", "x"), tuple({"step": s, "x": float(i)} for i, s in enumerate(steps))
    )


def test_one_history() -> None:
    assert one_history(_table([0, 0, 1, 1, 2])).rows == _table([0, 0, 1, 1, 2]).rows
    with pytest.raises(RunFolderError, match="row 4: the step goes back from 2 to 1 outside a"):
        one_history(_table([0, 1, 2, 1, 2]))
    # Back to a recorded in-place resume (a file not cut back): the rows from that step on
    # before it are replaced by the resumed ones.
    kept = one_history(_table([0, 1, 2, 3, 2, 3, 4]), resumed_at=[2])
    assert [(r["step"], r["x"]) for r in kept.rows] == [(0, 0), (1, 1), (2, 4), (3, 5), (4, 6)]
    with pytest.raises(RunFolderError, match="from 3 to 1"):
        one_history(_table([0, 1, 2, 3, 1]), resumed_at=[2])


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "runs"
    for seed in (0, 1):
        write_run(root, seed=seed)
    # Seed 2, continued in its own folder after step 3: recorded, one history.
    write_run(root, seed=2, config={"resumed_in_place": [{"global_step": 3, "epoch": 1}],
                                    "auto_resume": True})  # fmt: skip
    # Two runs that landed in one folder (seeds 3, lr 1e-3 and 1e-4): config.yaml of one,
    # metrics.csv of both.
    mixed = write_run(root, seed=3, name="2026-01-01_00-00-03_seed3")
    one = lightning_rows([300.0, 200.0, 120.0, 90.0], {"test/theta_l1": 103.0})
    other = lightning_rows([310.0, 250.0, 220.0, 190.0], {"test/theta_l1": 160.0})
    write_metrics(mixed / "metrics.csv", _interleaved(one, other))
    # Trained with TensorBoard only.
    tb = write_run(root, seed=4, config={"logger": {"csv": None, "tensorboard": {"x": 1}}})
    (tb / "metrics.csv").unlink()
    return root


def test_aggregate_plot_and_results_doc_report_them(root, tmp_path, capsys) -> None:
    mixed_reason = "outside a recorded resume, so two runs wrote into this folder"
    tb_reason = "no metrics.csv: trained without the CSV logger (loggers: tensorboard"
    with pytest.raises(RunFolderError, match="row 5: the step goes back from 1 to 0"):
        one_history(
            read_metrics_csv(root / "granular/scrapl/2026-01-01_00-00-03_seed3/metrics.csv")
        )

    assert _script("aggregate")([str(root), "--out", str(tmp_path / "tables")]) == 0
    report = capsys.readouterr().out
    assert "granular / scrapl: 3 runs (seeds 0, 1, 2)" in report
    assert mixed_reason in report and tb_reason in report

    assert _script("plot")([str(root), "--out", str(tmp_path / "figures"), "--formats", "png"]) == 0
    report = capsys.readouterr().out
    assert "3 runs (seeds 0, 1, 2)" in report and mixed_reason in report and tb_reason in report

    spec = {"sections": [{"title": "t", "runs": "runs", "experiment": "granular",
                          "metrics": ["test/theta_l1"]}]}  # fmt: skip
    text = build_document(spec, root.parent)
    assert "| scrapl | 0, 1, 2 |" in text
    assert mixed_reason in text and tb_reason in text
