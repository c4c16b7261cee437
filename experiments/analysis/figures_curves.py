"""Validation curves with 95 % bands, one line per loss (the paper's Figs. 2, 4 and 5)."""

from __future__ import annotations

from matplotlib.figure import Figure

from experiments.analysis.curve_bands import curve_band
from experiments.analysis.grouping import RunGroup
from experiments.analysis.series_style import series_style

__all__ = ["validation_curves_figure"]

X_LABELS = {
    "step": "training steps",
    "time": "training time (s; θ-IS warmup not recorded)",
    "cost": "seconds: θ-IS warmup, then training",
}


def validation_curves_figure(
    groups: list[RunGroup],
    column: str = "val/theta_l1",
    x: str = "step",
    title: str = "",
    ylabel: str = "val θ L1 (‰)",
) -> Figure | None:
    """Mean validation curve of each group with its band; None when no group has one.

    Args:
        groups: the groups to draw (normally the losses of one experiment and variant).
        column: the validation metric.
        x: ``"step"`` (optimizer steps), ``"time"`` (training seconds, ``time/train_s``) or
            ``"cost"`` (the same after the seconds before the first step: the θ-IS warmup).
    """
    bands = [(g, b) for g in groups if (b := curve_band(g, column, x)) is not None]
    if not bands:
        return None
    fig = Figure(figsize=(7.0, 4.2))
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.13, top=0.9)
    ax = fig.add_subplot()
    for i, (group, band) in enumerate(bands):
        style = series_style(i)
        color = style["color"]
        label = f"{group.key.label} (n={int(band.n.max())})"
        ax.plot(band.x, band.mean, color=color, linestyle=style["linestyle"], lw=1.5, label=label)
        ax.fill_between(band.x, band.mean - band.ci95, band.mean + band.ci95, color=color,
                        alpha=0.2, lw=0)  # fmt: skip
    ax.set_xlabel(X_LABELS[x])
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{column}: mean and 95 % CI over seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
