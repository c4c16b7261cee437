"""SCRAPL on time and image scattering: one step vs kymatio's full transform vs the full loss.

Time and peak memory of each (one fresh process per mode), for a 1-D audio and a 2-D image
configuration, with the path counts (experiments/benchmarks/scattering.py).

Usage::

    python scripts/benchmark.py scattering                     # both, default sizes
    python scripts/benchmark.py scattering --kinds 2d --image 512 --J-2d 5 --batch 2
    python scripts/benchmark.py scattering --shape 4096 --J 6 --image 32 --J-2d 2 --repeats 1
"""

from __future__ import annotations

import argparse
import json

# experiments.benchmarks.scattering's modes (imported after parsing: it imports torch).
MODES = ("scrapl", "full", "kymatio")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kinds", default="1d,2d", help="1d, 2d or both")
    ap.add_argument("--modes", default=",".join(MODES), help="comma list of " + ",".join(MODES))
    ap.add_argument("--shape", type=int, default=32768, help="1-D: samples")
    ap.add_argument("--J", type=int, default=12, help="1-D: octaves")
    ap.add_argument("--Q1", type=int, default=8)
    ap.add_argument("--Q2", type=int, default=2)
    ap.add_argument("--T", type=int, default=4096, help="1-D: averaging (0: 2**J)")
    ap.add_argument("--image", type=int, default=256, help="2-D: side of the square image")
    ap.add_argument("--J-2d", type=int, default=4, help="2-D: octaves")
    ap.add_argument("--L", type=int, default=8, help="2-D: orientations")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-paths", type=int, default=16, help="SCRAPL paths timed, spread evenly")
    ap.add_argument("--json", default=None, help="also write every result to this file")
    args = ap.parse_args(argv)
    from experiments.benchmarks.scattering import Setting, report, run

    modes = tuple(m for m in args.modes.split(",") if m)
    if any(m not in MODES for m in modes):
        ap.error(f"--modes: choose from {MODES}, got {modes}")
    run_args = dict(batch=args.batch, threads=args.threads, repeats=args.repeats)
    settings = {
        "1d": Setting(
            "1d",
            dict(shape=args.shape, J=args.J, Q1=args.Q1, Q2=args.Q2, T=args.T or None),
            n_paths=args.n_paths,
            **run_args,
        ),
        "2d": Setting(
            "2d",
            dict(shape=[args.image, args.image], J=args.J_2d, L=args.L),
            n_paths=args.n_paths,
            **run_args,
        ),
    }
    out = {}
    for kind in args.kinds.split(","):
        if kind not in settings:
            ap.error(f"--kinds: choose from 1d, 2d, got {kind!r}")
        results = run(settings[kind], modes)
        print(report(settings[kind], results) + "\n", flush=True)
        out[kind] = results
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0
