"""The page's tables: per experiment (and variant), rows of test sounds, a column per loss.

Rows are aligned by the kept examples' keys (:mod:`experiments.test_audio_store`): every
column of a table must hold the same test sounds, with equal targets. Runs of one experiment
whose kept sounds differ (another test set, another ``n_examples``) or whose targets differ
under equal keys (another synth set-up) cannot share rows: :class:`ListenError` names both
folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from experiments.listen.runs import ListenError, ListenRuns
from experiments.listen.seed_choice import SeedChoice, choose_run
from experiments.test_audio_store import KeptExample

__all__ = ["Column", "ListenTable", "Row", "build_tables", "row_label"]

# Two renderings of one target by the same synth in different processes differ only by
# float32 rounding in differently ordered sums (~1e-7 of the peak per operation, a few
# hundred operations deep): 1e-4 of the peak separates that from another sound.
TARGET_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Column:
    label: str
    choice: SeedChoice


@dataclass(frozen=True)
class Row:
    key: tuple[tuple[str, int | str], ...]
    label: str
    target: KeptExample
    cells: tuple[KeptExample, ...]  # one per column


@dataclass(frozen=True)
class ListenTable:
    experiment: str
    variant: str
    sr: int
    n_test: int
    theta_names: tuple[str, ...]
    error_name: str  # the per-example error shown (``theta_l1`` or an audio distance)
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    @property
    def title(self) -> str:
        return f"{self.experiment} [{self.variant}]" if self.variant else self.experiment


def row_label(key: tuple[tuple[str, int | str], ...]) -> str:
    """A test sound's name on the page, from its key."""
    entries = dict(key)
    if "name" in entries:
        return str(entries["name"])
    if "point" in entries:
        seed = f", target seed {entries['seed']}" if "seed" in entries else ""
        return f"grid point {entries['point']}{seed}"
    return ", ".join(f"{k} {v}" for k, v in key)


def _error_name(examples: Sequence[KeptExample]) -> str:
    common = set.intersection(*(set(e.errors) for e in examples))
    if "theta_l1" in common:
        return "theta_l1"
    return sorted(common)[0] if common else ""


def _check_targets(reference: Column, other: Column, key: tuple, a: KeptExample, b: KeptExample):
    x, sr_a = sf.read(a.target, dtype="float32", always_2d=True)
    y, sr_b = sf.read(b.target, dtype="float32", always_2d=True)
    peak = float(max(np.abs(x).max(initial=0.0), np.abs(y).max(initial=0.0)))
    if x.shape != y.shape or sr_a != sr_b or np.abs(x - y).max() > TARGET_TOLERANCE * peak:
        raise ListenError(
            f"the target of test sound {row_label(key)} differs between "
            f"{reference.choice.run.run.path} and {other.choice.run.run.path}: the runs do not "
            "share a test set (another synth or data set-up); build their pages separately"
        )


def _table(experiment: str, variant: str, columns: list[Column]) -> ListenTable:
    ref = columns[0]
    ref_audio = ref.choice.run.audio
    for col in columns[1:]:
        audio = col.choice.run.audio
        where = f"{ref.choice.run.run.path} and {col.choice.run.run.path}"
        if set(audio.keys) != set(ref_audio.keys) or audio.n_test != ref_audio.n_test:
            only = sorted(set(ref_audio.keys) ^ set(audio.keys))
            shown = ", ".join(row_label(k) for k in only[:3]) + (" ..." if len(only) > 3 else "")
            raise ListenError(
                f"runs of {experiment} cannot be aligned: {where} kept different test sounds "
                f"({ref_audio.n_test} and {audio.n_test} test examples; not in both: {shown}); "
                "their test sets differ: build their pages separately"
            )
        if audio.sr != ref_audio.sr or audio.theta_names != ref_audio.theta_names:
            raise ListenError(
                f"runs of {experiment} cannot be aligned: {where} differ in sample rate "
                f"({ref_audio.sr}, {audio.sr}) or θ ({ref_audio.theta_names}, {audio.theta_names})"
            )
    rows = []
    for target in ref_audio.examples:
        cells = []
        for col in columns:
            cell = next(e for e in col.choice.run.audio.examples if e.key == target.key)
            if col is not ref:
                _check_targets(ref, col, target.key, target, cell)
            cells.append(cell)
        rows.append(Row(target.key, row_label(target.key), target, tuple(cells)))
    examples = [c for row in rows for c in row.cells]
    return ListenTable(
        experiment=experiment,
        variant=variant,
        sr=ref_audio.sr,
        n_test=ref_audio.n_test,
        theta_names=ref_audio.theta_names,
        error_name=_error_name(examples),
        columns=tuple(columns),
        rows=tuple(rows),
    )


def build_tables(
    found: ListenRuns, seed: int | None = None, losses: Sequence[str] | None = None
) -> list[ListenTable]:
    """One table per (experiment, variant) of ``found``; ``seed`` as in
    :func:`~experiments.listen.seed_choice.choose_run`; ``losses``: the losses shown, in
    this order (None: all, by name)."""
    by_table: dict[tuple[str, str], list[Column]] = {}
    labels_seen: set[str] = set()
    for group, runs in zip(found.groups, found.runs, strict=True):
        key = group.key
        labels_seen.add(key.loss)
        if losses is not None and key.loss not in losses:
            continue
        label = key.loss
        choice = choose_run(runs, f"{key.experiment}/{key.label}", seed)
        by_table.setdefault((key.experiment, key.variant_label), []).append(Column(label, choice))
    if losses is not None:
        unknown = [name for name in losses if name not in labels_seen]
        if unknown:
            raise ListenError(
                f"--losses: no runs of {', '.join(unknown)} (losses found: "
                f"{', '.join(sorted(labels_seen))})"
            )
        order = {name: i for i, name in enumerate(losses)}
        for columns in by_table.values():
            columns.sort(key=lambda c: order[c.label])
    return [_table(e, v, cols) for (e, v), cols in sorted(by_table.items())]
