"""The layout rules the code keeps: the module reaches a synth only through the object it is
given, the benchmarks sit behind one entry point without import circles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement of ``path``, at any depth."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_module_imports_no_synth() -> None:
    imports = imported_modules(ROOT / "experiments" / "module.py")
    assert imports, "no import found: the parse is wrong"
    assert not [m for m in imports if m.startswith("experiments.synths")], imports


def script_module_name(path: Path) -> str:
    rel = path.relative_to(SCRIPTS).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def test_scripts_have_no_import_circle() -> None:
    files = [*SCRIPTS.glob("*.py"), *SCRIPTS.glob("benchmarks/*.py")]
    local = {script_module_name(f): f for f in files}
    graph = {
        name: {m for m in imported_modules(f) if m in local and m != name}
        for name, f in local.items()
    }
    # benchmarks/__init__ is imported by every benchmarks.x import.
    for name, deps in graph.items():
        if name != "benchmarks" and any(d.startswith("benchmarks.") for d in deps):
            deps.add("benchmarks")
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        if state.get(name) == 1:
            raise AssertionError(f"import circle: {' -> '.join([*stack, name])}")
        if state.get(name) == 2:
            return
        state[name] = 1
        for dep in sorted(graph[name]):
            visit(dep, [*stack, name])
        state[name] = 2

    for name in sorted(graph):
        visit(name, [])
    # The old layout had one: benchmark <-> benchmark_losses. The check would have seen it.
    assert "benchmark" in graph and "benchmarks.losses" in graph


def test_every_benchmark_is_listed_and_dispatched() -> None:
    from importlib import util

    spec = util.spec_from_file_location("benchmarks", SCRIPTS / "benchmarks" / "__init__.py")
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = {p.stem for p in (SCRIPTS / "benchmarks").glob("*.py")} - {"__init__", "common"}
    assert {m for m, _ in module.WHAT.values()} == files
    assert not list(SCRIPTS.glob("benchmark_*.py"))
    out = subprocess.run([sys.executable, str(SCRIPTS / "benchmark.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    for name, (_, what) in module.WHAT.items():
        assert f"  {name}" in out and what in out
    bad = subprocess.run([sys.executable, str(SCRIPTS / "benchmark.py"), "nope"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "unknown benchmark 'nope'; choose from step," in bad.stderr
