"""scripts/evaluate.py: a checkpoint re-tested with the run's config and extra metrics."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import subprocess
import sys

import pytest
import torch
from conftest import FAST_RUN, ROOT
from omegaconf import OmegaConf
from torch import nn

from experiments.callbacks.test_metrics import TestMetrics


def _evaluate(*overrides: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HYDRA_FULL_ERROR="1")
    return subprocess.run([sys.executable, "scripts/evaluate.py", *overrides], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_evaluate_reproduces_the_test_and_adds_metrics(run_train, tmp_path) -> None:
    run = tmp_path / "out" / "granular" / "ploss" / "2026-01-01_00-00-00_seed0"
    overrides = [
        *FAST_RUN,
        "loss=ploss",
        "test=true",
        "callbacks=[model_checkpoint,last_checkpoint]",
    ]
    metrics, _ = run_train(overrides, run)
    # One epoch: the tested (best) checkpoint and last.ckpt hold the same weights.
    proc = _evaluate(f"ckpt_path={run}/checkpoints/last.ckpt")  # metrics=default
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder,) = (run / "evaluations").iterdir()
    assert folder.name.endswith("_last")
    with open(folder / "metrics.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["test/theta_l1"]) == pytest.approx(metrics["test/theta_l1"], rel=1e-6)
    distance = float(row["test/jtfs_distance"])
    assert math.isfinite(distance) and distance > 0
    assert (
        math.isfinite(float(row["test/mss_log_linear"])) and float(row["test/mss_log_linear"]) > 0
    )
    record = (folder / "config.yaml").read_text()
    assert "scrapl.JTFSLoss" in record and "shape: 8192" in record  # the run's own N

    # The run kept no test sounds (no test_audio callback): the evaluation wrote them, and
    # the listening page finds them there.
    from experiments.analysis.run_folder import read_run
    from experiments.listen.runs import test_audio_folder
    from experiments.test_audio_store import read_test_audio

    assert not (run / "test_audio").exists()
    assert test_audio_folder(read_run(run)) == folder / "test_audio"
    kept = read_test_audio(folder / "test_audio")
    assert kept.checkpoint.endswith("last.ckpt") and kept.n_test == 7 and len(kept.examples) == 7

    # The evaluation's metrics join the run's in the tables.
    from experiments.analysis.collect import collect
    from experiments.analysis.summary import summarise

    rows, _ = summarise(collect(tmp_path / "out").groups)
    by_metric = {r.metric: r for r in rows}
    assert by_metric["test/jtfs_distance"].mean == pytest.approx(distance)


def test_evaluate_errors(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("evaluate", ROOT / "scripts" / "evaluate.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    run = tmp_path / "run"
    cfg = OmegaConf.create({"ckpt_path": str(run / "checkpoints" / "last.ckpt"),
                            "run_dir": str(run), "logger": {"save_dir": str(tmp_path / "e")},
                            "metrics": {}, "trainer": {}})  # fmt: skip
    with pytest.raises(FileNotFoundError, match="ckpt_path: no such file"):
        script.evaluate(cfg)
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no config.yaml in"):
        script.evaluate(cfg)


def test_test_metrics_arguments() -> None:
    with pytest.raises(ValueError, match="metric names must be non-empty and without '/'"):
        TestMetrics({"a/b": nn.L1Loss()})
    with pytest.raises(TypeError, match=r"metrics\['x'\] must be a torch.nn.Module"):
        TestMetrics({"x": torch.abs})
    with pytest.raises(TypeError, match="metrics must be a mapping"):
        TestMetrics([nn.L1Loss()])
