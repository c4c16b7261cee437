"""Resumed runs joined to their origins; partial histories refused."""

from __future__ import annotations

import pytest
from run_fixtures import lightning_rows, write_run

from experiments.analysis.chains import chain_runs, check_complete
from experiments.analysis.errors import RunFolderError
from experiments.analysis.metrics_csv import validation_curve
from experiments.analysis.run_folder import read_runs
from experiments.analysis.run_metrics import run_metrics


def _resumed_pair(tmp_path, key: str = "resumed_from"):
    # A: 4 epochs planned, killed after epoch 1 (and part of epoch 2, which B redoes).
    rows_a = lightning_rows([300.0, 250.0, 180.0], None)
    rows_a.append({"epoch": 2, "step": 4, "train/loss": 1.0})
    a = write_run(tmp_path, seed=0, name="2026-01-01_00-00-00_seed0", rows=rows_a,
                  val=[0.0] * 5)  # fmt: skip
    # B resumed from A's last.ckpt (end of epoch 1, step 4): epochs 2 and 3, then the test.
    rows_b = lightning_rows([120.0, 80.0], {"test/theta_l1": 77.0}, prefit=False, first_epoch=2)
    ckpt = f"out/granular/scrapl/{a.name}/checkpoints/last.ckpt"  # relative, as typed
    b = write_run(tmp_path, seed=0, name="2026-01-02_00-00-00_seed0", rows=rows_b,
                  val=[0.0] * 5, config={key: ckpt, "validate_before_fit": True})  # fmt: skip
    return a, b


@pytest.mark.parametrize("key", ["resumed_from", "ckpt_path"])
def test_resumed_run_is_joined(tmp_path, key) -> None:
    a, b = _resumed_pair(tmp_path, key)
    runs, _ = read_runs(tmp_path)
    chains, skipped, notes = chain_runs(runs)
    assert skipped == [] and notes == [] and len(chains) == 1
    (chain,) = chains
    assert [r.path for r in chain.runs] == [a, b]
    assert validation_curve(chain.metrics) == [
        (0, 300.0), (2, 250.0), (4, 180.0), (6, 120.0), (8, 80.0),
    ]  # fmt: skip
    check_complete(chain)
    metrics = run_metrics(chain)
    assert metrics["test/theta_l1"] == 77.0 and metrics["convergence_step"] == 8
    assert metrics["val_total_variation"] == pytest.approx((50 + 70 + 60 + 40) / 5)
    assert "wall_time_s" not in metrics  # no summary.json
    # The wall time of the history is the sum over its runs, once every run has one.
    (a / "summary.json").write_text('{"wall_time_s": 12.5}')
    assert "wall_time_s" not in run_metrics(chain_runs(read_runs(tmp_path)[0])[0][0])
    (b / "summary.json").write_text('{"wall_time_s": 30.0, "test/theta_l1": 77.0}')
    (chain,) = chain_runs(read_runs(tmp_path)[0])[0]
    assert run_metrics(chain)["wall_time_s"] == 42.5


def test_unreadable_summary_json_is_reported(tmp_path) -> None:
    run = write_run(tmp_path)
    (run / "summary.json").write_text("{not json")
    runs, skipped = read_runs(tmp_path)
    assert runs == [] and "summary.json cannot be read" in skipped[0].reason


def test_origin_alone_is_partial(tmp_path) -> None:
    a, b = _resumed_pair(tmp_path)
    runs, _ = read_runs(tmp_path)
    chains, _, _ = chain_runs([r for r in runs if r.path == a])
    with pytest.raises(RunFolderError, match="partial: trained 3 of trainer.max_epochs=4"):
        check_complete(chains[0])
    chains, _, notes = chain_runs([r for r in runs if r.path == b])
    assert len(chains) == 1 and "not among the runs read" in notes[0]


def test_two_continuations_keep_the_later(tmp_path) -> None:
    a, b = _resumed_pair(tmp_path)
    rows = lightning_rows([110.0, 70.0], {"test/theta_l1": 60.0}, prefit=False, first_epoch=2)
    c = write_run(tmp_path, seed=0, name="2026-01-03_00-00-00_seed0", rows=rows, val=[0.0] * 5,
                  config={"resumed_from": str(a / "checkpoints" / "last.ckpt")})  # fmt: skip
    runs, _ = read_runs(tmp_path)
    chains, skipped, _ = chain_runs(runs)
    assert [[r.path for r in ch.runs] for ch in chains] == [[a, c]]
    assert [s.path for s in skipped] == [b] and "resumed the same run later" in skipped[0].reason


def test_missing_test_row_is_partial(tmp_path) -> None:
    write_run(tmp_path, rows=lightning_rows([300.0, 200.0, 100.0, 90.0], None))
    (chain,), _, _ = chain_runs(read_runs(tmp_path)[0])
    with pytest.raises(RunFolderError, match="test=true but metrics.csv has no test row"):
        check_complete(chain)


def test_max_steps_and_no_training(tmp_path) -> None:
    write_run(tmp_path, config={"trainer": {"max_steps": 10}})  # 6 steps logged
    write_run(tmp_path, seed=1, rows=[{"epoch": 0, "step": 0, "val/theta_l1": 300.0}])
    c1, c2 = chain_runs(read_runs(tmp_path)[0])[0]
    with pytest.raises(RunFolderError, match="trained 6 of trainer.max_steps=10 steps"):
        check_complete(c1)
    with pytest.raises(RunFolderError, match="holds no training step"):
        check_complete(c2)
