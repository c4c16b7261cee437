"""SCRAPL under data parallel (trainer=ddp_cpu: 2 CPU processes, gloo) equals one process.

Both ranks sample the same path at every step; after k = 3 steps (mid-epoch: 5 steps of 2 x 2
examples per epoch) the weights, the P-Adam / P-SAGA state and the θ-IS π equal (to float64
rounding, see REL_TOL) a single process trained on the concatenated batches (batch 4: the
data module gives rank r the r-th half of each global batch); the DDP checkpoint resumed on 1
process then continues like the single process run to step 6 (into the second epoch).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import (
    ROOT,
    STEP_CHECKPOINT_FIT,
    assert_same,
    load_ckpt,
    load_train_script,
    train_in_folder,
)
from hydra.core.global_hydra import GlobalHydra

RUN = [
    *STEP_CHECKPOINT_FIT,
    "experiment=granular",
    "loss=scrapl",
    "model.net.dropout=0.0",  # dropout draws differ between one and two processes
    "trainer.max_epochs=2",
    "callbacks.last_checkpoint_steps.every_n_train_steps=3",
    "theta_is.n_examples=4",
    "theta_is.batch_size=2",
    "theta_is.n_iter=1",
    # Every run in float64: see REL_TOL.
    "trainer.precision=64-true",
]
K = 3
# Per tensor, ||a - b|| / ||b||. The identity is exact in real arithmetic: the runs differ
# only in the order of floating-point sums (the all-reduce averages two means of 2 examples
# where one process takes the mean of 4; batched kernels block batches of 2 and of 4
# differently): per step, at most n·u relative for sums of n terms (unit roundoff u).
# Two factors carry it forward:
# - the synth: the grains' phase 2π f0 Σ 2^(γt)/sr reaches A ≈ 1e4 rad (f0 ≤ 2048 Hz over
#   a 0.5 s grain), so a relative change δ of the predicted θ changes the audio, hence the
#   next gradient, by up to A·δ;
# - P-Adam: its output m̂/(eps + √v̂) (g/(eps + |g|) on a first visit, grad_mult·|g| ≫ eps)
#   is flat in g away from 0, so a gradient's error does not pass into the weights, and the
#   errors of successive steps do not compound.
# The moments m, v (∝ g, g² of one step) are thus off by ≤ 2·A·n·u, the weights by less.
# float32 (u = 6e-8): 2·A·u ≈ 1e-3 (measured 2e-4 to 3e-3 after 6 steps): no tolerance
# separates rounding from a bug. Hence float64 (u = 1.1e-16, n ≤ 2^15 terms: the gradient
# sums over the batch and the CQT / JTFS time bins): 2·A·n·u ≈ 7e-8. REL_TOL = 1e-6 sits above
# that and below what a bug gives: float32 arithmetic leaking in (≈ 1e-3, as above), a sum in
# place of a mean (m off by 2x), P-Adam applied before the all-reduce (O(1)).
# Measured: ≤ 1.1e-14 at 1 and 2 torch threads.
REL_TOL = 1e-6


def _close(a: object, b: object, where: str) -> None:
    if isinstance(a, torch.Tensor):
        if a.is_floating_point():
            assert a.shape == b.shape and a.dtype == b.dtype, where
            err = (a - b).double().norm() / max(float(b.double().norm()), 1e-30)
            assert err <= REL_TOL, f"{where}: relative error {float(err):.3g}"
        else:
            assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _paths(folder: Path, rank: int) -> list[str]:
    return (folder / f"paths_rank{rank}.txt").read_text().split("\n")[:-1]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    run = root / "ddp"
    # The torch threads of the tests (tests/conftest.py): 1 unless OMP_NUM_THREADS says.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)])}
    proc = subprocess.run(
        [sys.executable, "scripts/train.py", *RUN, "trainer=ddp_cpu", "data.batch_size=2",
         f"trainer.max_steps={K}", f"theta_is.cache_dir='{root / 'cache_ddp'}'",
         "+callbacks.paths._target_=callback_helpers.RecordPaths",
         f"+callbacks.paths.folder='{run / 'paths'}'", f"hydra.run.dir='{run}'"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return run


def _single(root: Path, name: str, steps: int, extra: list[str] = ()) -> Path:
    run = root / name
    try:
        train_in_folder(
            [*RUN, "data.batch_size=4", f"trainer.max_steps={steps}",
             f"theta_is.cache_dir='{root / ('cache_' + name)}'",
             "+callbacks.paths._target_=callback_helpers.RecordPaths",
             f"+callbacks.paths.folder='{run / 'paths'}'", *extra],
            run, load_train_script().train,
        )  # fmt: skip
    finally:
        GlobalHydra.instance().clear()
    return run


def test_ddp_equals_one_process_on_the_concatenated_batch(ddp_run, tmp_path) -> None:
    ddp = load_ckpt(ddp_run / "checkpoints" / "last.ckpt")
    # Trained in float64 (REL_TOL's premise), the P-Adam state included.
    assert {v.dtype for k, v in ddp["state_dict"].items() if k.startswith("encoder.")} == {
        torch.float64
    }
    pathwise = ddp["state_dict"]["loss._extra_state"]["pathwise"]
    assert pathwise["buffers"]["paths"][0]["m"].dtype == torch.float64
    # The same path on both ranks at every step.
    assert _paths(ddp_run / "paths", 0) == _paths(ddp_run / "paths", 1)
    assert len(_paths(ddp_run / "paths", 0)) == K
    # The θ-IS warmup was split over the ranks (each wrote a path range into one folder).
    n = ddp["state_dict"]["loss._extra_state"]["sampler"]["probs"].numel()
    log = (ddp_run / "train.log").read_text()
    for part in (f"[0, {n // 2})", f"[{n // 2}, {n})"):
        assert f"θ-IS warmup of paths {part} on this rank" in log
    single = _single(tmp_path, "single3", K)
    one = load_ckpt(single / "checkpoints" / "last.ckpt")
    assert ddp["global_step"] == one["global_step"] == K
    assert _paths(single / "paths", 0) == _paths(ddp_run / "paths", 0)
    # The checkpoint holds the loss state once (rank 0's, the same on every rank).
    extra_ddp = ddp["state_dict"]["loss._extra_state"]
    extra_one = one["state_dict"]["loss._extra_state"]
    _close(ddp["state_dict"], one["state_dict"], "state_dict")  # weights, π, P-Adam, P-SAGA
    assert extra_ddp["step"] == K and extra_ddp["path_counts"] == extra_one["path_counts"]
    _close(ddp["optimizer_states"], one["optimizer_states"], "optimizer_states")
    # Every rank's random generators, restored by each rank of a resumed run that has it.
    assert len(ddp["rng_state"]["per_rank"]) == 2
    loader = ddp["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    assert loader == [{"epoch": 0, "consumed": 4 * K}]  # global examples, whatever the ranks

    # Resumed on one process (batch 4), it continues like the single-process run.
    resumed = _single(
        tmp_path, "resumed", 2 * K, [f"ckpt_path='{ddp_run / 'checkpoints' / 'last.ckpt'}'"]
    )
    reference = _single(tmp_path, "single6", 2 * K)
    end_resumed = load_ckpt(resumed / "checkpoints" / "last.ckpt")
    end_reference = load_ckpt(reference / "checkpoints" / "last.ckpt")
    assert end_resumed["global_step"] == end_reference["global_step"] == 2 * K
    assert _paths(resumed / "paths", 0) == _paths(reference / "paths", 0)[K:]
    _close(end_resumed["state_dict"], end_reference["state_dict"], "state_dict")
    assert_same(end_resumed["state_dict"]["loss._extra_state"]["path_counts"],
                end_reference["state_dict"]["loss._extra_state"]["path_counts"])  # fmt: skip
