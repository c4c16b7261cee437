"""Real (tiny) TR-808 training runs through scripts/train.py: micro and meso, SCRAPL and MSS,
on the synthetic set and on Debian's Hydrogen kit; the run folder's metrics table, per-example
test table, audio and plots; scripts/evaluate.py on a TR-808 run."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import ROOT

from experiments.data.hydrogen import find_hydrogen_tr808
from experiments.synths.tr808 import TR808Synth

# preset=tiny cut to 2 epochs of 1 step; validation and test on one batch.
TINY_TR808 = [
    "preset=tiny",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "theta_is.n_examples=1",
    "theta_is.n_iter=1",
    "logger=csv",
    "trainer.enable_progress_bar=false",
]
FEATURES = [f"{f}_{p}" for f in ("loudness", "centroid", "flatness")
            for p in ("transient", "decay")]  # fmt: skip
TEST_METRICS = {"mss_log_linear", "jtfs_distance", "fad", *FEATURES}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def column(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key, "") != ""]


def check_run_folder(run: Path, with_theta: bool, n_test: int, epochs: int = 2) -> None:
    rows = read_csv(run / "metrics.csv")
    # The test metrics, averaged, in metrics.csv ...
    test = {k.removeprefix("test/"): float(v) for r in rows for k, v in r.items()
            if k.startswith("test/") and v != ""}  # fmt: skip
    assert TEST_METRICS <= set(test)
    assert all(math.isfinite(test[k]) and test[k] >= 0 for k in TEST_METRICS)
    assert test["jtfs_distance"] > 0 and test["mss_log_linear"] > 0
    assert ("theta_l1" in test) == with_theta
    # ... and per example in test_examples.csv, whose means they are.
    table = read_csv(run / "test_examples.csv")
    assert len(table) == n_test
    assert {"example", "name", "drum_type", "index"} <= set(table[0])
    for key in TEST_METRICS - {"fad"}:
        mean = sum(float(r[key]) for r in table) / len(table)
        assert mean == pytest.approx(test[key], rel=1e-5), key
    # Audio examples (44.1 kHz, the padded audio the loss compares) and plots, every epoch.
    for epoch in range(epochs):
        for i in range(min(4, n_test)):
            for kind in ("target", "recon"):
                audio, sr = sf.read(run / "audio" / f"epoch{epoch:03d}_ex{i}_{kind}.wav")
                assert sr == 44100 and audio.shape == (44100,)
                assert abs(audio[:2048]).max() == 0  # the pad: 2048 zeros
                assert abs(audio).max() > 0
        assert (run / "plots" / f"epoch{epoch:03d}_spectrograms.png").stat().st_size > 1000
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test/jtfs_distance"] == pytest.approx(test["jtfs_distance"])
    assert ("test/theta_l1" in summary) == with_theta
    # The scheduler was stepped per epoch: LinearLR 1.0 -> 0.1 over the 2 epochs.
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    (sched,) = ckpt["lr_schedulers"]
    assert sched["last_epoch"] == epochs
    assert ckpt["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-3 * 0.1)


@pytest.mark.parametrize(
    "experiment, loss", [("tr808_micro", "scrapl"), ("tr808_meso", "mss_linear")]
)
def test_tiny_tr808_run(run_train, tmp_path, experiment, loss) -> None:
    run = tmp_path / "out" / experiment / loss / "run"
    overrides = [f"experiment={experiment}", f"loss={loss}", *TINY_TR808,
                 f"paths.out_dir={tmp_path / 'out'}"]  # fmt: skip
    metrics, cfg = run_train(overrides, run)
    assert cfg.data.max_shift == (2048 if experiment == "tr808_meso" else 0)
    assert set(metrics) >= {"start/val/theta_l1", "end/val/theta_l1", "test/theta_l1"}
    assert {f"test/{k}" for k in TEST_METRICS} <= set(metrics)
    check_run_folder(run, with_theta=True, n_test=4)
    # The synthetic set lies in the data cache under out/, not in the run folder.
    assert len(list((tmp_path / "out" / "data_cache").glob("tr808_synthetic_*.pt"))) == 1
    if loss == "scrapl":
        assert (run / "theta_is" / "probs.pt").is_file()
        assert (run / "plots" / "epoch001_paths.png").is_file()
        train = read_csv(run / "metrics.csv")
        assert len(column(train, "train/path_idx")) == 2


@pytest.mark.slow  # more losses of the menu on both experiments: ~1 min each
@pytest.mark.parametrize("loss", ["mss_log_linear", "jtfs", "scrapl_plain", "mss_revisited",
                                  "mss_random", "ploss", "scrapl_p_adam"])  # fmt: skip
@pytest.mark.parametrize("experiment", ["tr808_micro", "tr808_meso"])
def test_tiny_tr808_run_every_loss(run_train, tmp_path, experiment, loss) -> None:
    run = tmp_path / "run"
    overrides = [f"experiment={experiment}", f"loss={loss}", *TINY_TR808,
                 f"paths.out_dir={tmp_path / 'out'}"]  # fmt: skip
    run_train(overrides, run)
    check_run_folder(run, with_theta=True, n_test=4)


@pytest.mark.parametrize(
    "experiment, loss",
    [pytest.param("tr808_micro", "scrapl", marks=pytest.mark.slow), ("tr808_meso", "mss_linear")],
)
def test_tiny_run_on_the_hydrogen_kit(run_train, tmp_path, experiment, loss) -> None:
    try:
        find_hydrogen_tr808()
    except FileNotFoundError as err:
        pytest.skip(f"Debian's hydrogen-data is not installed ({err})")
    run = tmp_path / "run"
    overrides = [f"experiment={experiment}", f"loss={loss}", "data=hydrogen_tr808", *TINY_TR808,
                 "data.batch_size=4", f"paths.out_dir={tmp_path / 'out'}"]  # fmt: skip
    metrics, cfg = run_train(overrides, run)
    # Recordings: no θ, so no θ error anywhere; the audio metrics on the 3 test sounds.
    assert not any("theta_l1" in k for k in metrics)
    assert {f"test/{k}" for k in TEST_METRICS} <= set(metrics)
    check_run_folder(run, with_theta=False, n_test=3)
    names = [r["name"] for r in read_csv(run / "test_examples.csv")]
    assert all(n.startswith("808_") and n.endswith(".flac") for n in names)


def test_evaluate_a_tr808_run(run_train, tmp_path) -> None:
    out = tmp_path / "out"
    run = out / "tr808_meso" / "mss_linear" / "2026-01-01_00-00-00_seed0"
    overrides = ["experiment=tr808_meso", "loss=mss_linear", *TINY_TR808,
                 "trainer.max_epochs=1", "callbacks=[model_checkpoint,last_checkpoint]",
                 f"paths.out_dir={out}"]  # fmt: skip
    metrics, _ = run_train(overrides, run)
    env = dict(os.environ, OMP_NUM_THREADS="1", HYDRA_FULL_ERROR="1")
    proc = subprocess.run(
        [sys.executable, "scripts/evaluate.py", f"ckpt_path={run}/checkpoints/last.ckpt",
         "metrics=tr808", "metrics.jtfs_distance.J=6", "metrics.jtfs_distance.Q1=2",
         "metrics.jtfs_distance.Q2=1", "metrics.jtfs_distance.J_fr=2",
         "metrics.jtfs_distance.Q_fr=1", "metrics.jtfs_distance.T=null",
         "metrics.jtfs_distance.F=null"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder,) = (run / "evaluations").iterdir()
    (row,) = read_csv(folder / "metrics.csv")
    # The same checkpoint, the same test split and metrics: the run's own values again.
    for key in TEST_METRICS:
        assert float(row[f"test/{key}"]) == pytest.approx(metrics[f"test/{key}"], rel=1e-4), key
    assert len(read_csv(folder / "test_examples.csv")) == 4


def test_synth_config_matches_the_synth() -> None:
    # The synth's own defaults are the paper's: the config states them all.
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(ROOT / "configs" / "synth" / "tr808.yaml")
    synth = TR808Synth()
    assert (cfg.sr, cfg.n_samples, cfg.noise_seed, cfg.attack) == (
        synth.sr, synth.n_samples, synth.noise_seed, synth.attack)  # fmt: skip
