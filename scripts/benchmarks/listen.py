"""Time of building a listening page for a sweep (scripts/listen.py), on made-up run folders.

Writes a sweep of ``--losses`` x ``--seeds`` run folders (one experiment, each keeping
``--examples`` test sounds of ``--seconds`` at ``--sr``; experiments/listen/synthetic_runs.py)
into a temporary folder, then builds its page ``--repeats`` times and prints each build's
wall time and the page's size. The defaults are a 30-run sweep of the quick preset's sounds.

    python scripts/benchmark.py listen                     # 6 losses x 5 seeds, 1 s at 8192 Hz
    python scripts/benchmark.py listen --sr 44100          # TR-808-sized sounds
    python scripts/benchmark.py listen --seconds 4 --train-rows 19200   # the paper's sizes
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

LOSSES = ["scrapl", "scrapl_no_theta_is", "mss_linear", "mss_log_linear", "mss_revisited", "ploss"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--losses", type=int, default=6, help=f"losses (at most {len(LOSSES)})")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--examples", type=int, default=16, help="test sounds kept per run")
    ap.add_argument("--sr", type=int, default=8192)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rows", type=int, default=4)
    # preset=quick granular: 50 epochs x 21 steps; the paper set-up: 200 epochs x 96 steps.
    ap.add_argument("--train-rows", type=int, default=1050, help="metrics.csv rows per run")
    ap.add_argument("--audio-format", choices=("flac", "ogg", "wav"), default="wav")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    from experiments.listen.site import build_site
    from experiments.listen.synthetic_runs import write_synthetic_sweep

    if not 1 <= args.losses <= len(LOSSES):
        ap.error(f"--losses must be in 1..{len(LOSSES)}, got {args.losses}")
    with tempfile.TemporaryDirectory(prefix="benchmark-listen-") as tmp:
        root = Path(tmp) / "runs"
        started = time.perf_counter()
        sizes = dict(n_examples=args.examples, sr=args.sr, seconds=args.seconds,
                     train_rows=args.train_rows)  # fmt: skip
        write_synthetic_sweep(root, "granular", LOSSES[: args.losses], range(args.seeds), **sizes)
        n_runs = args.losses * args.seeds
        print(
            f"{n_runs} run folders ({args.losses} losses x {args.seeds} seeds, "
            f"{args.examples} sounds of {args.seconds} s at {args.sr} Hz and {args.train_rows} "
            "metrics.csv rows each) written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        times = []
        for i in range(args.repeats):
            report = build_site([root], Path(tmp) / "page", rows=args.rows,
                                audio_format=args.audio_format)  # fmt: skip
            times.append(report.seconds)
            size = sum(p.stat().st_size for p in report.out.rglob("*") if p.is_file())
            print(
                f"build {i + 1}: {report.seconds:.2f} s ({report.n_runs} runs read, "
                f"{report.n_tables} table, {report.n_sounds} sounds, {size / 1e6:.1f} MB)"
            )
        print(f"median build time: {statistics.median(times):.2f} s ({args.audio_format})")
    return 0
