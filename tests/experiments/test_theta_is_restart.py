"""A training run killed during its θ-IS warmup resumes the warmup when it is started again.

The warmup directory is keyed by what determines its values (experiments.theta_is), not by
the run folder, so ``scripts/train.py`` started again after a SIGKILL finds the values the
killed process wrote, computes only the missing ones, and ends with the π of an
uninterrupted warmup. A temporary file the kill left half-written is ignored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ONE_STEP_FIT, ROOT

# Tiny training set-up; 12 power iterations per (path, θ) make the warmup last long enough
# (several seconds) to be killed in the middle.
RUN = [
    "experiment=granular",
    "loss=scrapl",
    "preset=tiny",
    "theta_is.n_examples=2",
    "theta_is.n_iter=12",
    *ONE_STEP_FIT,
]


def _train(out: Path) -> subprocess.Popen:
    env = dict(os.environ, HYDRA_FULL_ERROR="1")
    return subprocess.Popen(
        [sys.executable, "scripts/train.py", *RUN, f"paths.out_dir={out}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _values(cache: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every value file in the one warmup folder of ``cache``."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob("*/vals_*_*.pt")}


@pytest.mark.slow  # two fresh interpreters and a warmup of 28 paths: ~30-60 s
def test_killed_warmup_resumes_when_training_is_restarted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cache = out / "theta_is"
    proc = _train(out)
    deadline = time.monotonic() + 240
    while len(_values(cache)) < 6:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the warmup did not start"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _values(cache)
    (warm_dir,) = [p for p in cache.iterdir() if p.name != "logs"]
    n_paths = 28
    assert 6 <= len(before) < 2 * n_paths and not (warm_dir / "probs.pt").exists()
    # What a kill during an atomic write leaves: a temporary file beside the values.
    (warm_dir / ".vals_27_1.pt.abc123.tmp").write_bytes(b"half a file")

    restarted = _train(out)  # a new launch: a run folder of its own
    _, err = restarted.communicate(timeout=600)
    assert restarted.returncode == 0, err
    after = _values(cache)
    assert len(after) == 2 * n_paths
    # The values of the killed run were kept, not recomputed.
    assert {k: after[k] for k in before} == before
    probs = torch.load(warm_dir / "probs.pt", weights_only=True)
    (run,) = [p for p in (out / "granular" / "scrapl").iterdir() if (p / "theta_is").exists()]
    assert (run / "theta_is" / "probs.pt").read_bytes() == (warm_dir / "probs.pt").read_bytes()

    # The same π as a warmup that was never interrupted, in another cache.
    fresh = tmp_path / "fresh"
    uninterrupted = _train(fresh)
    _, err = uninterrupted.communicate(timeout=600)
    assert uninterrupted.returncode == 0, err
    (fresh_dir,) = [p for p in (fresh / "theta_is").iterdir() if p.name != "logs"]
    assert fresh_dir.name == warm_dir.name
    assert torch.equal(torch.load(fresh_dir / "probs.pt", weights_only=True), probs)
