"""Error against cost (the paper's Figs. 1 and 3) and a metric per loss in grouped bars
(TR-808 micro vs meso). The cost of a run includes its θ-IS warmup, shown apart: comparing
SCRAPL's training seconds alone with another loss's would leave out what SCRAPL pays first.

Both take the table rows of :func:`experiments.analysis.summary.summarise`, so what they
show is what the tables say.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from experiments.analysis.series_style import series_style
from experiments.analysis.summary import SummaryRow
from experiments.analysis.tables import metric_label

__all__ = ["CostAxis", "cost_axis", "error_vs_cost_figure", "grouped_bars_figure"]


def _by_loss(rows: list[SummaryRow], metric: str) -> dict[str, SummaryRow]:
    return {r.loss: r for r in rows if r.metric == metric and r.n > 0}


@dataclass(frozen=True)
class CostAxis:
    """What the cost axis shows: ``metric`` (``cost_s``: training + the seconds before the
    first step, the θ-IS warmup; ``step_time_s`` for runs that did not record the warmup),
    its label, the reference loss it is divided by (None: absolute) and a note saying why
    not, when the reference asked for is not among the runs."""

    metric: str
    label: str
    reference: str | None
    note: str


def cost_axis(rows: list[SummaryRow], reference: str = "ploss") -> CostAxis:
    """The cost axis the rows allow (see :class:`CostAxis`)."""
    if _by_loss(rows, "cost_s"):
        metric, label = "cost_s", "seconds: training + θ-IS warmup (filled), training (open)"
    else:
        metric, label = "step_time_s", "seconds per training step (θ-IS warmup not recorded)"
    if reference in _by_loss(rows, metric):
        return CostAxis(metric, f"{label} / {reference}", reference, "")
    note = f"reference {reference!r} not among these runs: absolute values"
    return CostAxis(metric, label, None, note)


def error_vs_cost_figure(
    rows: list[SummaryRow], metric: str = "test/theta_l1", reference: str = "ploss", title: str = ""
) -> Figure | None:
    """Test ``metric`` against the cost of a run, one point per loss of one experiment (and
    variant): filled, training seconds plus the θ-IS warmup; open, training seconds alone
    (:func:`cost_axis`; seconds per step for runs without the warmup recorded). Both axes
    are divided by the ``reference`` loss's means when it is there, and the title says so
    when it is not. Whiskers: the 95 % half-widths (divided alike). None without times."""
    axis = cost_axis(rows, reference)
    errors, costs = _by_loss(rows, metric), _by_loss(rows, axis.metric)
    trained = _by_loss(rows, "train_time_s") if axis.metric == "cost_s" else {}
    losses = sorted(set(errors) & set(costs))
    if not losses:
        return None
    e0 = errors[axis.reference].mean if axis.reference in errors else 1.0
    c0 = costs[axis.reference].mean if axis.reference else 1.0
    fig = Figure(figsize=(6.5, 4.5))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.88)
    ax = fig.add_subplot()
    for i, loss in enumerate(losses):
        e, c = errors[loss], costs[loss]
        xerr = 0.0 if math.isnan(c.ci95) else c.ci95 / c0
        yerr = 0.0 if math.isnan(e.ci95) else e.ci95 / e0
        style = series_style(i)
        x, y = c.mean / c0, e.mean / e0
        if loss in trained and trained[loss].mean < c.mean:  # the warmup's share, open marker
            x_train = trained[loss].mean / c0
            ax.plot([x_train, x], [y, y], color=style["color"], lw=0.8, ls=":")
            ax.plot(x_train, y, style["marker"], mfc="none", color=style["color"])
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=style["marker"], color=style["color"],
                    capsize=3, label=f"{loss} (n={e.n})")  # fmt: skip
        ax.annotate(loss, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
    ax.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    rel = f" / {axis.reference}" if axis.reference else ""
    ax.set_xlabel(axis.label, fontsize=9)
    ax.set_ylabel(f"{metric_label(metric)}{rel}")
    head = title or f"{metric} vs cost"
    ax.set_title(f"{head} (mean, 95 % CI)" + (f"\n{axis.note}" if axis.note else ""), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return fig


def grouped_bars_figure(
    rows: list[SummaryRow], metric: str, split: str, title: str = ""
) -> Figure | None:
    """Bars of ``metric`` per loss, one bar per value of the variant choice ``split`` (e.g.
    ``data`` for micro / meso), with 95 % whiskers; None when ``split`` has < 2 values."""
    cells: dict[str, dict[str, SummaryRow]] = defaultdict(dict)
    for r in rows:
        if r.metric != metric or r.n == 0:
            continue
        parts = dict(p.split("=", 1) for p in r.variant.split(",") if "=" in p)
        if split in parts:
            cells[r.loss][parts[split]] = r
    values = sorted({v for per in cells.values() for v in per})
    if len(values) < 2:
        return None
    losses = sorted(cells)
    width = 0.8 / len(values)
    fig = Figure(figsize=(max(5.0, 1.2 * len(losses) + 2), 4.2))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.2, top=0.9)
    ax = fig.add_subplot()
    pos = np.arange(len(losses))
    for j, value in enumerate(values):
        means = [cells[loss][value].mean if value in cells[loss] else np.nan for loss in losses]
        cis = [cells[loss][value].ci95 if value in cells[loss] else np.nan for loss in losses]
        cis = [0.0 if math.isnan(c) else c for c in cis]
        ax.bar(pos + (j - (len(values) - 1) / 2) * width, means, width, yerr=cis, capsize=3,
               color=f"C{j % 10}", label=f"{split}={value}")  # fmt: skip
    ax.set_xticks(pos, losses, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(metric_label(metric))
    ax.set_title(title or f"{metric} by {split} (mean, 95 % CI)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig
