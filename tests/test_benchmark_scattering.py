"""scripts/benchmark.py scattering at tiny sizes: every mode runs, and the full loss equals the
same distance computed on kymatio's transform."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_runs_every_mode_and_the_full_loss_is_kymatios(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            *(str(ROOT / "scripts" / "benchmark.py"), "scattering"),
            *("--kinds", "2d", "--image", "24", "--J-2d", "2", "--L", "2"),
            *("--repeats", "1", "--n-paths", "2", "--batch", "2"),
            *("--json", str(tmp_path / "results.json")),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    results = json.loads((tmp_path / "results.json").read_text())["2d"]
    assert set(results) == {"scrapl", "full", "kymatio"}
    assert results["scrapl"]["n_paths"] == results["full"]["n_paths"] == 2 * 2 + 2 * 2 * 1
    assert len(results["scrapl"]["per_path_ms"]) == 2
    # float32, both the mean over 8 paths of per-path 2-norms: rounding, ~1e-7 relative.
    full, kym = results["full"]["value"], results["kymatio"]["value"]
    assert abs(full - kym) <= 1e-5 * abs(kym)
    assert re.search(r"full / scrapl step time: \d+x", out.stdout)
