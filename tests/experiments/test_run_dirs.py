"""Run folder names and the check before a run writes into a folder (experiments.run_dirs),
on folders written here (the training tests: test_run_folders.py)."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
import yaml

from experiments.run_dirs import (
    RunFolderConflict,
    apply_start,
    new_run_name,
    plan_start,
)

CONFIG = {
    "seed": 0,
    "lr": 1e-3,
    "ckpt_path": None,
    "auto_resume": True,
    "trainer": {"max_epochs": 2, "enable_progress_bar": False},
    "logger": {"csv": {"save_dir": "<run>"}},
    "callbacks": {"last_checkpoint_steps": {"every_n_train_steps": 200}},
}


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative path -> sha256 of its bytes)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_run(folder: Path, config: dict, files: tuple[str, ...] = ("metrics.csv",)) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    for name in files:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name} of the earlier attempt\n")
    return folder


def test_run_names_sort_by_time_and_differ_within_a_millisecond() -> None:
    t = int(time.mktime((2026, 5, 1, 12, 30, 45, 0, 0, -1))) * 10**9 + 123_456_789
    assert new_run_name(t, pid=4567, suffix="3fa2") == "2026-05-01_12-30-45.123_p4567-3fa2"
    later = new_run_name(t + 10**6, pid=1, suffix="0000")
    assert sorted([later, new_run_name(t, 99999, "ffff")])[1] == later
    # Same millisecond, same process: the suffix (16 random bits) tells them apart.
    names = {new_run_name(t, pid=4567) for _ in range(64)}
    assert len(names) > 50
    assert all(re.fullmatch(r"2026-05-01_12-30-45\.123_p4567-[0-9a-f]{4}", n) for n in names)


def test_an_empty_folder_or_one_with_hydras_files_only_is_a_fresh_start(tmp_path) -> None:
    assert plan_start(tmp_path / "missing", CONFIG, True).kind == "fresh"
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("lr: 1\n")
    (tmp_path / "train.log").write_text("a start that failed before writing anything\n")
    (tmp_path / "checkpoints").mkdir()
    assert plan_start(tmp_path, CONFIG, False).kind == "fresh"


@pytest.mark.parametrize("auto_resume", [True, False])
def test_another_runs_folder_is_refused_and_left_unchanged(tmp_path, auto_resume) -> None:
    run = write_run(
        tmp_path / "run", CONFIG, ("metrics.csv", "summary.json", "checkpoints/last.ckpt")
    )
    before = folder_digest(run)
    other = {**CONFIG, "lr": 1e-4, "trainer": {**CONFIG["trainer"], "max_epochs": 3}}
    with pytest.raises(RunFolderConflict) as err:
        plan_start(run, other, auto_resume)
    message = str(err.value)
    assert str(run) in message and "holds another run" in message
    assert "lr: 0.001 there, 0.0001 in this run" in message
    assert "trainer.max_epochs: 2 there, 3 in this run" in message
    assert "Nothing there was changed" in message
    assert folder_digest(run) == before


def test_files_without_config_yaml_are_another_run(tmp_path) -> None:
    (tmp_path / "metrics.csv").write_text("epoch,step\n0,0\n")
    with pytest.raises(
        RunFolderConflict, match=r"holds files of a run \(metrics.csv\) but no config"
    ):
        plan_start(tmp_path, CONFIG, True)


def test_the_same_run_is_not_continued_with_auto_resume_false(tmp_path) -> None:
    run = write_run(tmp_path / "run", CONFIG)
    with pytest.raises(RunFolderConflict, match="already holds this run.*auto_resume=false"):
        plan_start(run, {**CONFIG, "auto_resume": False}, False)


def test_output_only_and_restart_keys_are_not_differences(tmp_path) -> None:
    written = {**CONFIG, "resumed_in_place": [{"global_step": 3}], "auto_resume": True}
    run = write_run(tmp_path / "run", written)
    again = {
        **CONFIG,
        "logger": {"tensorboard": {"save_dir": "x"}},
        "callbacks": {"last_checkpoint_steps": {"every_n_train_steps": 5}},
        "trainer": {**CONFIG["trainer"], "enable_progress_bar": True},
    }
    start = plan_start(run, again, True)
    assert start.kind == "restart"
    # The earlier attempts' records are carried into the new config.yaml.
    assert start.records["resumed_in_place"] == [{"global_step": 3}]
    with pytest.raises(RunFolderConflict, match="seed: 0 there, 1 in this run"):
        plan_start(run, {**again, "seed": 1}, True)


def test_a_restart_without_checkpoint_keeps_the_earlier_attempts(tmp_path) -> None:
    run = write_run(
        tmp_path / "run", CONFIG, ("metrics.csv", "summary.json", "checkpoints/best.ckpt")
    )
    (run / "audio").mkdir()
    for attempt in (1, 2):
        before = folder_digest(run)
        start = plan_start(run, CONFIG, True)
        assert (start.kind, start.checkpoint) == ("restart", None)
        (record,) = start.records["restarted_in_place"][attempt - 1 :]
        assert record["previous_attempt"] == f"previous_attempts/{attempt}"
        assert len(start.records["restarted_in_place"]) == attempt
        apply_start(run, start)
        moved = run / "previous_attempts" / str(attempt)
        # Renamed, not copied or deleted: the same bytes under previous_attempts/<n>/.
        assert folder_digest(moved) == {
            k: v
            for k, v in before.items()
            if k.split("/")[0] in ("metrics.csv", "summary.json", "checkpoints")
        }
        assert not (run / "metrics.csv").exists() and not (run / "checkpoints").exists()
        assert (run / "config.yaml").is_file() and (run / "audio").is_dir()
        # The restarted attempt writes its own files, and is killed again.
        (run / "metrics.csv").write_text("epoch,step\n0,0\n")
        config = {**CONFIG, **start.records}
        (run / "config.yaml").write_text(yaml.safe_dump(config))


def test_a_torn_last_ckpt_is_refused(tmp_path) -> None:
    run = write_run(tmp_path / "run", CONFIG, ("checkpoints/last.ckpt",))
    with pytest.raises(ValueError, match="cannot read a Lightning checkpoint"):
        plan_start(run, CONFIG, True)


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(TypeError, match="auto_resume must be a bool"):
        plan_start(tmp_path, CONFIG, "yes")
    run = write_run(tmp_path / "run", CONFIG)
    (run / "config.yaml").write_text("- a list\n")
    with pytest.raises(RunFolderConflict, match="config.yaml is not a mapping"):
        plan_start(run, CONFIG, True)
