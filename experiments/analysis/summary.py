"""The aggregation: per-group statistics of every metric, and comparisons of pairs of losses.

:func:`summarise` gives one :class:`SummaryRow` per (group, metric) and the notes on runs
that never converged; :func:`compare_pairs` one :class:`ComparisonRow` per requested pair
of losses, metric and (experiment, variant) holding both.

A pair is compared once, in the direction asked for (``--pairs a:b`` gives b − a; with
``--baseline`` too, the baseline's pair with the same two losses is not repeated reversed).
Loss values (``test/loss``) are never compared: each run's is the value of its own loss
function, on a scale of its own; only metrics that mean the same whatever the loss (θ L1,
audio distances, steps, seconds) are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from experiments.analysis.grouping import RunGroup
from experiments.analysis.run_metrics import converged, run_metrics
from experiments.analysis.statistics import Comparison, compare, mean_ci95

__all__ = [
    "ComparisonRow",
    "SummaryRow",
    "compare_pairs",
    "comparable",
    "group_values",
    "metric_order",
    "parse_pairs",
    "summarise",
]

CURVE_METRICS = (
    "val_total_variation", "convergence_step", "step_time_s", "train_time_s", "warmup_s",
    "cost_s",
)  # fmt: skip
# What the comparisons leave out, said in report.txt.
NOT_COMPARED_NOTE = (
    "test/loss is each run's own loss function (scales differ between losses): it is in the "
    "summary, never in the comparisons"
)


def comparable(metric: str) -> bool:
    """Whether ``metric`` means the same for runs of different losses: not a loss value
    (``*/loss``)."""
    return not metric.endswith("/loss")


@dataclass(frozen=True)
class SummaryRow:
    experiment: str
    loss: str
    metric: str
    n: int
    mean: float
    ci95: float
    n_runs: int
    variant: str


@dataclass(frozen=True)
class ComparisonRow:
    experiment: str
    a: str
    b: str
    metric: str
    result: Comparison
    variant: str


def metric_order(names: set[str] | list[str]) -> list[str]:
    """``test/theta_l1``, the other ``test/*`` metrics, then the curve metrics."""

    def rank(name: str) -> tuple[int, str]:
        if name == "test/theta_l1":
            return 0, name
        if name in CURVE_METRICS:
            return 2 + CURVE_METRICS.index(name), name
        return 1, name

    return sorted(set(names), key=rank)


def group_values(group: RunGroup) -> dict[str, dict[int, float]]:
    """``{metric: {seed: value}}`` over the group's runs."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for chain in group.chains:
        for name, value in run_metrics(chain).items():
            out[name][chain.seed] = value
    return dict(out)


def summarise(groups: list[RunGroup]) -> tuple[list[SummaryRow], list[str]]:
    """``(rows, notes)``: the notes list the runs that never reached θ L1 <= 100 ‰."""
    rows, notes = [], []
    for group in groups:
        key = group.key
        values = group_values(group)
        if any(converged(c) is not None for c in group.chains):
            values.setdefault("convergence_step", {})  # a row even when no run converged
        for metric in metric_order(values):
            n, mean, ci = mean_ci95([values[metric][s] for s in sorted(values[metric])])
            rows.append(
                SummaryRow(
                    key.experiment, key.loss, metric, n, mean, ci, len(group.chains),
                    key.variant_label,
                )
            )  # fmt: skip
        never = [c.seed for c in group.chains if converged(c) is False]
        if never:
            notes.append(
                f"{key.experiment}/{key.label}: {len(never)} of {len(group.chains)} runs never "
                f"reached val θ L1 <= 100 ‰ (seeds {', '.join(map(str, never))}); "
                "convergence_step is over the others"
            )
    return rows, notes


def parse_pairs(specs: list[str]) -> list[tuple[str, str]]:
    """``["a:b", ...]`` as ``[(a, b), ...]``; raises ValueError naming a malformed entry."""
    pairs = []
    for spec in specs:
        a, sep, b = spec.partition(":")
        if not sep or not a or not b or ":" in b:
            raise ValueError(f"--pairs entries must be LOSS_A:LOSS_B, got {spec!r}")
        pairs.append((a, b))
    return pairs


def compare_pairs(
    groups: list[RunGroup], pairs: list[tuple[str, str]], baseline: str | None = None
) -> list[ComparisonRow]:
    """Compare b with a for every pair, in every (experiment, variant) holding both losses.

    ``baseline`` adds the pair (baseline, loss) for every other loss found with it. Raises
    ValueError for a loss name found in no group.
    """
    losses = sorted({g.key.loss for g in groups})
    for name in [n for pair in pairs for n in pair] + ([baseline] if baseline else []):
        if name not in losses:
            raise ValueError(f"loss {name!r} (--pairs/--baseline) is not among the runs: {losses}")
    cells: dict[tuple[str, tuple], dict[str, RunGroup]] = defaultdict(dict)
    for g in groups:
        cells[(g.key.experiment, g.key.variant)][g.key.loss] = g
    rows = []
    for (experiment, _), by_loss in sorted(cells.items()):
        wanted = list(pairs)
        if baseline in by_loss:
            wanted += [(baseline, other) for other in sorted(by_loss) if other != baseline]
        seen: set[frozenset[str]] = set()  # a pair once, in the first direction asked for
        for a, b in wanted:
            if frozenset((a, b)) in seen or a == b or a not in by_loss or b not in by_loss:
                continue
            seen.add(frozenset((a, b)))
            va, vb = group_values(by_loss[a]), group_values(by_loss[b])
            for metric in metric_order({m for m in set(va) & set(vb) if comparable(m)}):
                result = compare(va[metric], vb[metric])
                variant = by_loss[a].key.variant_label
                rows.append(ComparisonRow(experiment, a, b, metric, result, variant))
    return rows
