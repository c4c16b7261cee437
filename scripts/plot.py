"""The paper's figures from run folders, as PNG and SVG (byte-identical when redrawn).

    python scripts/plot.py out/ [--out out/figures] [--metric test/theta_l1] [--reference ploss]

Per experiment (and variant): validation curves with 95 % bands against training steps and
against training time, the test metric against seconds per step (both relative to the
reference loss), π of the θ-IS warmup on the (rate, scale) plane for SCRAPL runs, and bars
per loss for a choice that takes several values (e.g. TR-808 micro / meso). Folders that
are not complete runs are skipped and listed, as by scripts/aggregate.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs_dir", type=Path, help="folder searched for run folders")
    ap.add_argument("--out", type=Path, default=None, help="default RUNS_DIR/figures")
    ap.add_argument("--older-runs", type=Path, default=None, metavar="YAML",
                    help="values of config keys / choices that runs older than an option lack: "
                         "{config: {key: value}, choices: {group: choice}}")  # fmt: skip
    ap.add_argument("--metric", default="test/theta_l1", help="test metric of the cost plot")
    ap.add_argument("--reference", default="ploss", help="loss the cost plot is relative to")
    ap.add_argument("--formats", default="png,svg", help="comma list of png, svg")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported after parsing: --help answers without torch.
    import matplotlib

    matplotlib.use("Agg")

    from experiments.analysis.collect import collect, report_text
    from experiments.analysis.errors import MixedConfigError
    from experiments.analysis.figure_set import draw_all
    from experiments.analysis.grouping import OlderRuns

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    try:
        collection = collect(args.runs_dir, OlderRuns.from_file(args.older_runs))
        written = draw_all(
            collection, args.out or args.runs_dir / "figures", args.metric, args.reference, formats
        )
    except (MixedConfigError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report_text(collection), end="")
    if args.reference not in {g.key.loss for g in collection.groups}:
        print(
            f"note: the reference loss {args.reference!r} is not among the runs: the cost "
            "figures show absolute values (--reference names another)"
        )
    print(f"wrote {len(written)} files:")
    print("\n".join(f"  {p}" for p in written))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
