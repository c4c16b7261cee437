"""Training curves beside the P-Adam / P-SAGA step statistics, per epoch, for a few runs.

One panel per quantity, one line per run: validation θ L1, the epoch mean of training θ L1,
and the epoch means of the statistics the ``PathwiseStats`` callback logged
(:mod:`scrapl.pathwise.step_stats`): the cosine of a revisited path's stored P-SAGA entry
with its fresh P-Adam output, the cosine of the step's own gradient with the update, the
norm ratio of the update to P-Adam's output and the mean age of the table's entries. Steps
where a statistic is undefined (NaN: a first visit has no stored entry) are left out of its
means; a run that did not log a statistic has no line in its panel.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from matplotlib.figure import Figure

from experiments.analysis.metrics_csv import MetricsTable

__all__ = ["PANELS", "epoch_means", "pathwise_figure"]

# (column, title, prefix of the rows it is read from)
PANELS = (
    ("val/theta_l1", "validation θ L1 ‰", "val"),
    ("train/theta_l1", "training θ L1 ‰ (epoch mean)", "train"),
    ("pathwise/stored_cos", "cos(stored P-SAGA entry, fresh P-Adam output)", "train"),
    ("pathwise/out_cos", "cos(step's gradient, update)", "train"),
    ("pathwise/norm_ratio", "‖update‖ / ‖P-Adam output‖", "train"),
    ("pathwise/table_age", "mean age of the P-SAGA table (steps)", "train"),
)


def epoch_means(table: MetricsTable, column: str, rows: str = "train") -> list[tuple[int, float]]:
    """``(epoch, mean)`` of ``column``'s finite values over the training rows of each epoch
    (``rows="train"``: rows holding ``train/loss``), or over its validation rows
    (``rows="val"``: the epoch's last validation value; the pre-fit validation is left out)."""
    if rows not in ("train", "val"):
        raise ValueError(f"rows must be 'train' or 'val', got {rows!r}")
    values: dict[int, list[float]] = defaultdict(list)
    trained = False
    for row in table.rows:
        trained = trained or "train/loss" in row
        if column not in row or "epoch" not in row or not math.isfinite(row[column]):
            continue
        if rows == "train" and "train/loss" in row:
            values[int(row["epoch"])].append(row[column])
        elif rows == "val" and "train/loss" not in row and trained:
            values[int(row["epoch"])] = [row[column]]
    return [(e, sum(v) / len(v)) for e, v in sorted(values.items())]


def pathwise_figure(runs: Sequence[tuple[str, MetricsTable]], title: str = "") -> Figure:
    """The panels of :data:`PANELS` for ``runs`` (``(label, metrics)``), against the epoch."""
    if not runs:
        raise ValueError("runs must hold at least one (label, metrics) pair")
    fig = Figure(figsize=(12.6, 6.8), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    for ax, (column, name, rows) in zip(axes, PANELS, strict=True):
        for label, table in runs:
            points = epoch_means(table, column, rows)
            if points:
                ax.plot(*zip(*points, strict=True), label=label, linewidth=1.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
