"""Time of θ-IS warmup per path, and its scaling with the number of processes.

Two set-ups: the package's warmup example (N = 8096, 7 paths, 3 θ, a tiny encoder) and a
stand-in of the granular paper configuration (N = 32768, 315 paths, 2 θ, an encoder of
~600 K weights reading the audio, a linear synth), on one batch. Each process takes a
disjoint range of paths, as a multi-process warmup would.

    python scripts/benchmark.py warmup --setup seed --paths 7 --processes 1 2
    python scripts/benchmark.py warmup --setup granular --paths 2 --processes 1 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time

SETUPS = {
    "seed": dict(loss=dict(shape=8096, J=3, Q1=1, Q2=1, J_fr=2, Q_fr=1), n_theta=3, hidden=3),
    "granular": dict(
        loss=dict(shape=32768, J=12, Q1=8, Q2=2, J_fr=3, Q_fr=2, T=4096, F=8),
        n_theta=2,
        hidden=18,
    ),
}


def run(setup: str, batch: int, start: int, end: int, save_dir: str, threads: int) -> float:
    import torch
    from torch import nn

    from scrapl import SCRAPLLoss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = SETUPS[setup]
    n, n_theta = cfg["loss"]["shape"], cfg["n_theta"]
    encoder = nn.Sequential(
        nn.Linear(n, cfg["hidden"]), nn.PReLU(), nn.Linear(cfg["hidden"], n_theta), nn.Sigmoid()
    )
    synth = nn.Sequential(nn.Linear(n_theta, n), nn.Tanh())
    loss = SCRAPLLoss(**cfg["loss"], n_theta=n_theta)
    kwargs = [{"x": torch.rand(batch, 1, n)}]
    start_time = time.perf_counter()
    loss.warmup_lc_hvp(
        theta_fn=lambda x: encoder(x.squeeze(1)),
        synth_fn=lambda theta: synth(theta).unsqueeze(1),
        theta_fn_kwargs=kwargs,
        params=list(encoder.parameters()),
        start_path_idx=start,
        end_path_idx=end,
        save_dir=save_dir,
    )
    return time.perf_counter() - start_time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setup", choices=sorted(SETUPS), default="seed")
    ap.add_argument("--paths", type=int, default=4, help="number of paths to warm up")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    import torch
    from torch import nn

    n_weights = sum(
        p.numel()
        for p in nn.Sequential(
            nn.Linear(SETUPS[args.setup]["loss"]["shape"], SETUPS[args.setup]["hidden"]),
            nn.PReLU(),
            nn.Linear(SETUPS[args.setup]["hidden"], SETUPS[args.setup]["n_theta"]),
        ).parameters()
    )
    print(
        f"setup {args.setup}: {n_weights} encoder weights, batch {args.batch}, "
        f"{args.paths} paths, 20 power iterations per (path, θ)"
    )
    for n_proc in args.processes:
        bounds = [round(i * args.paths / n_proc) for i in range(n_proc + 1)]
        threads = max(1, torch.get_num_threads() // n_proc)
        with (
            tempfile.TemporaryDirectory() as save_dir,
            mp.get_context("spawn").Pool(n_proc) as pool,
        ):
            start = time.perf_counter()
            jobs = [
                (args.setup, args.batch, bounds[i], bounds[i + 1], save_dir, threads)
                for i in range(n_proc)
            ]
            pool.starmap(run, jobs)
            wall = time.perf_counter() - start
        print(
            f"{n_proc} process(es) x {threads} thread(s): {wall:.1f} s wall, "
            f"{wall / args.paths:.2f} s per path"
        )
    return 0
