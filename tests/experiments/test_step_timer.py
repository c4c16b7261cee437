"""StepTimer: per-step seconds, their running sum and the time before the first step in
metrics.csv, kept across resume."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import FAST_RUN

from experiments.callbacks.step_timer import StepTimer


def test_state_round_trip() -> None:
    timer = StepTimer()
    timer.train_s, timer.warmup_s = 12.5, 3.25
    again = StepTimer()
    again.load_state_dict(timer.state_dict())
    assert (again.train_s, again.warmup_s) == (12.5, 3.25)
    again.load_state_dict({"train_s": 1.0})  # a checkpoint from before time/warmup_s
    assert again.warmup_s is None


def test_logged_times_and_checkpoint(run_train, tmp_path) -> None:
    run = tmp_path / "run"
    overrides = [*FAST_RUN, "loss=ploss", "callbacks=[last_checkpoint,step_timer]"]
    run_train([*overrides, "trainer.max_epochs=2"], run)
    with open(run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["train/loss"] != ""]
    assert len(rows) == 4  # 2 epochs x 2 steps, every one timed
    steps = [float(r["time/step_s"]) for r in rows]
    totals = [float(r["time/train_s"]) for r in rows]
    assert all(0 < s < 60 for s in steps)
    assert totals == pytest.approx([sum(steps[: i + 1]) for i in range(4)], rel=1e-5)
    # The time before the first step: once per fit, the same on every row.
    warmups = {float(r["time/warmup_s"]) for r in rows}
    assert len(warmups) == 1 and 0 < next(iter(warmups)) < 600
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("StepTimer")]
    assert state["train_s"] == pytest.approx(totals[-1], rel=1e-5)

    # Resumed: the running sum continues from the checkpoint's.
    resumed = tmp_path / "resumed"
    run_train([*overrides, "trainer.max_epochs=3", f"ckpt_path={run}/checkpoints/last.ckpt"],
              resumed)  # fmt: skip
    with open(resumed / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/loss", "") != ""]
    assert len(rows) == 2
    assert {float(r["time/warmup_s"]) for r in rows} == warmups  # the first fit's, kept
    first = float(rows[0]["time/train_s"])
    assert first == pytest.approx(totals[-1] + float(rows[0]["time/step_s"]), rel=1e-5)
