"""PathwiseStats: P-SAGA staleness and π's entropy in metrics.csv, opt-in."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from conftest import FAST_RUN

from experiments.callbacks.pathwise_stats import PathwiseStats, probs_entropy


def test_probs_entropy_hand_values() -> None:
    assert probs_entropy(torch.full((8,), 1 / 8)) == pytest.approx((1.0, 8.0), rel=1e-12)
    # Two of four paths, each 1/2: H = log 2, half the uniform's log 4.
    assert probs_entropy(torch.tensor([0.5, 0.0, 0.5, 0.0])) == pytest.approx((0.5, 2.0))
    assert probs_entropy(torch.tensor([1.0])) == (1.0, 1.0)
    with pytest.raises(ValueError, match="probs"):
        probs_entropy(torch.ones(2, 2))


def test_every_n_steps_checked() -> None:
    with pytest.raises(ValueError, match="every_n_steps"):
        PathwiseStats(every_n_steps=0)


def _rows(run):
    with open(run / "metrics.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("train/loss", "") != ""]


def test_logged_with_scrapl(run_train, tmp_path) -> None:
    run = tmp_path / "run"
    callbacks = "callbacks=[last_checkpoint,pathwise_stats]"
    overrides = [*FAST_RUN, "loss=scrapl_no_theta_is", callbacks, "trainer.limit_train_batches=3"]
    # Six steps over 5 paths (J = 3, J_fr = 1): one at least revisits a path (pigeonhole).
    run_train([*overrides, "jtfs.J=3", "jtfs.J_fr=1", "trainer.max_epochs=2"], run)
    rows = _rows(run)
    assert len(rows) == 6
    first = rows[0]
    assert float(first["pathwise/revisit"]) == 0.0
    assert float(first["pathwise/norm_ratio"]) == pytest.approx(1.0, rel=1e-6)
    assert float(first["theta_is/entropy"]) == pytest.approx(1.0)  # uniform sampling
    revisits = [r for r in rows if float(r["pathwise/revisit"]) == 1.0]
    assert revisits, "no revisit in six steps over five paths"
    for r in revisits:
        assert -1.0 <= float(r["pathwise/stored_cos"]) <= 1.0
        assert float(r["pathwise/stored_age"]) >= 1.0
    for r in rows:
        paths = float(r["pathwise/table_paths"])
        assert paths <= 5 and (paths == 0) == math.isnan(float(r["pathwise/table_age"]))


def test_other_losses_skipped(run_train, tmp_path) -> None:
    run = tmp_path / "run"
    run_train([*FAST_RUN, "loss=ploss", "callbacks=[pathwise_stats]"], run)
    assert not any(k.startswith("pathwise/") for k in _rows(run)[0])
