"""The commands of README.md and docs/: found in their ``bash`` blocks, and made to run fast.

A command runs as written except for what :func:`for_ci` changes, always the same way:

* training and warmup runs get ``preset=tiny`` (replacing the preset named) and are cut to
  one step of one epoch with one validation and one test batch; their outputs go to the
  test's folder (``paths.out_dir``), as does every ``out/`` path;
* ``seed='range(0,N)'`` sweeps take two seeds, ``warmup.n_chunks`` splits stay as written;
  ``--out docs/...`` goes to the test's folder too;
* placeholders (``<run>``, ``<key>``, ``<NNN>``, ...) become the folder or file that the
  commands before them made (a glob, the newest match);
* benchmarks get the smallest sizes of :data:`BENCHMARK_SIZES` after their own options
  (argparse keeps the last value), and write their tables into the test's folder;
* ``my_project/`` (docs/extending.md) is the test's copy of the files that page writes.

Commands that cannot run in CI are in :data:`KEPT` with the reason; the test checks that
every entry of it still matches a command, so the list cannot rot. The longest are in
:data:`SLOW`: the fast suite composes their config (``--cfg job`` of their first job, or
their ``--help``) and ``pytest -m slow`` runs them.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))]

# (page, start of the command) -> why it is not run in CI.
KEPT: dict[tuple[str, str], str] = {
    ("README.md", "python3 -m venv"): "creates a virtual environment: .ci/run does, from scratch",
    ("README.md", "pip install"): "downloads packages: .ci/run installs them",
    (
        "README.md",
        'python -c "import torch; print(torch.cuda.is_available())"',
    ): "needs a CUDA machine (True there)",
    ("docs/cluster.md", "python scripts/train.py"): "needs GPUs or a SLURM cluster",
    ("docs/cluster.md", "python scripts/warmup.py"): "needs a SLURM cluster",
    (
        "docs/experiments.md",
        "python scripts/train.py experiment=tr808_meso loss=mss_linear "
        "preset=quick data=hydrogen_tr808",
    ): "needs Debian's hydrogen-data package",
    ("docs/analysis.md", "python scripts/listen_check.py"): "needs Debian's chromium "
    "(tests/experiments/test_listen_browser.py checks a page in it)",
    ("docs/results/cpu.md", ""): "the record of the CPU runs behind these results (hours)",
    ("docs/results/ablation_cpu.md", ""): "the record of the runs behind these results (hours)",
    ("docs/listen/README.md", ""): "the record of the runs behind the listening page (hours)",
}

# (page, start of the command): run by ``pytest -m slow``; the fast suite checks that they
# compose (a CI budget: each takes 10-45 s on a loaded 2-core machine).
SLOW: set[tuple[str, str]] = {
    ("docs/experiments.md", "python scripts/train.py experiment=chirplet_am_hi_fm_med"),
    ("docs/experiments.md", "python scripts/train.py experiment=granular loss=mss_linear"),
    (
        "docs/experiments.md",
        "python scripts/train.py -m experiment=granular loss=scrapl preset=tiny",
    ),
    ("docs/experiments.md", "python scripts/warmup.py -m experiment=granular warmup.n_chunks"),
    ("docs/experiments.md", "python scripts/train.py -m experiment=granular loss=scrapl seed="),
    ("docs/experiments.md", "python scripts/train.py experiment=tr808_micro"),
    ("docs/benchmarks.md", "python scripts/benchmark.py losses"),
    ("docs/benchmarks.md", "python scripts/benchmark.py precision"),
    ("docs/benchmarks.md", "python scripts/benchmark.py train"),
    (
        "docs/extending.md",
        "PYTHONPATH=my_project:$PYTHONPATH python scripts/train.py "
        "hydra.searchpath=[file://my_project/configs] experiment=sine loss=scrapl",
    ),
}

# Smallest sizes per benchmark: appended after the command's own options.
BENCHMARK_SIZES = {
    "step": "--shape 4096 --J 6 --Q1 4 --Q2 1 --J_fr 2 --Q_fr 1 --T none --F none "
    "--repeats 1 --n-paths 2 --threads 1",
    "ops": "--shape 4096 --J 6 --Q1 4 --Q2 1 --J_fr 2 --Q_fr 1 --T none --F none "
    "--n-paths 2 --top 3",
    "pathwise": "--n-paths 4",
    "losses": "--preset tiny --loss-paths 2 --repeats 1",
    "warmup": "--paths 1 --processes 1",
    "synth": "--batch 2 --n-samples 4410 --repeats 1",
    "scattering": "--kinds 2d --image 24 --J-2d 2 --L 2 --repeats 1 --n-paths 2 --batch 2",
    "listen": "--losses 2 --seeds 1 --repeats 1 --examples 2 --seconds 1 --train-rows 100",
    "train": "--steps 1 --skip 0",
    "precision": "--batches 1",
}
# One training step of one epoch, one validation and one test batch.
ONE_STEP = ("trainer.max_epochs=1 trainer.limit_train_batches=1 trainer.limit_val_batches=1 "
            "trainer.limit_test_batches=1")  # fmt: skip


@dataclass(frozen=True)
class Command:
    page: str
    text: str  # as written (continuation lines joined)

    @property
    def slow(self) -> bool:
        return any(page == self.page and self.text.startswith(start) for page, start in SLOW)

    @property
    def kept(self) -> str | None:
        for (page, start), reason in KEPT.items():
            if page == self.page and self.text.startswith(start):
                return reason
        return None


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def commands(page: str) -> list[Command]:
    """The commands of ``page``'s bash blocks, in order: one per line after joining ``\\``
    continuations, comments and blank lines dropped."""
    out = []
    for block in bash_blocks((ROOT / page).read_text()):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(Command(page, line))
    return out


def doc_files(page: str) -> dict[str, str]:
    """``{path: text}`` of the code blocks that ``page`` asks to save as ``my_project/...``
    files: the last such path named in the paragraph right before the block."""
    text = (ROOT / page).read_text()
    files = {}
    for m in re.finditer(r"```(\w+)\n(.*?)```", text, re.S):
        before = text[: m.start()].rstrip().split("\n\n")[-1]
        paths = re.findall(r"`(my_project/[^`]+)`", before)
        if m.group(1) in ("python", "yaml") and paths:
            files[paths[-1]] = m.group(2)
    return files


def _strip_comment(command: str) -> str:
    return re.sub(r"\s+#.*$", "", command)


def _newest(pattern: str) -> str:
    found = sorted(glob.glob(pattern), key=os.path.getmtime)
    if not found:
        raise FileNotFoundError(f"nothing made by the commands before matches {pattern!r}")
    return found[-1]


def _append(cmd: str, extra: str) -> str:
    """``extra`` at the end of the overrides: before Hydra's ``--cfg`` / ``--help`` flags
    (which take no overrides after them), else at the end."""
    flag = re.search(r"\s--(cfg|help|info|hydra-help)\b", cmd)
    return cmd + extra if flag is None else cmd[: flag.start()] + extra + cmd[flag.start() :]


def for_ci(command: str, tmp: Path) -> str:
    """The command as CI runs it (see the module docstring)."""
    cmd = _strip_comment(command)
    cmd = re.sub(r"(?<![\w/.-])out/", f"{tmp}/out/", cmd)
    cmd = re.sub(r"(?<![\w/.-])out(?=\s|$)", f"{tmp}/out", cmd)
    cmd = cmd.replace("my_project", f"{tmp}/my_project")
    cmd = re.sub(r"seed='range\(0,\s*\d+\)'", "seed='range(0,2)'", cmd)
    cmd = re.sub(r"--out docs/", f"--out {tmp}/docs/", cmd)
    # Placeholders: the newest file or folder matching the path with '*' for each.
    for token in re.findall(r"\S*<[^>\s]+>\S*", cmd):
        head, sep, tail = token.rpartition("=")
        pattern = re.sub(r"<[^>\s]+>", "*", tail)
        cmd = cmd.replace(token, f"{head}{sep}{_newest(pattern)}")
    if re.search(r"scripts/(train|warmup)\.py", cmd):
        cmd = re.sub(r"\bpreset=\w+", "preset=tiny", cmd)
        extra = "" if "preset=tiny" in cmd else " preset=tiny"
        extra += f" paths.out_dir={tmp}/out"
        if "scripts/train.py" in cmd:
            extra += " " + ONE_STEP
        cmd = _append(cmd, extra)
    if "scripts/path_gradients.py" in cmd:
        left, right = cmd.split(" -- ", 1)
        cmd = f"{left} --batches 1 -- " + re.sub(r"\bpreset=\w+", "preset=tiny", right)
    m = re.search(r"scripts/benchmark\.py (\w+)", cmd)
    if m:
        sizes = BENCHMARK_SIZES[m.group(1)]
        if " -- " in cmd:  # options before the Hydra overrides
            left, right = cmd.split(" -- ", 1)
            right = re.sub(r"\bpreset=\w+", "", right) + " preset=tiny"
            cmd = f"{left} {sizes} -- {right}"
        else:
            cmd = f"{cmd} {sizes}"
        if m.group(1) == "losses":
            cmd += f" --md {tmp}/benchmark.md"
    return cmd


def first_job_composed(command: str) -> str:
    """A check of a command without running it: for train.py / warmup.py, the config of its
    first job (``--cfg job``: sweeps take their first value, ``-m`` dropped); for a
    benchmark, its ``--help``."""
    cmd = re.sub(r"\s-m\b", "", command)
    cmd = re.sub(r"(\w=)'range\((\d+),\s*\d+\)'", r"\1\2", cmd)
    cmd = re.sub(r"(\s[\w./]+=)([\w.-]+),[\w.,-]+", r"\1\2", cmd)
    if re.search(r"scripts/benchmark\.py \w+", cmd):
        return re.sub(r"(scripts/benchmark\.py \w+).*", r"\1 --help", cmd)
    return cmd + " --cfg job"
