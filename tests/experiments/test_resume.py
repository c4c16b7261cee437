"""Exact resume on CPU: 2 epochs in one go == 1 epoch, then 1 more from checkpoints/last.ckpt.

Dropout is on (the CNN config's 0.5), so the global torch RNG must come back with the
checkpoint; loss=mss_random draws its FFT sizes from numpy's global RNG; loss=scrapl adds
the θ-IS π, the path sampler's generator and the P-Adam / P-SAGA state of the loss.

Run A trains 2 epochs; run B trains 1; run C resumes B's last.ckpt up to 2 epochs in a new
run folder. The three runs are made once per loss and shared by the tests below.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import assert_same, load_ckpt, load_train_script, short_warmup, train_in_folder
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

RUN = [
    "preset=tiny",
    "trainer.limit_val_batches=1",
    "test=false",
    "logger=csv",
    "callbacks=last_checkpoint",
    "trainer.enable_progress_bar=false",
]
LOSSES = ["scrapl", "mss_random"]


@dataclass
class Runs:
    loss: str
    root: Path
    a: Path
    b: Path
    c: Path
    cfg_a: DictConfig
    cfg_c: DictConfig
    warmups: list[str]  # run folders of the fits whose ThetaIS callback ran a warmup


@pytest.fixture(scope="module", params=LOSSES)
def runs(request, tmp_path_factory) -> Runs:
    loss = request.param
    root = tmp_path_factory.mktemp(f"resume_{loss}")
    train_fn = load_train_script().train
    overrides = [*RUN, f"loss={loss}"]
    if loss == "scrapl":
        # A and B share one warmup cache: B re-reads the values A computed (same seed, same
        # initial weights, so the same warmup folder), which saves a second warmup.
        overrides += short_warmup(root / "theta_is")
    a, b, c = root / "a", root / "b", root / "c"
    warmups: list[str] = []
    mp = pytest.MonkeyPatch()
    import experiments.theta_is_ranks as theta_is_callback

    real = theta_is_callback.run_theta_is

    def counting(*args, **kwargs):
        warmups.append(str(args[3].save_dir))
        return real(*args, **kwargs)

    mp.setattr(theta_is_callback, "run_theta_is", counting)
    try:
        cfg_a = train_in_folder([*overrides, "trainer.max_epochs=2"], a, train_fn)
        train_in_folder([*overrides, "trainer.max_epochs=1"], b, train_fn)
        resume = [f"ckpt_path='{b / 'checkpoints' / 'last.ckpt'}'", "trainer.max_epochs=2"]
        if loss == "scrapl":  # another warmup cache, which must stay unused
            resume.append(f"theta_is.cache_dir='{c / 'theta_is_cache'}'")
        cfg_c = train_in_folder([*overrides, *resume], c, train_fn)
    finally:
        mp.undo()
        GlobalHydra.instance().clear()
    return Runs(loss, root, a, b, c, cfg_a, cfg_c, warmups)


def train_losses(path: Path, epoch: int) -> list[str]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["train/loss"] for r in rows if r["train/loss"] and int(r["epoch"]) == epoch]


def test_resume_bookkeeping(runs: Runs) -> None:
    """What must hold whatever the RNG: epochs, steps, π, paths, no second warmup."""
    assert runs.cfg_a.model.net.dropout == 0.5  # dropout on: the RNG state matters
    assert runs.cfg_a.trainer.limit_train_batches is None
    assert runs.cfg_c.ckpt_path == str(runs.b / "checkpoints" / "last.ckpt")
    a = load_ckpt(runs.a / "checkpoints" / "last.ckpt")
    b = load_ckpt(runs.b / "checkpoints" / "last.ckpt")
    c = load_ckpt(runs.c / "checkpoints" / "last.ckpt")
    steps = b["global_step"]
    assert steps >= 2 and b["epoch"] == 0
    assert (a["epoch"], a["global_step"]) == (c["epoch"], c["global_step"]) == (1, 2 * steps)
    # The resumed run trained the second epoch only, one metrics row per step.
    assert train_losses(runs.c / "metrics.csv", 0) == []
    assert len(train_losses(runs.c / "metrics.csv", 1)) == steps
    assert all(math.isfinite(float(v)) for v in train_losses(runs.c / "metrics.csv", 1))
    # ... from B's weights, and they moved.
    enc = [k for k in a["state_dict"] if k.startswith("encoder.")]
    assert any(not torch.equal(c["state_dict"][k], b["state_dict"][k]) for k in enc)
    assert a["state_dict"].keys() == c["state_dict"].keys()
    assert set(c["rng_state"]["per_rank"][0]) >= {"torch", "numpy", "python"}
    # The resumed run's config.yaml says where it came from (fresh runs have no such entry).
    resumed_from = OmegaConf.to_container(OmegaConf.load(runs.c / "config.yaml").resumed_from)
    assert resumed_from == {
        "checkpoint": str((runs.b / "checkpoints" / "last.ckpt").resolve()),
        "run_dir": str(runs.b.resolve()),
        "epoch": 0,
        "global_step": steps,
    }
    assert "resumed_from" not in OmegaConf.load(runs.a / "config.yaml")
    # Resuming does not re-run the θ-IS warmup: π comes from the checkpoint.
    assert not (runs.c / "theta_is").exists() and not (runs.c / "theta_is_cache").exists()
    assert all(not w.startswith(str(runs.c)) for w in runs.warmups)
    if runs.loss == "scrapl":
        (warm_dir,) = (runs.root / "theta_is").iterdir()
        assert runs.warmups == [str(warm_dir)] * 2  # A computed, B re-read
        assert (warm_dir / "probs.pt").is_file()
        for run in (runs.a, runs.b):  # each run folder keeps a copy of π
            assert (run / "theta_is" / "probs.pt").read_bytes() == (
                warm_dir / "probs.pt"
            ).read_bytes()
        extra_a = a["state_dict"]["loss._extra_state"]
        extra_b = b["state_dict"]["loss._extra_state"]
        extra_c = c["state_dict"]["loss._extra_state"]
        probs = extra_a["sampler"]["probs"]
        assert not torch.allclose(probs, torch.full_like(probs, 1 / probs.numel()), rtol=0.01)
        assert torch.equal(extra_b["sampler"]["probs"], probs)
        assert torch.equal(extra_c["sampler"]["probs"], probs)
        # Paths come from the sampler's own generator: the same sequence after the resume.
        assert extra_c["step"] == extra_a["step"] == 2 * steps
        assert extra_c["path_counts"] == extra_a["path_counts"]
        assert sum(extra_a["path_counts"].values()) == 2 * steps
        assert_same(extra_a["sampler"], extra_c["sampler"], "sampler")
    else:
        assert runs.warmups == []


def test_resume_is_bit_identical(runs: Runs) -> None:
    a = load_ckpt(runs.a / "checkpoints" / "last.ckpt")
    c = load_ckpt(runs.c / "checkpoints" / "last.ckpt")
    # Same second-epoch losses, to the last printed digit.
    assert train_losses(runs.c / "metrics.csv", 1) == train_losses(runs.a / "metrics.csv", 1)
    for k in a["state_dict"]:
        if k.startswith("encoder."):
            assert torch.equal(a["state_dict"][k], c["state_dict"][k]), k
    assert_same(a["optimizer_states"], c["optimizer_states"], "optimizer_states")
    assert_same(a["rng_state"], c["rng_state"], "rng_state")
    if runs.loss == "scrapl":
        # step, path counts, current path, sampler (π, generator) and P-Adam / P-SAGA state.
        assert_same(
            a["state_dict"]["loss._extra_state"],
            c["state_dict"]["loss._extra_state"],
            "loss._extra_state",
        )
