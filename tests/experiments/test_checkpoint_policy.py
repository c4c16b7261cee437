"""What checkpoints hold of the P-Adam/P-SAGA state and when last.ckpt is written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import load_ckpt, load_train_script, short_warmup, train_in_folder
from hydra.core.global_hydra import GlobalHydra

from experiments.checkpoint_io import AtomicCheckpointIO
from experiments.checkpoint_policy import (
    OMITTED,
    cadence_steps,
    has_omitted_pathwise,
    omit_pathwise,
    store_pathwise_as,
)
from experiments.checkpoints import read_resume_checkpoint

# preset=tiny: 2 epochs of 2 steps with validation, the best-k file and last.ckpt.
RUN = [
    "preset=tiny",
    "loss=scrapl",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "validate_before_fit=false",
    "logger=csv",
    "callbacks=[model_checkpoint,last_checkpoint]",
    "trainer.enable_progress_bar=false",
]


def _fit(tmp_path, name: str, extra: list[str] = ()):
    run = tmp_path / name
    try:
        train_in_folder(
            [*RUN, *short_warmup(tmp_path / "cache"), *extra], run, load_train_script().train
        )
    finally:
        GlobalHydra.instance().clear()
    return run / "checkpoints"


def _pathwise(ckpt: dict) -> object:
    return ckpt["state_dict"]["loss._extra_state"]["pathwise"]


def _float_tensors(obj: object) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj] if obj.is_floating_point() else []
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _float_tensors(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _float_tensors(v)]
    return []


def test_best_k_without_pathwise_state_tests_but_does_not_resume(tmp_path):
    folder = _fit(tmp_path, "run")  # test=true: the best checkpoint is tested
    (best,) = folder.glob("best-epoch*.ckpt")
    best_ckpt, last_ckpt = load_ckpt(best), load_ckpt(folder / "last.ckpt")
    assert _pathwise(best_ckpt) == OMITTED and has_omitted_pathwise(best_ckpt)
    assert _float_tensors(_pathwise(last_ckpt))  # the full state is in last.ckpt
    # Everything else of the loss (π, sampler, counts) is in both.
    for key in ("sampler", "path_counts", "step"):
        assert key in best_ckpt["state_dict"]["loss._extra_state"]
    assert best.stat().st_size < (folder / "last.ckpt").stat().st_size
    assert (folder.parent / "summary.json").is_file()  # the test of the best file ran
    with pytest.raises(ValueError, match="no P-Adam/P-SAGA state.*last.ckpt"):
        read_resume_checkpoint(best)
    read_resume_checkpoint(folder / "last.ckpt")


def test_reduced_precision_storage_and_resume(tmp_path):
    folder = _fit(tmp_path, "bf16", ["checkpoint.pathwise_dtype=bfloat16", "test=false"])
    stored = _float_tensors(_pathwise(load_ckpt(folder / "last.ckpt")))
    assert stored and {t.dtype for t in stored} == {torch.bfloat16}
    # A run resumes from it (the loss converts back to its own storage dtype).
    resumed = _fit(
        tmp_path, "resumed",
        [f"ckpt_path='{folder / 'last.ckpt'}'", "trainer.max_epochs=3", "test=false"],
    )  # fmt: skip
    assert load_ckpt(resumed / "last.ckpt")["epoch"] == 2


def test_last_checkpoint_only_at_the_last_epoch_and_every_n_steps(tmp_path, monkeypatch):
    # 2-step epochs, 4 epochs, a step file every 3 steps and no epoch-end file but the last:
    # step 3 (mid-epoch), step 6 (an epoch's last batch, no epoch-end file: written after
    # step 7), step 8 (the last epoch's end).
    written = []
    real = AtomicCheckpointIO.save_checkpoint

    def recording(self, checkpoint, path, storage_options=None):
        written.append((Path(path).name, checkpoint["global_step"]))
        return real(self, checkpoint, path, storage_options)

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", recording)
    extra = [
        "trainer.max_epochs=4",
        "checkpoint.last_every_n_epochs=0",
        "checkpoint.last_every_n_steps=3",
        "callbacks=last_checkpoint",
        "test=false",
    ]
    folder = _fit(tmp_path, "cadence", extra)
    assert [s for name, s in written if name == "last.ckpt"] == [3, 7, 8]
    assert load_ckpt(folder / "last.ckpt")["global_step"] == 8


def test_omit_and_store_on_a_checkpoint_dict():
    def ckpt():
        pathwise = {"adam": [{"m": torch.ones(3), "tau": 1}], "count": torch.tensor([2])}
        return {"state_dict": {"loss._extra_state": {"pathwise": pathwise, "step": 4}}}

    c = ckpt()
    store_pathwise_as(c, "bfloat16")
    assert _pathwise(c)["adam"][0]["m"].dtype == torch.bfloat16
    assert _pathwise(c)["count"].dtype == torch.int64 and _pathwise(c)["adam"][0]["tau"] == 1
    assert omit_pathwise(c) and _pathwise(c) == OMITTED
    assert not omit_pathwise({"state_dict": {"encoder.w": torch.ones(1)}})  # no SCRAPL loss
    with pytest.raises(ValueError, match="pathwise_dtype must be one of"):
        store_pathwise_as(ckpt(), "int8")


@pytest.mark.parametrize("save_s,step_s,fraction", [(8.06, 0.0898, 0.05), (16.5, 0.0898, 0.05),
                                                    (1.0, 1.0, 1.0), (0.3, 0.1, 0.5)])  # fmt: skip
def test_cadence_is_the_fewest_steps_within_the_fraction(save_s, step_s, fraction):
    n = cadence_steps(save_s, step_s, fraction)
    assert save_s / (n * step_s) <= fraction * (1 + 1e-12)
    assert n == 1 or save_s / ((n - 1) * step_s) > fraction
    assert n == max(1, math.ceil(save_s / (fraction * step_s) - 1e-9))


def test_cadence_errors():
    with pytest.raises(ValueError, match="max_fraction"):
        cadence_steps(1.0, 0.1, 0.0)
    with pytest.raises(ValueError, match="step_s"):
        cadence_steps(1.0, float("nan"), 0.1)
