"""Training curves beside the P-Adam / P-SAGA step statistics of a few runs, per epoch.

    python scripts/plot_pathwise.py "constant lr=out/stable/constant/granular/scrapl/<run>" \\
        "cosine lr=out/stable/cosine/granular/scrapl/<run>" --out docs/results/figures/x

Each argument is LABEL=RUN_FOLDER (a folder holding metrics.csv, logged with the
PathwiseStats callback: callbacks=[default,pathwise_stats]). Writes <out>.png and <out>.svg
(experiments.analysis.figures_pathwise).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_FOLDER")
    ap.add_argument("--out", type=Path, required=True, help="file stem of the figure")
    ap.add_argument("--title", default="", help="figure title")
    ap.add_argument("--formats", default="png,svg", help="comma list of png, svg")
    args = ap.parse_args(argv)
    # Imported after parsing: --help answers without matplotlib.
    import matplotlib

    matplotlib.use("Agg")
    from experiments.analysis.errors import RunFolderError
    from experiments.analysis.figure_files import save_deterministic
    from experiments.analysis.figures_pathwise import pathwise_figure
    from experiments.analysis.metrics_csv import read_metrics_csv

    runs = []
    for item in args.runs:
        label, sep, folder = item.partition("=")
        if not sep or not label or not folder:
            ap.error(f"each run must be LABEL=RUN_FOLDER, got {item!r}")
        try:
            runs.append((label, read_metrics_csv(Path(folder) / "metrics.csv")))
        except RunFolderError as err:
            print(f"error: {folder}: {err}", file=sys.stderr)
            return 2
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    written = save_deterministic(pathwise_figure(runs, args.title), args.out, formats)
    print("\n".join(f"wrote {p}" for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
