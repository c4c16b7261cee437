"""Every command of README.md and docs/ runs as written (at preset=tiny sizes; see
tests/doc_commands.py for what CI changes and for the commands kept out, with why)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from doc_commands import KEPT, PAGES, ROOT, SLOW, commands, doc_files, first_job_composed, for_ci

RUN = [p for p in PAGES if any(c.kept is None for c in commands(p))]


def _drums(folder: Path, n: int = 24, sr: int = 44100) -> None:
    """``n`` short decaying tones named like drum one-shots (the one-shot data's test)."""
    folder.mkdir(parents=True)
    t = np.arange(sr // 2) / sr
    for i in range(n):
        kind = ("kick", "snare", "tom", "hat")[i % 4]
        tone = np.sin(2 * math.pi * (60 + 40 * i) * t) * np.exp(-8 * t)
        sf.write(folder / f"{kind}_{i:02d}.wav", 0.5 * tone, sr)


def test_every_kept_command_exists_and_says_why() -> None:
    for (page, start), reason in KEPT.items():
        assert page in PAGES, page
        assert any(c.text.startswith(start) for c in commands(page)), (page, start)
        assert len(reason) > 10


def test_extending_page_names_its_files() -> None:
    files = doc_files("docs/extending.md")
    assert {"my_project/sine_synth.py", "my_project/log_spectral.py",
            "my_project/configs/experiment/sine.yaml"} <= set(files)  # fmt: skip


def _run_page(page: str, tmp_path: Path, slow: bool) -> None:
    """Every command of ``page`` not kept out, in order: the slow ones run when ``slow``,
    else only their first job's config is composed."""
    for rel, text in doc_files(page).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    home = tmp_path / "home"
    _drums(home / "drums")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(home), "PYTHONPATH": path}
    for command in commands(page):
        if command.kept:
            continue
        cmd = for_ci(command.text, tmp_path)
        if command.slow and not slow:
            cmd = first_job_composed(cmd)
        started = time.perf_counter()
        proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900)  # fmt: skip
        assert proc.returncode == 0, (
            f"{page}: {command.text}\nran as: {cmd}\n{(proc.stdout + proc.stderr)[-3000:]}"
        )
        print(f"{time.perf_counter() - started:6.1f} s  {command.text}")  # pytest -s shows


def test_links_between_pages_resolve() -> None:
    for page in PAGES:
        text = (ROOT / page).read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path = (ROOT / page).parent / target.split("#")[0]
            assert path.exists(), f"{page}: link to {target} ({path} does not exist)"


def test_every_slow_command_exists() -> None:
    for page, start in SLOW:
        assert any(c.text.startswith(start) and not c.kept for c in commands(page)), (page, start)


@pytest.mark.parametrize("page", RUN)
def test_page_commands_run(page: str, tmp_path: Path) -> None:
    _run_page(page, tmp_path, slow=False)


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted({p for p, _ in SLOW}))
def test_page_commands_run_with_the_long_ones(page: str, tmp_path: Path) -> None:
    _run_page(page, tmp_path, slow=True)


def test_readme_python_runs() -> None:
    # The README's Python is whole programs (docs/method.md's are excerpts of examples/).
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for block in blocks:
        proc = subprocess.run([sys.executable, "-c", block], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        n_paths, path, value = proc.stdout.split()
        assert 0 <= int(path) < int(n_paths) and float(value) >= 0
