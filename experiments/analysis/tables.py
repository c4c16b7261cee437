"""The aggregation's tables as CSV (long form), Markdown and LaTeX (the paper's layout).

CSV: ``summary.csv`` one row per (experiment, loss, metric), ``comparisons.csv`` one row
per (pair, metric); numbers at full precision, ``nan`` where undefined. Markdown / LaTeX:
one table per experiment (and variant) with a row per loss and a column per metric, cells
``mean ± ci95`` as in the paper's Tables 1–4; comparisons as in Table 6, one row per pair
and metric with the difference, its 95 % half-width and the p-value.
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from pathlib import Path

from experiments.analysis.summary import ComparisonRow, SummaryRow, metric_order
from experiments.audio_io import atomic_output

__all__ = [
    "comparison_markdown",
    "comparisons_latex",
    "format_value",
    "metric_label",
    "summary_latex",
    "summary_markdown",
    "write_tables",
]

SUMMARY_COLUMNS = ("experiment", "loss", "metric", "n", "mean", "ci95", "n_runs", "variant")
COMPARISON_COLUMNS = (
    "experiment", "a", "b", "metric", "n", "mean_diff", "ci95", "p_value", "test", "n_a", "n_b",
    "variant",
)  # fmt: skip
LABELS = {
    "test/theta_l1": "θ L1 ‰",
    "test/loss": "own test loss (†)",
    "val_total_variation": "val TV ‰",
    "convergence_step": "steps to ≤ 100 ‰",
    "step_time_s": "s / step",
    "train_time_s": "training s",
    "warmup_s": "θ-IS warmup s",
    "cost_s": "s incl. warmup",
    "val_best": "best val θ L1 ‰",
    "val_last": "last val θ L1 ‰",
    "val_end_gap_pct": "last − best val, % of best",
    "val_tail_sd": "sd of the last 10 val ‰",
    "pathwise_stored_cos_mean": "stored-entry cosine",
    "pathwise_stored_age_mean": "stored-entry age (steps)",
    "pathwise_table_age_mean": "table age (steps)",
    "pathwise_norm_ratio_mean": "P-SAGA norm ratio",
    "pathwise_hat_cos_mean": "cos(g, P-Adam output)",
    "pathwise_out_cos_mean": "cos(g, update)",
}


def metric_label(metric: str) -> str:
    """A column title: ``test/theta_l1_slope`` -> ``slope L1 ‰``."""
    if metric in LABELS:
        return LABELS[metric]
    if metric.startswith("test/theta_l1_"):
        return f"{metric.removeprefix('test/theta_l1_')} L1 ‰"
    return metric.removeprefix("test/")


def format_value(mean: float, ci: float, sep: str = " ± ") -> str:
    """``mean ± ci`` with the half-width to two significant digits and the mean to the
    same decimal place (``65.7 ± 4.2``); three significant digits without a half-width."""
    if not math.isfinite(mean):
        return "–"
    if not math.isfinite(ci):
        return f"{mean:.3g}"
    if ci == 0:
        return f"{mean:.3g}{sep}0"
    decimals = max(0, 1 - math.floor(math.log10(abs(ci))))
    return f"{mean:.{decimals}f}{sep}{abs(ci):.{decimals}f}"


def _number(v: float | int | str) -> str:
    return repr(float(v)) if isinstance(v, float) else str(v)


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([_number(v) for v in row] for row in rows)


def _by_table(rows: list[SummaryRow]) -> dict[tuple[str, str], list[SummaryRow]]:
    tables: dict[tuple[str, str], list[SummaryRow]] = defaultdict(list)
    for row in rows:
        tables[(row.experiment, row.variant)].append(row)
    return dict(sorted(tables.items()))


Cell = tuple[str, str]  # (mean ± ci, "(n=k)" or "")


def _summary_grid(rows: list[SummaryRow], sep: str) -> tuple[list[str], list[tuple]]:
    """The metrics (columns) and ``(loss, runs, cells)`` per loss (rows)."""
    metrics = metric_order({r.metric for r in rows})
    by_loss: dict[str, dict[str, SummaryRow]] = defaultdict(dict)
    for r in rows:
        by_loss[r.loss][r.metric] = r
    body = []
    for loss in sorted(by_loss):
        n_runs = next(iter(by_loss[loss].values())).n_runs
        cells: list[Cell] = []
        for m in metrics:
            r = by_loss[loss].get(m)
            if r is None:
                cells.append(("", ""))
            else:
                note = f"(n={r.n})" if r.n < n_runs else ""
                cells.append((format_value(r.mean, r.ci95, sep), note))
        body.append((loss, n_runs, cells))
    return metrics, body


def _title(experiment: str, variant: str) -> str:
    return f"{experiment} ({variant})" if variant else experiment


def summary_markdown(rows: list[SummaryRow]) -> str:
    """One Markdown table per experiment (and variant): losses × metrics."""
    parts = []
    for (experiment, variant), members in _by_table(rows).items():
        metrics, body = _summary_grid(members, " ± ")
        head = ["loss", "runs", *map(metric_label, metrics)]
        lines = [f"### {_title(experiment, variant)}", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "---|" * len(head))
        for loss, n_runs, cells in body:
            texts = [f"{v} {note}".strip() or "–" for v, note in cells]
            lines.append("| " + " | ".join([loss, str(n_runs), *texts]) + " |")
        parts.append("\n".join(lines))
    note = "Mean ± 1.96 · std(ddof=0) / √n over seeds; (n=k): k runs have the metric."
    if any(r.metric == "test/loss" for r in rows):
        note += (
            " (†) each loss's own value on the test split, on a scale of its own: it does not"
            " compare across rows."
        )
    return "\n\n".join(parts + [note]) + "\n"


def _tex(text: str) -> str:
    text = text.replace("\\", "\\textbackslash{}")
    for ch in "&%$#_{}":
        text = text.replace(ch, "\\" + ch)
    return (
        text.replace("θ", "$\\theta$").replace("‰", "\\textperthousand{}").replace("≤", "$\\leq$")
    )


def summary_latex(rows: list[SummaryRow]) -> str:
    """One booktabs ``tabular`` per experiment (and variant)."""
    parts = []
    for (experiment, variant), members in _by_table(rows).items():
        metrics, body = _summary_grid(members, " \\pm ")
        head = ["loss", "runs", *map(metric_label, metrics)]
        lines = [f"% {_title(experiment, variant)}"]
        lines += ["\\begin{tabular}{l" + "r" * (len(head) - 1) + "}", "\\toprule"]
        lines += [" & ".join(map(_tex, head)) + " \\\\", "\\midrule"]
        for loss, n_runs, cells in body:
            texts = [f"${v}$ {note}".strip() if v else "--" for v, note in cells]
            lines.append(" & ".join([_tex(loss), str(n_runs), *texts]) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _comparison_cells(r: ComparisonRow, sep: str) -> list[str]:
    res = r.result
    p = "–" if not math.isfinite(res.p_value) else f"{res.p_value:.3g}"
    return [str(res.n), format_value(res.mean_diff, res.ci95, sep), p, res.test]


def comparison_markdown(rows: list[ComparisonRow]) -> str:
    """Per experiment (and variant): a row per pair and metric, b − a ± 95 % and p."""
    tables: dict[tuple[str, str], list[ComparisonRow]] = defaultdict(list)
    for r in rows:
        tables[(r.experiment, r.variant)].append(r)
    parts = []
    for (experiment, variant), members in sorted(tables.items()):
        lines = [f"### {_title(experiment, variant)}", ""]
        lines += ["| a | b | metric | n | b − a | p | test |", "|---|---|---|---|---|---|---|"]
        for r in members:
            cells = [r.a, r.b, metric_label(r.metric), *_comparison_cells(r, " ± ")]
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    note = (
        "b − a ± Student-t 95 % half-width; paired: t-test over seeds (ttest_rel), "
        "welch: unequal-variance t-test (different seeds)."
    )
    return "\n\n".join(parts + [note]) + "\n"


def comparisons_latex(rows: list[ComparisonRow]) -> str:
    lines = ["\\begin{tabular}{lllrrrl}", "\\toprule"]
    lines += ["experiment & a & b & metric & n & $b - a$ & p \\\\", "\\midrule"]
    for r in rows:
        n, diff, p, test = _comparison_cells(r, " \\pm ")
        name = _tex(r.experiment + (f" ({r.variant})" if r.variant else ""))
        row = [name, _tex(r.a), _tex(r.b), _tex(metric_label(r.metric)), n, f"${diff}$", p]
        lines.append(" & ".join(row) + f" \\\\ % {test}")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_tables(
    out_dir: str | os.PathLike, summary: list[SummaryRow], comparisons: list[ComparisonRow]
) -> list[Path]:
    """Write summary.{csv,md,tex} and, with comparisons, comparisons.{csv,md,tex}."""
    out = Path(out_dir)
    _write_csv(out / "summary.csv", SUMMARY_COLUMNS, [
        (r.experiment, r.loss, r.metric, r.n, r.mean, r.ci95, r.n_runs, r.variant)
        for r in summary
    ])  # fmt: skip
    written = [out / "summary.csv", out / "summary.md", out / "summary.tex"]
    with atomic_output(out / "summary.md") as tmp:
        tmp.write_text(summary_markdown(summary))
    with atomic_output(out / "summary.tex") as tmp:
        tmp.write_text(summary_latex(summary))
    if comparisons:
        _write_csv(out / "comparisons.csv", COMPARISON_COLUMNS, [
            (r.experiment, r.a, r.b, r.metric, r.result.n, r.result.mean_diff, r.result.ci95,
             r.result.p_value, r.result.test, r.result.n_a, r.result.n_b, r.variant)
            for r in comparisons
        ])  # fmt: skip
        with atomic_output(out / "comparisons.md") as tmp:
            tmp.write_text(comparison_markdown(comparisons))
        with atomic_output(out / "comparisons.tex") as tmp:
            tmp.write_text(comparisons_latex(comparisons))
        written += [out / "comparisons.csv", out / "comparisons.md", out / "comparisons.tex"]
    return written
