"""Exact resume from a checkpoint written in the middle of an epoch (StepCheckpoint).

Run A trains 4 steps of an epoch of 11 (data.batch_size=2 on the tiny grid); run B trains 2
and writes last.ckpt there (every_n_train_steps=2); run C resumes B's file up to step 4 in a
new folder. C's weights, optimizer, RNG and SCRAPL state equal A's bit for bit, and C trained
exactly the batches 3-4 of A (same losses, same paths).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import (
    STEP_CHECKPOINT_FIT,
    assert_same,
    load_ckpt,
    load_train_script,
    short_warmup,
    train_in_folder,
)
from hydra.core.global_hydra import GlobalHydra

RUN = [
    *STEP_CHECKPOINT_FIT,
    "data.batch_size=2",
    "trainer.max_epochs=1",
    "callbacks.last_checkpoint_steps.every_n_train_steps=2",
]


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("train/loss")]


@pytest.mark.parametrize("loss", ["scrapl", "mss_linear"])
def test_mid_epoch_resume_is_bit_identical(loss, tmp_path) -> None:
    train_fn = load_train_script().train
    overrides = [*RUN, f"loss={loss}"]
    if loss == "scrapl":
        overrides += short_warmup(tmp_path / "theta_is")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    try:
        train_in_folder([*overrides, "trainer.max_steps=4"], a, train_fn)
        train_in_folder([*overrides, "trainer.max_steps=2"], b, train_fn)
        ckpt_b = load_ckpt(b / "checkpoints" / "last.ckpt")
        assert (ckpt_b["epoch"], ckpt_b["global_step"]) == (0, 2)
        assert ckpt_b["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
            {"epoch": 0, "consumed": 4}
        ]
        resume = [f"ckpt_path='{b / 'checkpoints' / 'last.ckpt'}'", "trainer.max_steps=4"]
        train_in_folder([*overrides, *resume], c, train_fn)
    finally:
        GlobalHydra.instance().clear()
    ckpt_a = load_ckpt(a / "checkpoints" / "last.ckpt")
    ckpt_c = load_ckpt(c / "checkpoints" / "last.ckpt")
    assert ckpt_a["global_step"] == ckpt_c["global_step"] == 4
    assert ckpt_a["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 0, "consumed": 8}
    ]
    # The epoch has more than 10 steps: these are mid-epoch checkpoints.
    n_batches = 22 // 2
    assert n_batches >= 10
    # C trained steps 3 and 4 only, with A's losses (the same batches, paths and weights).
    rows_a, rows_c = _rows(a), _rows(c)
    assert [r["step"] for r in rows_c] == ["2", "3"]
    assert [r["train/loss"] for r in rows_c] == [r["train/loss"] for r in rows_a[2:]]
    # Weights and, for SCRAPL, the loss state (sampler, P-Adam / P-SAGA), bit for bit.
    assert_same(ckpt_a["state_dict"], ckpt_c["state_dict"], "state_dict")
    assert_same(ckpt_a["optimizer_states"], ckpt_c["optimizer_states"], "optimizer_states")
    assert_same(ckpt_a["rng_state"], ckpt_c["rng_state"], "rng_state")
    if loss == "scrapl":
        extra = ckpt_c["state_dict"]["loss._extra_state"]
        assert extra["step"] == 4 and sum(extra["path_counts"].values()) == 4
