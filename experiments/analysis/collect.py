"""From a folder of runs to checked groups: read, chain resumed runs, drop partial ones, group.

:func:`collect` is what ``scripts/aggregate.py`` and ``scripts/plot.py`` start from; every
folder left out is in :attr:`Collection.skipped` with its reason, and
:func:`report_text` lists them for the user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from experiments.analysis.chains import chain_runs, check_complete
from experiments.analysis.errors import RunFolderError
from experiments.analysis.grouping import OlderRuns, RunGroup, group_runs
from experiments.analysis.run_folder import Skipped, read_runs

__all__ = ["Collection", "collect", "report_text"]


@dataclass
class Collection:
    groups: list[RunGroup]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect(root: str | os.PathLike, older: OlderRuns | None = None) -> Collection:
    """Every usable run under ``root``, grouped (see :mod:`experiments.analysis.grouping`;
    ``older``: the values of keys that older runs lack, :class:`OlderRuns`).

    Raises :class:`~experiments.analysis.errors.MixedConfigError` when a group mixes
    configurations.
    """
    runs, skipped = read_runs(root)
    chains, chain_skipped, notes = chain_runs(runs)
    skipped += chain_skipped
    complete = []
    for chain in chains:
        try:
            check_complete(chain)
        except RunFolderError as err:
            skipped += [Skipped(r.path, str(err)) for r in chain.runs]
            continue
        complete.append(chain)
    groups, duplicates = group_runs(complete, older)
    skipped += duplicates
    return Collection(groups, sorted(skipped, key=lambda s: s.path), notes)


def report_text(collection: Collection, extra_notes: list[str] = ()) -> str:
    """The groups found, the folders skipped (with reasons) and the notes, as plain text."""
    lines = ["groups (experiment / loss[variant]: runs, seeds):"]
    for g in collection.groups:
        seeds = ", ".join(map(str, g.seeds))
        lines.append(f"  {g.key.experiment} / {g.key.label}: {len(g.chains)} runs (seeds {seeds})")
    if not collection.groups:
        lines.append("  none")
    lines.append(f"skipped folders: {len(collection.skipped)}")
    lines += [f"  {s.path}: {s.reason}" for s in collection.skipped]
    notes = [*collection.notes, *extra_notes]
    if notes:
        lines.append("notes:")
        lines += [f"  {n}" for n in notes]
    return "\n".join(lines) + "\n"
