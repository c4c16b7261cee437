"""RunModelCheckpoint's restore into another folder (the training tests: test_run_folders.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from experiments.callbacks.model_checkpoint import RunModelCheckpoint


def _state(old: Path, scores: dict[str, float], monitor: str | None = "val/loss") -> dict:
    tracked = {
        str(old / name): torch.tensor(score, dtype=torch.float64) for name, score in scores.items()
    }
    best = min(tracked, key=tracked.__getitem__) if tracked else ""
    return {"monitor": monitor, "best_model_score": tracked.get(best), "best_model_path": best,
            "current_score": None, "dirpath": str(old), "best_k_models": tracked,
            "kth_best_model_path": max(tracked, key=tracked.__getitem__) if tracked else "",
            "kth_value": max(tracked.values()) if tracked else None,
            "last_model_path": ""}  # fmt: skip


def _checkpoints(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(f"weights of {name}".encode())


def test_best_k_and_scores_follow_into_the_new_folder(tmp_path) -> None:
    old, new = tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints"
    _checkpoints(old, ["best-epoch003.ckpt", "best-epoch001.ckpt"])
    ckpt = RunModelCheckpoint(dirpath=new, monitor="val/loss", mode="min", save_top_k=2)
    assert ckpt.state_key.startswith("ModelCheckpoint{")  # readable by Lightning's class
    ckpt.load_state_dict(_state(old, {"best-epoch003.ckpt": 0.3, "best-epoch001.ckpt": 0.5}))
    assert ckpt.best_model_path == str(new / "best-epoch003.ckpt")
    assert float(ckpt.best_model_score) == 0.3
    assert (ckpt.kth_best_model_path, float(ckpt.kth_value)) == (
        str(new / "best-epoch001.ckpt"),
        0.5,
    )
    assert {Path(p).name: float(v) for p, v in ckpt.best_k_models.items()} == {
        "best-epoch003.ckpt": 0.3, "best-epoch001.ckpt": 0.5
    }  # fmt: skip
    for name in ("best-epoch003.ckpt", "best-epoch001.ckpt"):
        assert (new / name).read_bytes() == (old / name).read_bytes()
        assert (old / name).is_file()  # the origin keeps its files


def test_missing_files_are_dropped_with_a_warning_or_found_in_a_moved_folder(
    tmp_path, caplog
) -> None:
    old, new = tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints"
    _checkpoints(old, ["best-epoch001.ckpt"])
    ckpt = RunModelCheckpoint(dirpath=new, monitor="val/loss", mode="max", save_top_k=2)
    with caplog.at_level(logging.WARNING):
        ckpt.load_state_dict(_state(old, {"best-epoch000.ckpt": 0.9, "best-epoch001.ckpt": 0.5}))
    assert "best-epoch000.ckpt" in caplog.text and "forgets its score" in caplog.text
    assert list(ckpt.best_k_models) == [str(new / "best-epoch001.ckpt")]
    # A run folder moved since it wrote the checkpoint: its own files are where it is now.
    moved = tmp_path / "moved" / "checkpoints"
    _checkpoints(moved, ["best-epoch001.ckpt"])
    again = RunModelCheckpoint(dirpath=moved, monitor="val/loss", mode="min", save_top_k=1)
    again.load_state_dict(_state(tmp_path / "gone", {"best-epoch001.ckpt": 0.5}))
    assert again.best_model_path == str(moved / "best-epoch001.ckpt")


def test_last_checkpoint_of_another_folder_is_not_tracked(tmp_path) -> None:
    old, new = tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints"
    _checkpoints(old, ["last.ckpt"])
    last = RunModelCheckpoint(dirpath=new, filename="last", monitor=None, save_top_k=1)
    state = _state(old, {"last.ckpt": 0.0}, monitor=None)
    last.load_state_dict(state)
    assert last.best_model_path == "" and last.best_k_models == {}
    assert not new.exists()
