"""hydra/launcher=submitit_local for real: a multirun of two seeds is two submitit jobs with
two run folders that do not collide; running a job's pickled submission again (what a
requeue does) continues in the same folder (auto_resume) instead of starting a new one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT
from omegaconf import OmegaConf

from experiments.run_dirs import RUN_NAME_VARIABLE

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")

RUN = [
    "experiment=granular",
    "loss=mss_linear",
    "preset=tiny",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "test=false",
    "trainer.enable_progress_bar=false",
    "callbacks=last_checkpoint",
]

REQUEUE = """
import sys, cloudpickle
with open(sys.argv[1], "rb") as f:
    delayed = cloudpickle.load(f)
delayed.result()
"""


def test_submitit_local_two_seeds_two_folders_and_requeue_in_place(tmp_path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "scripts/train.py", "-m", "seed=0,1", *RUN,
         f"paths.out_dir='{out}'", "hydra/launcher=submitit_local"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    runs = sorted((out / "granular" / "mss_linear").iterdir())
    assert [r.name.rsplit("_", 2)[1:] for r in runs] == [["seed0", "job0"], ["seed1", "job1"]]
    # One launch time for the sweep (submitit folder and both run folders).
    (stamp,) = [p.name for p in (out / ".submitit").iterdir()]
    assert all(r.name.startswith(stamp) for r in runs)
    for seed, run in enumerate(runs):
        assert OmegaConf.load(run / "config.yaml").seed == seed
        assert (run / "summary.json").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
        assert "resumed_in_place" not in OmegaConf.load(run / "config.yaml")
    # The pickled submission of seed 0's job, run again in a new process like a requeue.
    submitted = [p for p in (out / ".submitit" / stamp).rglob("*_submitted.pkl")]
    assert len(submitted) == 2
    for pkl in submitted:
        # A requeued job runs with the environment it was submitted with (SLURM keeps it;
        # submitit's local controller restarts its processes with its own): the launch's name.
        job_env = {**env, RUN_NAME_VARIABLE: stamp,
                   "SUBMITIT_EXECUTOR": "local", "SUBMITIT_LOCAL_JOB_ID": "requeued",
                   "SUBMITIT_LOCAL_NTASKS": "1", "SUBMITIT_LOCAL_JOB_NUM_NODES": "1",
                   "SUBMITIT_LOCAL_NODEID": "0", "SUBMITIT_LOCAL_GLOBALID": "0",
                   "SUBMITIT_LOCAL_LOCALID": "0"}  # fmt: skip
        again = subprocess.run(
            [sys.executable, "-c", REQUEUE, str(pkl)], cwd=ROOT, env=job_env,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert sorted((out / "granular" / "mss_linear").iterdir()) == runs  # no new folder
    for run in runs:
        (record,) = OmegaConf.load(run / "config.yaml").resumed_in_place
        assert record.run_dir == str(run.resolve()) and record.global_step == 2
