"""scripts/path_gradients.py: one report row per path, π compared, bad π refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from scrapl import JTFSLoss

ROOT = Path(__file__).resolve().parents[1]
TINY = ["experiment=granular", "preset=tiny", "data.batch_size=2"]
# configs/preset_values/tiny_granular.yaml's JTFS at its 8192 samples.
TINY_PATHS = JTFSLoss(shape=8192, J=6, Q1=2, Q2=1, J_fr=2, Q_fr=1).n_paths


def _run(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "scripts/path_gradients.py", "--batches", "1", "--threads", "1", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_report_with_probs(tmp_path) -> None:
    probs = torch.linspace(1.0, 2.0, TINY_PATHS)
    torch.save(probs / probs.sum(), tmp_path / "probs.pt")
    torch.save(torch.full((TINY_PATHS,), 1.0 / TINY_PATHS), tmp_path / "uniform.pt")
    out = tmp_path / "report.md"
    compare = ["--compare-probs", str(tmp_path / "uniform.pt")]
    compare += ["--compare-probs", str(tmp_path / "probs.pt")]
    proc = _run("--probs", str(tmp_path / "probs.pt"), *compare, "--out", str(out), "--", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "--out" not in text and "preset=tiny" in text  # the command that made it
    summary = re.findall(r"^\| (density|slope) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", text, re.M)
    assert [s[0] for s in summary] == ["density", "slope"]
    row = r"^\| (\d+) \| ([\d.]+) \| ([\d.]+) \| \S+ \| \S+ \| ([\d.]+) \|$"
    rows = re.findall(row, text, re.M)
    assert [int(r[0]) for r in rows] == list(range(TINY_PATHS))
    # One batch of 2 pairs: every agreement is a multiple of 1/4 (a zero gradient counts 1/2).
    per_path = torch.tensor([[float(r[1]), float(r[2])] for r in rows])
    assert ((per_path * 4).round() == per_path * 4).all()
    assert ((per_path >= 0) & (per_path <= 1)).all()
    # The summary's "one uniform path" is the mean of the rows; "one path from π" their
    # π-weighted mean, with π as written in the last column.
    pi = torch.tensor([float(r[3]) for r in rows])
    torch.testing.assert_close(pi, probs / probs.sum(), atol=1e-4, rtol=0)
    for k, (_, uniform, drawn, _) in enumerate(summary):
        assert abs(float(uniform) - per_path[:, k].mean().item()) < 1e-3
        assert abs(float(drawn) - (probs / probs.sum() * per_path[:, k]).sum().item()) < 1e-3
    # The compared π: uniform has entropy 1 and every path effective, and no rank
    # correlation; the --probs file again gives the summary's one-path-from-π agreement.
    compared = re.findall(r"^\| `([^`]+)` \| ([\d.]+) \| ([\d.]+) \| (.+) \|$", text, re.M)
    assert [Path(c[0]).name for c in compared] == ["uniform.pt", "probs.pt"]
    assert compared[0][1:3] == ("1.000", f"{TINY_PATHS:.1f}")
    assert compared[0][3].split(" | ")[:2] == ["–", "–"]
    assert float(compared[1][1]) < 1.0
    assert compared[1][3].split(" | ")[2:] == [s[2] for s in summary]


def test_probs_of_another_path_set_are_refused(tmp_path) -> None:
    torch.save(torch.ones(TINY_PATHS + 1) / (TINY_PATHS + 1), tmp_path / "probs.pt")
    proc = _run("--probs", str(tmp_path / "probs.pt"), "--", *TINY)
    assert proc.returncode == 2
    assert f"probs must hold one probability per path, shape ({TINY_PATHS},), got" in proc.stderr
