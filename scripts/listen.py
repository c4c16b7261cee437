"""A listening page from run folders: play each loss's reconstructions beside the targets.

    python scripts/listen.py out/granular --out out/listen
    python scripts/listen.py out/sweep_a out/sweep_b --out out/listen --seed 0 --rows 6
    python scripts/listen.py out/ --out docs/listen/cpu --audio-format ogg --note "..."

Per experiment (and config variant), a table: rows are test sounds (those every run kept in
test_audio/ at its test), columns the target and each loss's reconstruction by the best
checkpoint of one seed (--seed, or the seed with the median test error), each with a player,
a log-frequency spectrogram, θ / θ̂ and the sound's error. The folder works from file:// and
on any static host. Runs without test_audio/ (made before it existed) get it from
scripts/evaluate.py ckpt_path=<run>/checkpoints/best-epoch<NNN>.ckpt metrics=none.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUNS", help="run folders or folders of runs")
    parser.add_argument("--out", required=True, help="the page's folder (new, or a page's)")
    parser.add_argument("--seed", type=int, default=None, help="play this seed's runs")
    parser.add_argument("--losses", default=None, help="comma-separated losses, in this order")
    parser.add_argument("--rows", type=int, default=4, help="test sounds shown at a time")
    # experiments.listen.audio_files.AUDIO_FORMATS (not imported before parsing)
    parser.add_argument("--audio-format", choices=("flac", "ogg", "wav"), default="wav")
    parser.add_argument("--title", default="Listen: sound matching")
    parser.add_argument("--note", action="append", default=[], help="a paragraph under the title")
    args = parser.parse_args(argv)
    # Imported after parsing: --help answers without torch.
    from experiments.analysis.errors import MixedConfigError
    from experiments.listen.runs import ListenError
    from experiments.listen.site import build_site

    losses = None if args.losses is None else [s for s in args.losses.split(",") if s]
    try:
        report = build_site(
            args.runs,
            args.out,
            seed=args.seed,
            losses=losses,
            rows=args.rows,
            audio_format=args.audio_format,
            title=args.title,
            notes=args.note,
        )
    except (ListenError, MixedConfigError, ValueError) as err:
        parser.exit(2, f"listen.py: error: {err}\n")
    for folder, reason in report.skipped:
        print(f"left out {folder}: {reason}", file=sys.stderr)
    print(
        f"{report.out / 'index.html'}: {report.n_tables} tables, {report.n_sounds} sounds from "
        f"{report.n_runs} runs in {report.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
