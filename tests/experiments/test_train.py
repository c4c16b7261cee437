"""Real (tiny) training runs through scripts/train.py: every loss, overfitting, multirun."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import hydra
import lightning.pytorch as pl
import pytest
import torch
from conftest import FAST_RUN, LOSSES, ROOT
from omegaconf import OmegaConf

from experiments.module import SoundMatching

SCRAPL_LOSSES = {"scrapl", "scrapl_no_theta_is", "scrapl_p_adam", "scrapl_plain", "scrapl_time"}
# Run with the whole pipeline (θ-IS warmup, pre-fit validation, every callback, test).
FULL_PIPELINE = {"scrapl", "scrapl_time"}
# Cheap θ-IS warmup: one example, one power iteration (π is still path-dependent).
CHEAP_THETA_IS = ["theta_is.n_examples=1", "theta_is.n_iter=1"]


def read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def column(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key, "") != ""]


def load_ckpt(path: Path) -> dict:
    # The module stores plain types and tensors only: weights_only loading must work.
    return torch.load(path, map_location="cpu", weights_only=True)


def encoder_state(state_dict: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state_dict.items() if k.startswith("encoder.")}


@pytest.fixture
def fit_start_states(monkeypatch) -> list[dict[str, torch.Tensor]]:
    """The encoder's weights at the start of every fit (after the θ-IS warmup)."""
    states: list[dict[str, torch.Tensor]] = []

    def record(self) -> None:
        states.append({k: v.detach().clone() for k, v in encoder_state(self.state_dict()).items()})

    monkeypatch.setattr(SoundMatching, "on_fit_start", record)
    return states


@pytest.mark.parametrize("loss", LOSSES)
def test_tiny_run(run_train, fit_start_states, tmp_path, loss) -> None:
    run = tmp_path / "run"
    overrides = [*FAST_RUN, f"loss={loss}"]
    full = loss in FULL_PIPELINE
    if full:  # the whole pipeline: θ-IS, pre-fit validation, every callback, test
        overrides += [*CHEAP_THETA_IS, "validate_before_fit=true", "test=true"]
    else:
        overrides += ["callbacks=[model_checkpoint,last_checkpoint]"]
    metrics, cfg = run_train(overrides, run)

    # Metrics: returned and in metrics.csv, finite, θ L1 within [0, 1000] per mille.
    expected = {"end/val/theta_l1"} | ({"start/val/theta_l1", "test/theta_l1"} if full else set())
    assert set(metrics) == expected
    assert all(0 <= v <= 1000 for v in metrics.values())
    rows = read_metrics(run / "metrics.csv")
    names = list(cfg.theta_names)
    for stage in ("train", "val") + (("test",) if full else ()):
        for key in ("loss", "theta_l1", *(f"theta_l1_{n}" for n in names)):
            assert f"{stage}/{key}" in rows[0], f"{stage}/{key}"
    train_loss = column(rows, "train/loss")
    assert len(train_loss) == 2 and all(math.isfinite(v) for v in train_loss)
    assert all(math.isfinite(v) for v in column(rows, "val/loss"))
    theta_l1 = column(rows, "train/theta_l1") + column(rows, "val/theta_l1")
    assert theta_l1 and all(0 <= v <= 1000 for v in theta_l1)
    assert column(rows, "val/theta_l1")[-1] == pytest.approx(metrics["end/val/theta_l1"])
    assert ("train/path_idx" in rows[0]) == (loss in SCRAPL_LOSSES)

    # summary.json: the returned metrics, the best checkpoint, wall time and threads.
    summary = json.loads((run / "summary.json").read_text())
    assert {k: summary[k] for k in metrics} == metrics
    assert Path(summary["best_checkpoint"]).parent == run / "checkpoints"
    assert Path(summary["best_checkpoint"]).is_file()
    assert summary["wall_time_s"] > 0 and summary["torch_threads"] >= 1

    # config.yaml: the resolved config of the run.
    text = (run / "config.yaml").read_text()
    assert "${" not in text and "???" not in text
    saved = OmegaConf.load(run / "config.yaml")
    # The live config, fully resolved: enough to reproduce the run.
    assert OmegaConf.to_container(saved) == OmegaConf.to_container(cfg, resolve=True)
    assert saved.seed == 0 and saved.data.shuffle_seed == 0
    assert saved.loss._target_ == cfg.loss._target_
    assert saved.paths.output_dir == str(run) and saved.experiment_name == "granular"
    assert "hydra" not in saved

    # Checkpoint: after 2 steps, encoder weights moved away from their initial values.
    ckpt = load_ckpt(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 2 and ckpt["epoch"] == 0
    assert set(ckpt["rng_state"]["per_rank"][0]) >= {"torch", "numpy", "python"}
    (initial,) = fit_start_states
    final = encoder_state(ckpt["state_dict"])
    assert final.keys() == initial.keys() and len(final) > 0
    changed = [k for k in final if not torch.equal(final[k], initial[k])]
    assert changed, "no encoder weight changed during training"
    # ... and the initial weights are a function of the seed only (θ-IS left them alone).
    pl.seed_everything(cfg.seed)
    hydra.utils.instantiate(cfg.data)
    again = hydra.utils.instantiate(cfg.module)
    for k, v in encoder_state(again.state_dict()).items():
        assert torch.equal(v, initial[k]), k

    if loss in SCRAPL_LOSSES:
        extra = ckpt["state_dict"]["loss._extra_state"]
        assert extra["step"] == 2 and sum(extra["path_counts"].values()) == 2
        probs = extra["sampler"]["probs"]
        uniform = torch.full_like(probs, 1 / probs.numel())
        assert probs.dtype == torch.float64 and probs.sum().item() == pytest.approx(1.0)
        assert probs.min() > 0
        assert (run / "theta_is").exists() == full
        if full:
            # θ-IS: probs.pt written, and π (restored with the loss state) is not uniform.
            saved_probs = torch.load(run / "theta_is" / "probs.pt", weights_only=True)
            assert torch.allclose(probs, saved_probs.to(probs), rtol=0, atol=1e-12)
            assert not torch.allclose(probs, uniform, rtol=0.01)
            assert probs.max() / probs.min() > 1.5
        else:
            assert torch.allclose(probs, uniform, rtol=1e-12)
    else:
        assert not (run / "theta_is").exists()

    if full:
        files = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
        assert {"config.yaml", "metrics.csv", "checkpoints/last.ckpt"} <= files
        assert any(re.fullmatch(r"checkpoints/best-epoch000\.ckpt", f) for f in files)
        assert {"plots/path_counts.csv", "plots/epoch000_paths.png"} <= files
        assert "plots/epoch000_spectrograms.png" in files
        wavs = {f for f in files if f.startswith("audio/")}
        assert wavs == {
            f"audio/epoch000_ex{i}_{k}.wav" for i in range(4) for k in ("target", "recon")
        }
        counts = read_metrics(run / "plots" / "path_counts.csv")
        assert len(counts) == probs.numel() and sum(int(r["count"]) for r in counts) == 2


def _epoch_means(rows: list[dict[str, str]], key: str) -> list[float]:
    by_epoch: dict[int, list[float]] = {}
    for r in rows:
        if r.get(key, "") != "":
            by_epoch.setdefault(int(r["epoch"]), []).append(float(r[key]))
    return [sum(v) / len(v) for _, v in sorted(by_epoch.items())]


# Overfit set: 2 x 2 grid, 1 seed, points 0-1 (folds 0-1) train -> 2 training sounds in one
# batch, points 2-3 val; no dropout, a large lr.
# Val/test θ pairs are disjoint from train, so the training θ error is the one measured.
OVERFIT = [
    "preset=tiny",
    "data.n_per_dim=2",
    "data.train_folds=[0,1]",
    "data.val_folds=[2,3]",
    "data.test_folds=[]",
    "data.batch_size=2",
    "model.net.dropout=0",
    "trainer.limit_val_batches=0",
    "validate_before_fit=false",
    "test=false",
    "logger=csv",
    "callbacks=none",
    "trainer.enable_progress_bar=false",
]


@pytest.mark.parametrize(
    "loss, epochs, ratio",
    [
        (["loss=ploss", "lr=1e-2"], 18, 0.7),
        # SCRAPL with P-Adam and P-SAGA, uniform π (θ-IS off). On the granular synth the
        # reconstruction's grains are redrawn at every step, so two sounds give too noisy a
        # gradient to overfit in a few steps; the chirplet's only randomness is a time shift,
        # which a JTFS with long averaging (T = 2048) hardly sees.
        (
            ["experiment=chirplet_am_hi_fm_hi", "loss=scrapl", "callbacks.theta_is=null",
             "jtfs.T=2048", "lr=3e-3"],
            30,
            0.75,
        ),
    ],
    ids=["ploss", "scrapl"],
)  # fmt: skip
def test_overfit_reduces_train_theta_error(run_train, tmp_path, loss, epochs, ratio) -> None:
    _, cfg = run_train([*OVERFIT, *loss, f"trainer.max_epochs={epochs}"], tmp_path / "run")
    assert cfg.data.n_per_dim == 2 and not cfg.callbacks.get("theta_is")
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    means = _epoch_means(rows, "train/theta_l1")
    assert len(means) == epochs
    assert all(math.isfinite(v) for v in column(rows, "train/loss"))
    # Measured with seeds 0-2: the last epoch is at 0.23-0.57 x the first with ploss
    # (seed 0: 132 -> 31 per mille) and 0.54-0.68 x with scrapl (seed 0: 133 -> 91).
    assert means[-1] < ratio * means[0], means


# --------------------------------------------------------------------------- multirun


RUN_NAME = re.compile(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_seed(\d+)_job(\d+)")


@pytest.mark.slow  # a fresh interpreter and two runs: ~12 s
def test_multirun_cli(tmp_path) -> None:
    out = tmp_path / "out"
    overrides = [*FAST_RUN, "loss=ploss", "callbacks=[model_checkpoint,last_checkpoint]"]
    overrides += ["trainer.limit_train_batches=1", f"paths.out_dir={out}"]
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline", HYDRA_FULL_ERROR="1")
    proc = subprocess.run(
        [sys.executable, "scripts/train.py", "-m", "seed=0,1", *overrides],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]

    # Sweep layout: out/<experiment>/<loss>/<timestamp>_seed<seed>_job<n>, multirun.yaml on top.
    assert (out / "multirun.yaml").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["granular", "multirun.yaml"]
    runs = sorted((out / "granular" / "ploss").iterdir())
    assert len(runs) == 2
    found = {}
    for run in runs:
        match = RUN_NAME.fullmatch(run.name)
        assert match, run.name
        seed, job = int(match.group(1)), int(match.group(2))
        found[(seed, job)] = run
    assert set(found) == {(0, 0), (1, 1)}

    vals = []
    for (seed, _), run in found.items():
        cfg = OmegaConf.load(run / "config.yaml")
        assert cfg.seed == seed and cfg.data.shuffle_seed == seed
        assert Path(cfg.paths.output_dir) == run
        assert (run / "checkpoints" / "last.ckpt").is_file()
        assert OmegaConf.load(run / ".hydra" / "overrides.yaml").count(f"seed={seed}") == 1
        log = (run / "train.log").read_text()
        assert f"Run folder: {run}" in log
        other = found[(1 - seed, 1 - seed)]
        assert str(other) not in log  # each job logs into its own folder only
        vals.append(column(read_metrics(run / "metrics.csv"), "val/theta_l1")[-1])
        assert load_ckpt(run / "checkpoints" / "last.ckpt")["global_step"] == 1
    assert vals[0] != vals[1]  # different seeds, different initial weights


LAST_CKPT_OVERRIDES = [
    *FAST_RUN,
    "loss=ploss",
    "callbacks=[model_checkpoint,last_checkpoint]",
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=1",
    # lr = 1e-30 (lr <= 0 is refused): AdamW's step, at most lr (1 + weight_decay |w|) per
    # weight, is ~1e-22 of a weight of size ~0.01-1, far below float32's half-ulp (~6e-8
    # relative), so the weights, hence val θ L1, never change: no epoch after the first is
    # "better" and the best-model checkpoint is written once only.
    "lr=1e-30",
]


def test_last_ckpt_is_refreshed_every_epoch(run_train, tmp_path) -> None:
    _, cfg = run_train(LAST_CKPT_OVERRIDES, tmp_path / "run")
    ckpt_dir = tmp_path / "run" / "checkpoints"
    # Without improvement the best checkpoint stays the first epoch's ...
    assert sorted(p.name for p in ckpt_dir.glob("best-*.ckpt")) == ["best-epoch000.ckpt"]
    # ... but last.ckpt must be the end of the run, what ckpt_path=... resumes from.
    last = load_ckpt(ckpt_dir / "last.ckpt")
    assert (last["epoch"], last["global_step"]) == (2, 3)


@pytest.fixture
def offline_wandb(monkeypatch, tmp_path):
    """W&B offline in tmp_path; any W&B run left open is finished afterwards."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb_dir"))
    yield
    if wandb.run is not None:
        wandb.finish()


def test_wandb_run_per_training_run(run_train, offline_wandb, tmp_path) -> None:
    # Two runs in one process, as the jobs of `python scripts/train.py -m ...` are.
    base = [*FAST_RUN, "loss=ploss", "logger=wandb", "callbacks=none"]
    base += ["trainer.limit_train_batches=1"]
    for seed in (0, 1):
        run_train([*base, f"seed={seed}"], tmp_path / f"run{seed}")
    for seed in (0, 1):
        runs = list((tmp_path / f"run{seed}" / "wandb").glob("offline-run-*"))
        assert len(runs) == 1, (seed, runs)
