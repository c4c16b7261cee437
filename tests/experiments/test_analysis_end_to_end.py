"""Two real tiny training runs, aggregated and plotted by scripts/aggregate.py and plot.py."""

from __future__ import annotations

import csv
import importlib.util
import math

import pytest
from conftest import FAST_RUN, ROOT


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_aggregate_plot(run_train, tmp_path) -> None:
    out = tmp_path / "out"
    overrides = [*FAST_RUN, "loss=ploss", "test=true", "validate_before_fit=true"]
    overrides += ["callbacks=[model_checkpoint,last_checkpoint,step_timer]"]
    tested = {}
    for seed in (0, 1):
        run = out / "granular" / "ploss" / f"2026-01-01_00-00-00_seed{seed}"
        metrics, _ = run_train([*overrides, f"seed={seed}"], run)
        tested[seed] = metrics["test/theta_l1"]

    assert _script("aggregate").main([str(out), "--pairs", "ploss:ploss"]) == 0
    with open(out / "summary.csv", newline="") as f:
        rows = {r["metric"]: r for r in csv.DictReader(f)}
    theta = rows["test/theta_l1"]
    assert (theta["experiment"], theta["loss"], theta["n"]) == ("granular", "ploss", "2")
    mean = (tested[0] + tested[1]) / 2
    assert float(theta["mean"]) == pytest.approx(mean, rel=1e-6)
    ci = 1.96 * abs(tested[0] - tested[1]) / 2 / math.sqrt(2)  # std(ddof=0) of two values
    assert float(theta["ci95"]) == pytest.approx(ci, rel=1e-5)
    expected = {"test/theta_l1_density", "test/theta_l1_slope", "test/loss", "step_time_s"}
    assert expected | {"val_total_variation", "convergence_step"} <= set(rows)
    assert 0 < float(rows["step_time_s"]["mean"]) < 60
    assert 0 < float(rows["wall_time_s"]["mean"]) < 600  # from the runs' summary.json
    report = (out / "report.txt").read_text()
    assert "granular / ploss: 2 runs (seeds 0, 1)" in report and "skipped folders: 0" in report
    converged = int(rows["convergence_step"]["n"])
    assert converged == 2 or f"{2 - converged} of 2 runs never reached" in report

    assert _script("plot").main([str(out), "--formats", "png"]) == 0
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == [
        "granular_error_vs_cost.png",
        "granular_val_curves_steps.png",
        "granular_val_curves_time.png",
    ]
