"""A results document (Markdown) from run folders and a spec: prose and commands from the spec,
every number from the runs.

The spec (a YAML file beside the document, e.g. ``docs/results/cpu.yaml``) holds::

    title: ...
    intro: ...                      # Markdown, optional
    sections:
      - title: ...
        runs: out/cpu_quick         # searched for run folders (relative to the spec's root)
        experiment: granular        # the experiment whose groups make the table
        text: ...                   # Markdown, optional
        commands: |                 # the commands that made the runs, shown verbatim
          python scripts/train.py ...
        losses: [scrapl, ...]       # row order (optional; default: by mean test θ L1)
        metrics: [test/theta_l1, test/theta_l1_density, test/theta_l1_slope]
        pairs: [mss_linear:scrapl]  # b − a comparisons (optional)
        per_seed: val_end_gap_pct   # the per-seed column's metric (default: test/theta_l1)
        older_runs:                 # optional: values of keys that runs made before the
          config: {module.pad: null}  # keys existed lack (see grouping.OlderRuns), or the
          choices: {metrics: none}    # path of a YAML file of them; shown under the table

Each section gets a table with one row per loss: the runs and their seeds, every metric as
mean ± 1.96 · std(ddof=0) / √n over seeds (the paper's), the per-seed test θ L1 and the mean
wall time per run (from ``summary.json``); then the comparisons (paired t-test over seeds,
Welch otherwise) and the folders that were skipped, with their reasons.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from experiments.analysis.collect import collect
from experiments.analysis.grouping import OlderRuns, RunGroup
from experiments.analysis.run_metrics import WALL_TIME
from experiments.analysis.statistics import compare, mean_ci95
from experiments.analysis.summary import group_values, parse_pairs
from experiments.analysis.tables import format_value, metric_label

__all__ = ["build_document", "section_markdown"]

MAIN_METRIC = "test/theta_l1"


def _check_spec(spec: object) -> dict[str, Any]:
    if not isinstance(spec, dict) or not isinstance(spec.get("sections"), list):
        raise ValueError("the results spec must be a mapping with a list of 'sections'")
    for i, section in enumerate(spec["sections"]):
        if not isinstance(section, dict):
            raise ValueError(f"sections[{i}] must be a mapping, got {type(section).__name__}")
        for key in ("title", "runs", "experiment", "metrics"):
            if key not in section:
                raise ValueError(f"sections[{i}] ({section.get('title')!r}) needs {key!r}")
    return spec


def _minutes(seconds: float) -> str:
    return "–" if not math.isfinite(seconds) else f"{seconds / 60:.1f}"


def _row_order(groups: dict[str, RunGroup], losses: list[str] | None) -> list[str]:
    if losses:
        return [name for name in losses if name in groups]

    def mean_error(name: str) -> float:
        values = group_values(groups[name]).get(MAIN_METRIC, {})
        return mean_ci95(list(values.values()))[1] if values else math.inf

    return sorted(groups, key=lambda name: (mean_error(name), name))


def _loss_table(
    groups: dict[str, RunGroup], order: list[str], metrics: list[str], per_seed_metric: str
) -> list[str]:
    per_seed_label = f"{metric_label(per_seed_metric)} per seed".replace("‰ per seed", "per seed ‰")
    if per_seed_metric == MAIN_METRIC:
        per_seed_label = "test θ L1 per seed ‰"
    head = ["loss", "seeds", *map(metric_label, metrics), per_seed_label, "min / run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in order:
        values = group_values(groups[name])
        cells = [name, ", ".join(map(str, groups[name].seeds))]
        for metric in metrics:
            per_seed = values.get(metric, {})
            n, mean, ci = mean_ci95([per_seed[s] for s in sorted(per_seed)])
            cells.append(format_value(mean, ci) if n else "–")
        per_seed = values.get(per_seed_metric, {})
        cells.append(" / ".join(f"{per_seed[s]:.1f}" for s in sorted(per_seed)) or "–")
        walls = list(values.get(WALL_TIME, {}).values())
        cells.append(_minutes(sum(walls) / len(walls)) if walls else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _pairs_table(groups: dict[str, RunGroup], pairs: list[tuple[str, str]]) -> list[str]:
    lines = [
        f"| b − a ({metric_label(MAIN_METRIC)}) | n | mean difference ± 95 % | p | test |",
        "|---|---|---|---|---|",
    ]
    for a, b in pairs:
        if a not in groups or b not in groups:
            continue
        va = group_values(groups[a]).get(MAIN_METRIC, {})
        vb = group_values(groups[b]).get(MAIN_METRIC, {})
        if not va or not vb:
            continue
        r = compare(va, vb)
        p = "–" if not math.isfinite(r.p_value) else f"{r.p_value:.3g}"
        lines.append(
            f"| {b} − {a} | {r.n} | {format_value(r.mean_diff, r.ci95)} | {p} | {r.test} |"
        )
    return lines if len(lines) > 2 else []


def section_markdown(section: dict[str, Any], root: Path) -> str:
    """The Markdown of one section (see the module docstring); runs read under ``root``."""
    older_spec = section.get("older_runs")
    if isinstance(older_spec, str):  # a YAML file, relative to the root like ``runs``
        older = OlderRuns.from_file(root / older_spec)
    else:
        older = OlderRuns.from_spec(older_spec)
    collection = collect(root / section["runs"], older)
    groups = {
        g.key.label: g for g in collection.groups if g.key.experiment == section["experiment"]
    }
    out = [f"## {section['title']}", ""]
    if section.get("text"):
        out += [section["text"].strip(), ""]
    if section.get("commands"):
        out += ["```bash", section["commands"].strip(), "```", ""]
    if not groups:
        out += [f"No complete run of `{section['experiment']}` under `{section['runs']}` yet.", ""]
    else:
        order = _row_order(groups, section.get("losses"))
        per_seed = section.get("per_seed", MAIN_METRIC)
        out += _loss_table(groups, order, list(section["metrics"]), per_seed) + [""]
        pairs = _pairs_table(groups, parse_pairs(section.get("pairs", [])))
        if pairs:
            out += pairs + [""]
    assumed = [f"`{k}` = `{v!r}`" for k, v in older.config.items()]
    assumed += [f"`{k}={v}` (config group)" for k, v in older.choices.items()]
    if assumed:
        out += [
            "Runs made before these options existed are read with their present defaults: "
            + ", ".join(assumed)
            + ".",
            "",
        ]
    # Only this experiment's folders: one runs folder may hold several experiments.
    skipped = [s for s in collection.skipped if section["experiment"] in Path(s.path).parts]
    if skipped:
        out.append(f"Skipped folders under `{section['runs']}`:")
        out += [f"- `{os.path.relpath(s.path, root)}`: {s.reason}" for s in skipped]
        out.append("")
    return "\n".join(out)


def existing_sections(text: str) -> dict[str, str]:
    """The sections of a document this module wrote, by title: from each ``## <title>`` line
    to the next one (or the end), without the trailing blank lines."""
    blocks = re.split(r"^(?=## )", text, flags=re.MULTILINE)[1:]
    return {block.splitlines()[0][3:]: block.rstrip("\n") + "\n" for block in blocks}


def selected_titles(spec: dict[str, Any], only: list[str]) -> set[str]:
    """The titles of the sections that each of ``only`` (parts of titles) names, one each."""
    titles = [section["title"] for section in _check_spec(spec)["sections"]]
    chosen = set()
    for part in only:
        matches = [t for t in titles if part in t]
        if len(matches) != 1:
            raise ValueError(
                f"--only {part!r} must name exactly one section of the spec, it matches "
                f"{len(matches)}: {matches or titles}"
            )
        chosen.add(matches[0])
    return chosen


def build_document(
    spec: dict[str, Any],
    root: str | os.PathLike,
    only: list[str] | None = None,
    existing: str | None = None,
) -> str:
    """The whole document; ``root`` is where the sections' ``runs`` folders are resolved.

    ``only`` (parts of section titles): rebuild those sections from their runs and take every
    other section verbatim from ``existing``, the document as it is (for a document whose
    other runs are not on this machine). A section that ``existing`` lacks is an error.
    """
    spec = _check_spec(spec)
    root = Path(root)
    keep: dict[str, str] = {}
    if only:
        chosen = selected_titles(spec, only)
        old = existing_sections(existing or "")
        for section in spec["sections"]:
            title = section["title"]
            if title not in chosen and title not in old:
                raise ValueError(
                    f"section {title!r} is not in the existing document: rebuild it from its "
                    "runs (name it in --only, or run without --only)"
                )
            if title not in chosen:
                keep[title] = old[title]
    parts = [f"# {spec.get('title', 'Results')}", ""]
    if spec.get("intro"):
        parts += [spec["intro"].strip(), ""]
    parts += [
        "Generated by `scripts/results_doc.py` from the run folders; mean ± 1.96 · std(ddof=0)"
        " / √n over seeds. Wall time: the whole run (θ-IS warmup, validation and test included)"
        " as measured, in minutes.",
        "",
    ]
    parts += [keep.get(s["title"]) or section_markdown(s, root) for s in spec["sections"]]
    return "\n".join(parts).rstrip() + "\n"
