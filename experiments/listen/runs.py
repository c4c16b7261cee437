"""The runs a listening page is built from: read, chained, grouped, each with its test sounds.

The run folders are read by the analysis package (:mod:`experiments.analysis`): resumed runs
are joined to the runs they continue, partial and crashed runs are left out (and reported),
and the runs are grouped by experiment, loss and the config choices that differ between
them. Every usable run must then hold its kept test sounds
(:mod:`experiments.test_audio_store`): its own ``test_audio/`` (written when it was tested),
else the one of a later evaluation (``evaluations/<name>/test_audio/``, written by
``scripts/evaluate.py``), that of the best checkpoint first. Nothing is written into the
run folders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from experiments.analysis.chains import RunChain, chain_runs, check_complete
from experiments.analysis.errors import RunFolderError
from experiments.analysis.grouping import RunGroup, group_runs
from experiments.analysis.run_folder import RunFolder, Skipped, read_runs
from experiments.test_audio_store import MANIFEST, TestAudioSet, read_test_audio

__all__ = ["ListenError", "ListenRun", "ListenRuns", "collect_listen_runs", "test_audio_folder"]


class ListenError(ValueError):
    """Input a listening page cannot be built from; the message names the folder."""


@dataclass
class ListenRun:
    """One training history (its last run holds the test) and its kept test sounds."""

    chain: RunChain
    audio: TestAudioSet

    @property
    def run(self) -> RunFolder:
        return self.chain.last

    @property
    def seed(self) -> int:
        return self.chain.seed


@dataclass
class ListenRuns:
    """The groups found (``runs[group index]`` in group order), and the folders left out."""

    groups: list[RunGroup]
    runs: list[list[ListenRun]]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _checkpoint_name(path: object) -> str:
    return Path(str(path)).name if path else ""


def test_audio_folder(run: RunFolder) -> Path:
    """The run's kept test sounds: ``test_audio/``, else the evaluation of its best
    checkpoint, else its newest evaluation; raises :class:`ListenError` when it has none."""
    own = run.path / "test_audio"
    if (own / MANIFEST).is_file():
        return own
    evaluated = sorted(run.path.glob(f"evaluations/*/test_audio/{MANIFEST}"))
    if evaluated:
        best = _checkpoint_name(run.summary.get("best_checkpoint"))
        for manifest in reversed(evaluated):
            try:
                checkpoint = read_test_audio(manifest.parent).checkpoint
            except ValueError:
                continue
            if best and _checkpoint_name(checkpoint) == best:
                return manifest.parent
        return evaluated[-1].parent
    best = run.summary.get("best_checkpoint") or "<run>/checkpoints/best-epoch<NNN>.ckpt"
    raise ListenError(
        f"{run.path}: no test sounds (no test_audio/{MANIFEST}, nor one in evaluations/): "
        f"the run predates them; write them with python scripts/evaluate.py "
        f"ckpt_path={best} metrics=none"
    )


def _read_roots(roots: Sequence[str | os.PathLike]) -> tuple[list[RunFolder], list[Skipped]]:
    if not roots:
        raise ListenError("no run folders given: name at least one folder of runs")
    runs: dict[Path, RunFolder] = {}
    skipped: list[Skipped] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise ListenError(f"{root}: not a folder (RUNS must be run folders or folders of runs)")
        found, left_out = read_runs(root)
        if not found and not left_out:
            raise ListenError(
                f"{root}: no run folder in it (none holds config.yaml or metrics.csv)"
            )
        for run in found:
            runs.setdefault(run.path.resolve(), run)
        skipped += left_out
    return list(runs.values()), skipped


def collect_listen_runs(roots: Sequence[str | os.PathLike]) -> ListenRuns:
    """Every usable run under ``roots``, grouped, with its test sounds.

    Raises :class:`ListenError` naming the folder: a root that is not a folder or holds no
    run folder, no usable run at all, or a usable run without test sounds (or with a broken
    manifest); :class:`~experiments.analysis.errors.MixedConfigError` when one group's runs
    differ in config.
    """
    runs, skipped = _read_roots(roots)
    chains, chain_skipped, notes = chain_runs(runs)
    skipped = skipped + chain_skipped
    complete = []
    for chain in chains:
        try:
            check_complete(chain)
        except RunFolderError as err:
            skipped += [Skipped(r.path, str(err)) for r in chain.runs]
            continue
        complete.append(chain)
    if not complete:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "none found"
        names = ", ".join(str(r) for r in roots)
        raise ListenError(f"{names}: no complete run to listen to ({reasons})")
    groups, duplicates = group_runs(complete)
    skipped += duplicates
    listen_runs = []
    for group in groups:
        members = []
        for chain in group.chains:
            folder = test_audio_folder(chain.last)
            try:
                audio = read_test_audio(folder)
            except (OSError, ValueError) as err:
                raise ListenError(
                    f"{chain.last.path}: its test sounds are unusable: {err}"
                ) from None
            members.append(ListenRun(chain=chain, audio=audio))
        listen_runs.append(members)
    return ListenRuns(groups, listen_runs, sorted(skipped, key=lambda s: s.path), notes)
