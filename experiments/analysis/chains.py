"""Resumed runs joined to the runs they continue, and the check that a history is complete.

A run started with ``ckpt_path=<run>/checkpoints/<name>.ckpt`` continues that run in a new
folder. Its config names the checkpoint in ``resumed_from`` (when present) or ``ckpt_path``;
the run whose folder holds that checkpoint is its origin. A :class:`RunChain` is the whole
history of one training: the origin's rows up to the resumed step, then the continuation's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from experiments.analysis.errors import RunFolderError
from experiments.analysis.metrics_csv import MetricsTable
from experiments.analysis.run_folder import RunFolder, Skipped

__all__ = ["RunChain", "check_complete", "chain_runs", "resume_reference"]


@dataclass
class RunChain:
    """One training's history: ``runs[0]`` started it, each later run resumed the previous.

    Attributes:
        runs: oldest first; the last one holds the test results.
        metrics: the runs' rows joined: each run's rows before the step its successor
            resumed at, then the successor's (test rows of the last run only).
    """

    runs: list[RunFolder]
    metrics: MetricsTable

    @property
    def last(self) -> RunFolder:
        return self.runs[-1]

    @property
    def seed(self) -> int:
        return self.last.seed


def resume_reference(run: RunFolder) -> str | None:
    """The checkpoint (or run folder) the run resumed from, as written in its config."""
    for key in ("resumed_from", "ckpt_path"):
        value = run.config.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _holds(run: RunFolder, reference: str) -> bool:
    """Whether ``reference`` points into ``run``'s folder (absolute, or relative to any cwd)."""
    ref = PurePath(reference).parts
    own = run.path.parts[-3:]  # <experiment>/<loss>/<run name>: unique per launch
    return any(ref[i : i + len(own)] == own for i in range(len(ref) - len(own) + 1))


def _join(tables: list[MetricsTable]) -> MetricsTable:
    columns: list[str] = []
    rows: list[dict[str, float]] = []
    for i, table in enumerate(tables):
        columns += [c for c in table.columns if c not in columns]
        later = tables[i + 1 :]
        if later:
            # The successor starts at the step of the checkpoint: what this run logged from
            # there on was redone (or never finished) and belongs to the successor.
            start = min((int(r["step"]) for r in later[0].rows), default=0)
            rows += [
                r
                for r in table.rows
                if r["step"] < start and not any(k.startswith("test/") for k in r)
            ]
        else:
            rows += list(table.rows)
    return MetricsTable(columns=tuple(columns), rows=tuple(rows))


def chain_runs(runs: list[RunFolder]) -> tuple[list[RunChain], list[Skipped], list[str]]:
    """Join resumed runs to their origins.

    Returns ``(chains, skipped, notes)``: of two runs resumed from the same run, the later
    one (by folder name) is kept and the other skipped; a run resumed from a folder that is
    not among ``runs`` stands alone, with a note.
    """
    skipped: list[Skipped] = []
    notes: list[str] = []
    continuations: dict[int, list[RunFolder]] = {}
    resumed: set[int] = set()
    for run in runs:
        ref = resume_reference(run)
        if ref is None:
            continue
        origin = next((o for o in runs if o is not run and _holds(o, ref)), None)
        if origin is None:
            notes.append(
                f"{run.path}: resumed from {ref}, which is not among the runs read; its "
                "curve starts at the resumed step"
            )
            continue
        continuations.setdefault(id(origin), []).append(run)
        resumed.add(id(run))
    successor: dict[int, RunFolder] = {}
    for origin_id, options in continuations.items():
        *dropped, kept = sorted(options, key=lambda r: r.path.name)
        successor[origin_id] = kept
        for run in dropped:
            skipped.append(Skipped(run.path, f"{kept.path} resumed the same run later"))
    chains = []
    for start in runs:
        if id(start) in resumed:
            continue
        members = [start]
        while (nxt := successor.get(id(members[-1]))) is not None:
            if any(m is nxt for m in members):  # runs resuming each other: no history
                break
            members.append(nxt)
        chains.append(RunChain(runs=members, metrics=_join([m.metrics for m in members])))
    placed = {id(r) for c in chains for r in c.runs} | {
        id(r) for r in runs if r.path in {s.path for s in skipped}
    }
    skipped += [Skipped(r.path, "continues a skipped run") for r in runs if id(r) not in placed]
    return chains, skipped, notes


def check_complete(chain: RunChain) -> None:
    """Raise :class:`RunFolderError` unless the history trained every epoch and, if its
    config asks for a test, holds a test row."""
    cfg = chain.last.config
    trainer = cfg.get("trainer") if isinstance(cfg.get("trainer"), dict) else {}
    train_rows = [r for r in chain.metrics.rows if any(k.startswith("train/") for k in r)]
    if not train_rows:
        raise RunFolderError("partial: metrics.csv holds no training step")
    max_steps = trainer.get("max_steps", -1)
    max_epochs = trainer.get("max_epochs")
    if isinstance(max_steps, int) and max_steps > 0:
        done = max(int(r["step"]) for r in train_rows) + 1
        if done < max_steps:
            raise RunFolderError(f"partial: trained {done} of trainer.max_steps={max_steps} steps")
    elif isinstance(max_epochs, int) and max_epochs > 0:
        epochs = [int(r["epoch"]) for r in train_rows if "epoch" in r]
        done = max(epochs) + 1 if epochs else 0
        if done < max_epochs:
            raise RunFolderError(
                f"partial: trained {done} of trainer.max_epochs={max_epochs} epochs"
            )
    if cfg.get("test", False) and not chain.metrics.has("test/"):
        raise RunFolderError("partial: config has test=true but metrics.csv has no test row")
