"""scripts/benchmark.py precision: the float32 floor is exact, bf16 moves θ̂ and the gradient."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_precision_rows() -> None:
    cmd = [sys.executable, "scripts/benchmark.py", "precision", "--batches", "1", "--",
           "experiment=granular", "preset=tiny", "loss=scrapl"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = dict(
        re.findall(
            r"^(\w+) batch 0: θ̂ max \|Δ\| \S+ ‰, gradient relative error (\S+),", proc.stdout, re.M
        )
    )
    assert set(rows) == {"fp32", "bf16", "compile"}
    assert float(rows["fp32"]) == 0.0  # the same build twice: deterministic
    assert float(rows["bf16"]) > 1e-3  # bfloat16 is visible in the gradient
    assert float(rows["compile"]) < 1e-2
