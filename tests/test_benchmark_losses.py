"""scripts/benchmark.py losses: every loss of the menu built from its config, timed, tabled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # one fresh interpreter per loss: ~20 s
def test_losses_table(tmp_path) -> None:
    md = tmp_path / "bench.md"
    cmd = [sys.executable, "scripts/benchmark.py", "losses",
           "mss_linear,ploss,scrapl,scrapl_no_theta_is", "--preset", "tiny", "--loss-paths", "3",
           "--repeats", "1", "--threads", "1", "--md", str(md)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = md.read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if "|" in line}
    assert rows["mss_linear"].endswith("| 1 |")  # the reference of the ratios
    assert "`scrapl.SCRAPLLoss` | 3 paths |" in rows["scrapl"]
    assert "`experiments.losses.theta_loss.ThetaLoss` | 1 runs |" in rows["ploss"]
    assert "same loss config as scrapl" in rows["scrapl_no_theta_is"]
    assert "experiment=granular preset=tiny, batch 4" in text


def test_unknown_loss_is_refused() -> None:
    cmd = [sys.executable, "scripts/benchmark.py", "losses", "mss_linear,nope"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "losses: unknown ['nope']; choose 'all' or from" in proc.stderr
