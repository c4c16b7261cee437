"""A run's ``metrics.csv`` (Lightning's CSVLogger) as rows of numbers, in logging order.

The logger writes one row per ``log_metrics`` call, in the order of the calls: training rows
(``train/*``, every ``log_every_n_steps`` steps), validation rows (``val/*``, per validation
epoch) and test rows (``test/*``). Cells of metrics not logged by a call are empty.

Which training step a validation belongs to: inside ``fit`` Lightning logs a validation
with the index of the training batch that preceded it (``step = global_step - 1``), while
a validation before any training step (``validate_before_fit``) is logged at the number of
steps already taken (0 for a fresh run). :func:`validation_curve` turns both into the
number of optimizer steps taken when the validation ran.

Steps never go back in the file of one run: a run continued in its own folder cuts the file
back to its checkpoint first (``experiments.checkpoints.trim_metrics_after``). Steps that do
go back are two runs' histories mixed in one file; :func:`one_history` refuses them, except
where a run resumed in place at that step (``resumed_in_place`` in its config.yaml) without
the file being cut back, where the resumed rows replace the earlier ones.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

from experiments.analysis.errors import RunFolderError

__all__ = [
    "MetricsTable",
    "last_values",
    "one_history",
    "read_metrics_csv",
    "train_values",
    "validation_curve",
]


@dataclass(frozen=True)
class MetricsTable:
    """The numeric cells of a metrics.csv.

    Attributes:
        columns: the header, in file order.
        rows: one dict per row holding its non-empty cells (``step`` always, an int).
    """

    columns: tuple[str, ...]
    rows: tuple[dict[str, float], ...]

    def has(self, prefix: str) -> bool:
        """Whether some row holds a value of a column starting with ``prefix``."""
        return any(k.startswith(prefix) for row in self.rows for k in row)


def read_metrics_csv(path: str | os.PathLike) -> MetricsTable:
    """Read a metrics.csv; raises :class:`RunFolderError` naming what is wrong.

    Every non-empty cell must be a number and ``step`` an integer in every row; a row with
    more or fewer cells than the header (a file cut short by a crash) is an error.
    """
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            body = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RunFolderError(f"metrics.csv cannot be read: {err}") from err
    if not header:
        raise RunFolderError("metrics.csv is empty")
    if "step" not in header:
        raise RunFolderError(f"metrics.csv has no 'step' column (header: {','.join(header)})")
    rows = []
    for line_no, cells in enumerate(body, start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise RunFolderError(
                f"metrics.csv line {line_no} has {len(cells)} cells, the header {len(header)} "
                "(file cut short?)"
            )
        row: dict[str, float] = {}
        for name, text in zip(header, cells, strict=True):
            if text == "":
                continue
            try:
                row[name] = float(text)
            except ValueError:
                raise RunFolderError(
                    f"metrics.csv line {line_no}, column {name!r}: {text!r} is not a number"
                ) from None
        step = row.get("step")
        if step is None or not math.isfinite(step) or step != int(step) or step < 0:
            raise RunFolderError(f"metrics.csv line {line_no}: step must be an integer >= 0")
        row["step"] = int(step)
        rows.append(row)
    return MetricsTable(columns=tuple(header), rows=tuple(rows))


def one_history(table: MetricsTable, resumed_at: list[int] = ()) -> MetricsTable:
    """``table`` as one history: raises :class:`RunFolderError` where its steps go back,
    unless they go back to a step in ``resumed_at`` (the global steps of the run's in-place
    resumes), where the rows logged from that step on before it are dropped."""
    rows: list[dict[str, float]] = []
    for number, row in enumerate(table.rows, start=1):
        step = int(row["step"])
        last = max((int(r["step"]) for r in rows), default=0)
        if step < last:
            if step not in resumed_at:
                raise RunFolderError(
                    f"metrics.csv row {number}: the step goes back from {last} to {step} "
                    "outside a recorded resume, so two runs wrote into this folder (or a "
                    "history was appended to another): not one run's history, left out"
                )
            rows = [r for r in rows if int(r["step"]) < step]
        rows.append(row)
    return MetricsTable(columns=table.columns, rows=tuple(rows))


def last_values(table: MetricsTable, prefix: str) -> dict[str, float]:
    """The last logged value of every column starting with ``prefix`` (e.g. ``"test/"``)."""
    out: dict[str, float] = {}
    for row in table.rows:
        out.update({k: v for k, v in row.items() if k.startswith(prefix)})
    return out


def train_values(table: MetricsTable, column: str) -> list[tuple[int, float]]:
    """``(step, value)`` of every row holding ``column``, in logging order."""
    return [(int(row["step"]), row[column]) for row in table.rows if column in row]


def validation_curve(
    table: MetricsTable, column: str = "val/theta_l1", train_prefix: str = "train/"
) -> list[tuple[int, float]]:
    """``(optimizer steps taken, value)`` of every validation logging ``column``.

    A validation row preceded by a training row (``train_prefix``) ran inside fit, after
    training step ``step``: it belongs to step ``step + 1``. One before any training row ran
    before training started, at ``step`` (see the module docstring).
    """
    out = []
    trained = False
    for row in table.rows:
        if any(k.startswith(train_prefix) for k in row):
            trained = True
        if column in row:
            step = int(row["step"])
            out.append((step + 1 if trained else step, row[column]))
    return out
