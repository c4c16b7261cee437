"""Tables of the paper from run folders: statistics over seeds and comparisons of losses.

    python scripts/aggregate.py out/                                   # every run under out/
    python scripts/aggregate.py out/granular --baseline scrapl --pairs mss_linear:scrapl

Writes into ``--out`` (default RUNS_DIR): summary.{csv,md,tex} (mean ± 1.96·std/√n per
experiment, loss and metric), comparisons.{csv,md,tex} (b − a, Student-t 95 % half-width,
paired or Welch t-test) when pairs are asked for, and report.txt (groups, skipped folders
and why, runs that never converged). Exits with status 2 when a group mixes configurations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs_dir", type=Path, help="folder searched for run folders")
    ap.add_argument("--baseline", default=None, help="compare every other loss with this one")
    ap.add_argument("--pairs", nargs="*", default=[], metavar="A:B", help="compare B with A")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default RUNS_DIR)")
    ap.add_argument("--older-runs", type=Path, default=None, metavar="YAML",
                    help="values of config keys / choices that runs older than an option lack: "
                         "{config: {key: value}, choices: {group: choice}}")  # fmt: skip
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported after parsing: --help answers without torch.
    from experiments.analysis.collect import collect, report_text
    from experiments.analysis.errors import MixedConfigError
    from experiments.analysis.grouping import OlderRuns
    from experiments.analysis.summary import (
        NOT_COMPARED_NOTE,
        compare_pairs,
        parse_pairs,
        summarise,
    )
    from experiments.analysis.tables import write_tables
    from experiments.audio_io import atomic_output

    try:
        pairs = parse_pairs(args.pairs)
        collection = collect(args.runs_dir, OlderRuns.from_file(args.older_runs))
    except (MixedConfigError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not collection.groups:
        print(report_text(collection), end="")
        print(f"error: no complete run under {args.runs_dir}", file=sys.stderr)
        return 2
    rows, notes = summarise(collection.groups)
    try:
        comparisons = compare_pairs(collection.groups, pairs, args.baseline)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = args.out or args.runs_dir
    written = write_tables(out, rows, comparisons)
    if comparisons:
        notes.append(NOT_COMPARED_NOTE)
    report = report_text(collection, notes)
    with atomic_output(out / "report.txt") as tmp:
        tmp.write_text(report)
    print(report, end="")
    print("wrote " + ", ".join(str(p) for p in [*written, out / "report.txt"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
