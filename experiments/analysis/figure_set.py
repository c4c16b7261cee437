"""Every figure the runs allow, for each experiment (and variant), into one folder.

File names: ``<experiment>[_<variant>]_<figure>.{png,svg}`` with figures
``val_curves_steps``, ``val_curves_time`` (runs with ``time/train_s``; from the start of
the fit, θ-IS warmup included, when the runs logged ``time/warmup_s``), ``error_vs_cost``
(runs with ``time/step_s``; the warmup included alike), ``bars_<metric>_by_<choice>`` (a variant
choice with two values or more, e.g. TR-808 ``data`` micro / meso) and, per SCRAPL group,
``paths_<loss>`` (π of the group's lowest seed).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure

from experiments.analysis.collect import Collection
from experiments.analysis.figure_files import FORMATS, save_deterministic
from experiments.analysis.figures_cost import error_vs_cost_figure, grouped_bars_figure
from experiments.analysis.figures_curves import validation_curves_figure
from experiments.analysis.figures_paths import (
    path_coordinates,
    path_probabilities_figure,
    read_path_probs,
)
from experiments.analysis.grouping import RunGroup
from experiments.analysis.summary import summarise

__all__ = ["draw_all"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")


def draw_all(
    collection: Collection,
    out_dir: str | os.PathLike,
    metric: str = "test/theta_l1",
    reference: str = "ploss",
    formats: tuple[str, ...] = FORMATS,
) -> list[Path]:
    """Draw and save every figure (see the module docstring); returns the files written."""
    out = Path(out_dir)
    rows, _ = summarise(collection.groups)
    written: list[Path] = []

    def save(fig: Figure | None, name: str) -> None:
        if fig is not None:
            written.extend(save_deterministic(fig, out / _slug(name), formats))

    cells: dict[tuple[str, str], list[RunGroup]] = defaultdict(list)
    for g in collection.groups:
        cells[(g.key.experiment, g.key.variant_label)].append(g)
    for (experiment, variant), groups in sorted(cells.items()):
        name = f"{experiment}_{variant}" if variant else experiment
        title = f"{experiment} ({variant})" if variant else experiment
        save(validation_curves_figure(groups, x="step", title=title), f"{name}_val_curves_steps")
        # Time from the start of the fit, θ-IS warmup included, when the runs recorded it.
        timed = validation_curves_figure(groups, x="cost", title=title)
        timed = timed or validation_curves_figure(groups, x="time", title=title)
        save(timed, f"{name}_val_curves_time")
        cell_rows = [r for r in rows if r.experiment == experiment and r.variant == variant]
        save(error_vs_cost_figure(cell_rows, metric, reference, title), f"{name}_error_vs_cost")
        for g in groups:
            first = g.chains[0].last
            found = read_path_probs(first.path)
            if found is None or not isinstance(first.config.get("jtfs"), dict):
                continue
            rate, scale = path_coordinates(first.config)
            if rate.size != found[0].size:
                continue  # not a SCRAPL run of this config's JTFS
            label = f"{title}, {g.key.loss}, seed {first.seed}: {found[1]}"
            fig = path_probabilities_figure(found[0], rate, scale, label)
            save(fig, f"{name}_paths_{g.key.loss}")
    for experiment in sorted({g.key.experiment for g in collection.groups}):
        variants = [
            dict(g.key.variant) for g in collection.groups if g.key.experiment == experiment
        ]
        exp_rows = [r for r in rows if r.experiment == experiment]
        for choice in sorted({k for v in variants for k in v}):
            fig = grouped_bars_figure(exp_rows, metric, choice, experiment)
            save(fig, f"{experiment}_bars_{metric}_by_{choice}")
    return written
