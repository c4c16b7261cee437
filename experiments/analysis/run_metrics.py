"""What one training history contributes to the tables: its metrics by name.

* every ``test/*`` value the run logged (the last one of each column), overridden by later
  evaluations (``evaluations/*/metrics.csv``, in folder-name order);
* ``val_total_variation``: total variation of the validation θ L1 curve;
* ``convergence_step``: the first validation step with θ L1 <= 100 ‰ (absent when the run
  never converged: :func:`run_metrics` leaves it out, :func:`converged` tells);
* ``step_time_s``: median seconds per training step, when the run logged ``time/step_s``;
* ``train_time_s``: seconds spent in training steps (the last ``time/train_s``);
  ``warmup_s``: seconds before the first step (``time/warmup_s``: the θ-IS warmup, when
  the run computed it); ``cost_s``: their sum, the run's cost (when both were logged);
* ``val_best``, ``val_last``: the lowest and the last validation θ L1 (‰), and
  ``val_end_gap_pct``: how far the last is above the lowest, in % of the lowest (0: the run
  ended at its best); ``val_tail_sd``: the standard deviation (ddof 0) of the last
  ``TAIL`` validation values (how much the end of the curve still moves);
* ``pathwise_<name>_mean`` for the P-Adam / P-SAGA statistics the run logged
  (``pathwise/stored_cos``, ``stored_age``, ``table_age``, ``norm_ratio``, ``hat_cos``,
  ``out_cos``; see
  :mod:`scrapl.pathwise.step_stats`): their mean over the training steps where they are
  defined (a cosine exists only on revisits);
* ``wall_time_s``: the wall time of the whole training (every run of a resumed history,
  θ-IS warmup, validation and test included), from the runs' ``summary.json``, when all of
  them have one.
"""

from __future__ import annotations

import math
import statistics

from experiments.analysis.chains import RunChain
from experiments.analysis.curves import CONVERGENCE_THRESHOLD, convergence_step, total_variation
from experiments.analysis.metrics_csv import last_values, train_values, validation_curve

__all__ = [
    "CURVE",
    "PATHWISE",
    "STEP_TIME",
    "TAIL",
    "WALL_TIME",
    "WARMUP_TIME",
    "converged",
    "run_metrics",
]

CURVE = "val/theta_l1"
STEP_TIME = "time/step_s"
TRAIN_TIME = "time/train_s"
WARMUP_TIME = "time/warmup_s"
WALL_TIME = "wall_time_s"
TAIL = 10
PATHWISE = ("stored_cos", "stored_age", "table_age", "norm_ratio", "hat_cos", "out_cos")


def converged(chain: RunChain, threshold: float = CONVERGENCE_THRESHOLD) -> bool | None:
    """Whether the validation curve reached ``threshold``; None without a curve."""
    curve = validation_curve(chain.metrics, CURVE)
    if not curve:
        return None
    return convergence_step(curve, threshold) is not None


def run_metrics(chain: RunChain, threshold: float = CONVERGENCE_THRESHOLD) -> dict[str, float]:
    """The chain's metrics, ``{name: value}`` (see the module docstring)."""
    out = last_values(chain.metrics, "test/")
    for evaluation in chain.last.evaluations:
        out.update(last_values(evaluation, "test/"))
    curve = validation_curve(chain.metrics, CURVE)
    if curve:
        out["val_total_variation"] = total_variation([v for _, v in curve])
        step = convergence_step(curve, threshold)
        if step is not None:
            out["convergence_step"] = float(step)
        values = [v for _, v in curve]
        out["val_best"], out["val_last"] = min(values), values[-1]
        out["val_end_gap_pct"] = 100.0 * (values[-1] - min(values)) / min(values)
        out["val_tail_sd"] = statistics.pstdev(values[-TAIL:])
    for name in PATHWISE:
        logged = [v for _, v in train_values(chain.metrics, f"pathwise/{name}")]
        logged = [v for v in logged if math.isfinite(v)]
        if logged:
            out[f"pathwise_{name}_mean"] = statistics.fmean(logged)
    times = [v for _, v in train_values(chain.metrics, STEP_TIME)]
    if times:
        out["step_time_s"] = statistics.median(times)
    trained = [v for _, v in train_values(chain.metrics, TRAIN_TIME)]
    if trained:
        out["train_time_s"] = trained[-1]
    warmups = [v for _, v in train_values(chain.metrics, WARMUP_TIME)]
    if warmups:
        out["warmup_s"] = warmups[0]  # the first fit's (a resumed run keeps it)
        if trained:
            out["cost_s"] = trained[-1] + warmups[0]
    walls = [run.summary.get(WALL_TIME) for run in chain.runs]
    if all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in walls):
        out[WALL_TIME] = float(sum(walls))
    return out
