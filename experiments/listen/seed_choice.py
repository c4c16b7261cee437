"""Which seed's run of a loss the page plays: the one asked for, or the median-error one.

The error that ranks a loss's seeds is the first test metric that every one of its runs
logged among :data:`RANKING_METRICS` (θ L1 where the data have θ; the MSS log + linear
distance of the TR-808 metrics; the test loss, which compares runs of one loss fairly); the
median run is the lower middle one of the runs sorted by (error, seed), so an even number of
seeds still picks a run that exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.analysis.chains import RunChain
from experiments.analysis.metrics_csv import last_values
from experiments.listen.runs import ListenError, ListenRun

__all__ = ["RANKING_METRICS", "SeedChoice", "choose_run", "test_values"]

RANKING_METRICS = ("test/theta_l1", "test/mss_log_linear", "test/loss")


@dataclass(frozen=True)
class SeedChoice:
    """The run chosen for a loss, and how.

    Attributes:
        run: the chosen run.
        how: ``"median of 3 seeds by test/theta_l1"`` or ``"seed 2, as asked"``.
        metric: the ranking metric (``""`` when the seed was asked for and none exists).
        error: the chosen run's value of ``metric`` (None without one).
    """

    run: ListenRun
    how: str
    metric: str
    error: float | None


def test_values(chain: RunChain) -> dict[str, float]:
    """The chain's last ``test/*`` values, later evaluations overriding (as the tables read
    them, :func:`experiments.analysis.run_metrics.run_metrics`, without its curve figures)."""
    out = last_values(chain.metrics, "test/")
    for evaluation in chain.last.evaluations:
        out.update(last_values(evaluation, "test/"))
    return out


def _ranking_metric(values: list[dict[str, float]]) -> str:
    for metric in RANKING_METRICS:
        if all(metric in v for v in values):
            return metric
    return ""


def choose_run(runs: list[ListenRun], label: str, seed: int | None = None) -> SeedChoice:
    """The run of ``runs`` (one loss, one run per seed) to play; ``label`` names the loss in
    errors. ``seed``: that seed's run (a :class:`ListenError` lists the seeds there are when
    it is missing), ``None``: the median-error run."""
    if not runs:
        raise ValueError("runs must not be empty")
    values = [test_values(r.chain) for r in runs]
    metric = _ranking_metric(values)
    if seed is not None:
        for run, value in zip(runs, values, strict=True):
            if run.seed == seed:
                return SeedChoice(run, f"seed {seed}, as asked", metric, value.get(metric))
        seeds = ", ".join(str(r.seed) for r in runs)
        raise ListenError(
            f"{label}: no run with seed {seed} (seeds: {seeds}; folder {runs[0].run.path.parent})"
        )
    if not metric:
        # Without any common test metric the seeds cannot be ranked: the lowest seed.
        first = min(runs, key=lambda r: r.seed)
        return SeedChoice(first, f"seed {first.seed} (no test metric to rank by)", "", None)
    ranked = sorted(zip(values, runs, strict=True), key=lambda vr: (vr[0][metric], vr[1].seed))
    value, run = ranked[(len(ranked) - 1) // 2]
    n = len(runs)
    how = f"median of {n} seeds by {metric}" if n > 1 else "the only seed"
    return SeedChoice(run, how, metric, value[metric])
