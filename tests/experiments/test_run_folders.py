"""Run folders of real runs: one per launch, refused when another run's, and resumed runs
that read as the uninterrupted one (same history, same tested checkpoint, one group).

The set-up of the resume tests (``SETUP``): preset=tiny with the MSS loss, 3 epochs of 5
steps, best-k by ``step`` with mode ``min`` (the first validation is the best for good, so
a resumed run that forgot the tracking would test another checkpoint), ``last.ckpt`` also
every 4 steps. Runs made once and shared:

* U: uninterrupted;
* B: stopped by ``trainer.max_steps=7`` (mid-epoch 1), then C: resumed from B's last.ckpt
  with ``ckpt_path=`` in a new folder;
* D: killed right after the validation of epoch 0 (before the epoch-end checkpoints: its
  last.ckpt is the one of step 4, the epoch's second-to-last step), then started again in its
  folder (``auto_resume``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, assert_same, load_ckpt, load_train_script, train_in_folder
from hydra.core.global_hydra import GlobalHydra

from experiments.analysis.chains import chain_runs
from experiments.analysis.collect import collect
from experiments.analysis.grouping import config_differences
from experiments.analysis.run_folder import read_runs
from experiments.callbacks.model_checkpoint import RunModelCheckpoint
from experiments.checkpoints import trim_metrics_after

SETUP = [
    "experiment=granular",
    "loss=mss_linear",
    "preset=tiny",
    "trainer.max_epochs=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "logger=csv",
    "callbacks=[model_checkpoint,last_checkpoint]",
    "callbacks.model_checkpoint.monitor=step",
    "callbacks.last_checkpoint_steps.every_n_train_steps=4",
    "trainer.enable_progress_bar=false",
]
STEPS_PER_EPOCH = 5  # 22 training examples, batch 4, drop_last
STOP = 7  # B's max_steps: mid-epoch 1
KILLED_AT = 4  # D's last.ckpt: epoch 0's second-to-last step


class Killed(Exception):
    """What a SIGKILL right after the validation would leave, raised in its place."""


@dataclass
class Runs:
    root: Path
    u: Path
    b: Path
    c: Path
    d: Path
    killed_metrics: str  # D's metrics.csv as the kill left it


def _train(overrides: list[str], folder: Path) -> None:
    try:
        train_in_folder([*SETUP, *overrides], folder, load_train_script().train)
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("runs") / "granular" / "mss_linear"
    u, b, c, d = (root / name for name in "ubcd")
    _train([], u)
    _train([f"trainer.max_steps={STOP}"], b)
    _train([f"ckpt_path='{b / 'checkpoints' / 'last.ckpt'}'"], c)

    real = RunModelCheckpoint.on_train_epoch_end

    def killed_after_validation(self, trainer, pl_module):
        if trainer.current_epoch == 0:
            raise Killed
        real(self, trainer, pl_module)

    mp = pytest.MonkeyPatch()
    mp.setattr(RunModelCheckpoint, "on_train_epoch_end", killed_after_validation)
    try:
        with pytest.raises(Killed):
            _train([], d)
    finally:
        mp.undo()
    killed = (d / "metrics.csv").read_text()
    _train([], d)  # the scheduler starts the same command again
    return Runs(root, u, b, c, d, killed)


def _rows(text: str) -> list[dict[str, str]]:
    """The rows of a metrics.csv as their non-empty cells (a file's columns are those of its
    run's rows), without the timing columns (wall-clock, never equal)."""
    return [
        {k: v for k, v in row.items() if v and not k.startswith("time/")}
        for row in csv.DictReader(io.StringIO(text))
    ]


def _kind(row: dict[str, str]) -> str:
    return next(
        p for p in ("train/", "val/", "test/") if any(row[k] for k in row if k.startswith(p))
    )


def test_trim_rule_on_the_file_lightning_wrote(runs: Runs, tmp_path) -> None:
    killed = _rows(runs.killed_metrics)
    assert not (runs.d / "previous_attempts").exists()  # a resume, not a restart
    # Lightning's convention, as written: the validation inside fit after step 5 is logged at
    # step 4 (global_step - 1), like the training row of step 5, and the checkpoint holds
    # global_step 4: both rows describe training past it.
    assert [(r["step"], _kind(r)) for r in killed] == [
        ("0", "val/"),
        *((str(s), "train/") for s in range(STEPS_PER_EPOCH)),
        ("4", "val/"),
    ]
    path = tmp_path / "metrics.csv"
    path.write_text(runs.killed_metrics)
    assert trim_metrics_after(path, KILLED_AT) == 2
    # What remains is the uninterrupted run's history before its step 5.
    uninterrupted = _rows((runs.u / "metrics.csv").read_text())
    assert _rows(path.read_text()) == uninterrupted[: 1 + KILLED_AT]


def test_resumed_in_place_history_is_the_uninterrupted_one(runs: Runs) -> None:
    cfg = yaml.safe_load((runs.d / "config.yaml").read_text())
    (record,) = cfg["resumed_in_place"]
    assert record["global_step"] == KILLED_AT and record["run_dir"] == str(runs.d.resolve())
    assert _rows((runs.d / "metrics.csv").read_text()) == _rows(
        (runs.u / "metrics.csv").read_text()
    )
    end_u = load_ckpt(runs.u / "checkpoints" / "last.ckpt")
    end_d = load_ckpt(runs.d / "checkpoints" / "last.ckpt")
    assert_same(end_u["state_dict"], end_d["state_dict"], "state_dict")


def test_max_steps_leaves_a_last_ckpt_that_continues_exactly(runs: Runs) -> None:
    stopped = load_ckpt(runs.b / "checkpoints" / "last.ckpt")
    assert (stopped["epoch"], stopped["global_step"]) == (1, STOP)
    consumed = (STOP - STEPS_PER_EPOCH) * 4
    assert stopped["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 1, "consumed": consumed}
    ]
    u = _rows((runs.u / "metrics.csv").read_text())
    c = _rows((runs.c / "metrics.csv").read_text())
    assert c == [r for r in u if int(r["step"]) >= STOP]  # C trained U's steps 8-15
    end_u = load_ckpt(runs.u / "checkpoints" / "last.ckpt")
    end_c = load_ckpt(runs.c / "checkpoints" / "last.ckpt")
    assert_same(end_u["state_dict"], end_c["state_dict"], "state_dict")
    assert_same(end_u["optimizer_states"], end_c["optimizer_states"], "optimizer_states")


def test_resumed_runs_test_the_same_checkpoint_and_aggregate_as_one(runs: Runs) -> None:
    summaries = {
        name: json.loads((getattr(runs, name) / "summary.json").read_text()) for name in "ucd"
    }
    for name, summary in summaries.items():
        best = Path(summary["best_checkpoint"])
        # The first validation's checkpoint, in the run's own folder (C's carried over).
        assert best == getattr(runs, name) / "checkpoints" / "best-epoch000.ckpt", name
        assert best.is_file()
        assert summary["test/theta_l1"] == summaries["u"]["test/theta_l1"], name
    carried = runs.c / "checkpoints" / "best-epoch000.ckpt"
    assert carried.read_bytes() == (runs.b / "checkpoints" / "best-epoch000.ckpt").read_bytes()

    runs_read, skipped = read_runs(runs.root)
    assert skipped == []
    chains, chain_skipped, notes = chain_runs(runs_read)
    assert chain_skipped == [] and notes == []
    assert sorted([r.path.name for r in ch.runs] for ch in chains) == [["b", "c"], ["d"], ["u"]]
    assert config_differences(chains) == {}  # resumed_from, resumed_in_place: bookkeeping
    collection = collect(runs.root)
    (group,) = collection.groups
    assert group.seeds == [0]
    assert sorted(s.reason.split(" in ")[0] for s in collection.skipped) == ["seed 0 again"] * 2


# -- launches -------------------------------------------------------------------------------

# A run of a second or two: preset=tiny, two steps, no validation, test or callbacks.
SHORT = [
    "experiment=granular",
    "loss=mss_linear",
    "preset=tiny",
    "trainer.max_epochs=1",
    "trainer.max_steps=2",
    "trainer.limit_val_batches=0",
    "validate_before_fit=false",
    "test=false",
    "logger=csv",
    "callbacks=none",
    "trainer.enable_progress_bar=false",
]
LRS = ["0.001", "0.0003", "0.0001", "3e-05"]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_runs_launched_at_once_get_a_folder_each_and_never_enter_another(tmp_path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYDRA_FULL_ERROR": "1"}
    command = [sys.executable, "scripts/train.py", *SHORT, f"paths.out_dir='{out}'"]
    procs = [
        subprocess.Popen([*command, f"lr={lr}"], cwd=ROOT, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for lr in LRS
    ]  # fmt: skip
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(log[-2000:] for log in logs)
    folders = sorted((out / "granular" / "mss_linear").iterdir())
    assert len(folders) == 4
    name = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.\d{3}_p\d+-[0-9a-f]{4}_seed0"
    assert all(re.fullmatch(name, f.name) for f in folders), [f.name for f in folders]
    runs, skipped = read_runs(out)
    assert skipped == []  # every metrics.csv is one history (steps never go back)
    assert sorted(r.config["lr"] for r in runs) == sorted(map(float, LRS))
    for run in runs:
        assert [r["step"] for r in run.metrics.rows] == [0, 1]
        overrides = yaml.safe_load((run.path / ".hydra" / "overrides.yaml").read_text())
        # Hydra's record of the launch, written by the run itself into its own folder.
        assert [float(o[3:]) for o in overrides if o.startswith("lr=")] == [run.config["lr"]]

    # Started fresh in one of them with another learning rate: refused, nothing changed.
    target = folders[0]
    before = _digest(target)
    again = subprocess.run(
        [*command, "lr=0.5", f"hydra.run.dir='{target}'"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode != 0
    assert f"run folder '{target}' holds another run" in again.stderr, again.stderr[-3000:]
    assert re.search(r"lr: [0-9.e-]+ there, 0.5 in this run", again.stderr)
    assert _digest(target) == before
