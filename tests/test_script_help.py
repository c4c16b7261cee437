"""``--help`` of every script answers at once: no heavy library is imported before the
arguments are parsed (torch alone takes seconds to import on a loaded machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "scripts").glob("*.py") if p.name != "run_builder.py")
BENCHMARKS = sorted(
    p.stem for p in (ROOT / "scripts" / "benchmarks").glob("*.py") if p.stem[0] != "_"
)
BENCHMARKS.remove("common")
HEAVY = ("torch", "lightning", "matplotlib", "scipy", "soundfile", "kymatio", "nnAudio")

# Runs a script as ``python scripts/<name> ARGS`` does (its folder first on sys.path), then
# prints the heavy modules it imported.
PROBE = """
import json, runpy, sys
path, args = sys.argv[1], sys.argv[2:]
sys.argv = [path, *args]
sys.path.insert(0, path.rsplit("/", 1)[0])
try:
    runpy.run_path(path, run_name="__main__")
except SystemExit:
    pass
print("@@" + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
"""


def heavy_imports(script: str, *args: str) -> list[str]:
    probe = PROBE % (HEAVY,)
    cmd = [sys.executable, "-c", probe, str(ROOT / "scripts" / script), *args, "--help"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "usage" in proc.stdout.lower() or "powered by hydra" in proc.stdout.lower(), proc.stdout[
        -2000:
    ]
    return json.loads(line[2:])


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_imports_nothing_heavy(script: str) -> None:
    assert heavy_imports(script) == []


@pytest.mark.parametrize("what", BENCHMARKS)
def test_benchmark_help_imports_nothing_heavy(what: str) -> None:
    assert heavy_imports("benchmark.py", what) == []
