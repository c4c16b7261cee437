"""Time and memory of one SCRAPL training step against its lower and upper bounds.

Each mode runs in its own fresh subprocess, so that peak memory is per mode:
``scrapl`` is forward + backward of ``SCRAPLLoss(x, x_target, path_idx=p)`` for ``--n-paths``
paths spread evenly over the index range (per path 1 warm-up + ``--repeats`` runs);
``first_order`` is forward + backward of the first order alone (all rows), the stage every
path starts with: the lower bound; ``jtfs`` is the full ``JTFSLoss``, the upper bound
(1 warm-up unless ``--no-warmup``, + ``--jtfs-repeats`` runs). Times: ``time.perf_counter``
(and CUDA events).
Memory: peak RSS of the worker and its increase over the RSS after setup (loss and inputs
built); on CUDA ``torch.cuda.max_memory_allocated``, reset after setup.

Usage::

    python scripts/benchmark.py step                  # paper-sized config, all modes
    python scripts/benchmark.py step --modes scrapl,first_order --threads 4 --json out.json
    python scripts/benchmark.py step --shape 4096 --J 6 --Q1 4 --Q2 1 --J_fr 2 --Q_fr 1 \\
        --T none --F none --repeats 2 --n-paths 3     # smoke test, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import MB, cpu_model, load1, peak_rss_mb, reset_peak_rss, timed

ENTRY = Path(__file__).resolve().parents[1] / "benchmark.py"
MODES = ("scrapl", "first_order", "jtfs")
MARKER = "@@BENCHMARK_RESULT@@ "
CONFIG_KEYS = ("shape", "J", "Q1", "Q2", "J_fr", "Q_fr", "T", "F")


def averaging(value: str) -> int | str | None:
    """Parse ``--T`` / ``--F``: an int, ``none`` or ``global``."""
    low = value.lower()
    return None if low == "none" else "global" if low == "global" else int(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, default in dict(shape=32768, J=12, Q1=8, Q2=2, J_fr=3, Q_fr=2).items():
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--T", type=averaging, default=4096, help="int, none or global")
    ap.add_argument("--F", type=averaging, default=8, help="int, none or global")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per path / mode")
    ap.add_argument("--n-paths", type=int, default=8, help="SCRAPL paths, spread evenly")
    ap.add_argument("--jtfs-repeats", type=int, default=1, help="timed runs of full JTFS")
    ap.add_argument("--no-warmup", action="store_true", help="no warm-up run for jtfs")
    ap.add_argument("--modes", default=",".join(MODES), help="comma list of " + ",".join(MODES))
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--worker", choices=MODES, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import torch

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in MODES for m in args.modes):
        ap.error(f"--modes: choose from {MODES}, got {args.modes}")
    if min(args.batch, args.threads, args.repeats, args.n_paths, args.jtfs_repeats) < 1:
        ap.error("--batch, --threads, --repeats, --n-paths and --jtfs-repeats must be >= 1")
    return args


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import psutil
    import torch

    from scrapl import JTFSLoss, SCRAPLLoss

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev, dtype, cuda = torch.device(args.device), getattr(torch, args.dtype), args.device == "cuda"
    cfg = {k: getattr(args, k) for k in CONFIG_KEYS}
    shape = (args.batch, 1, args.shape)
    x = torch.randn(shape, device=dev, dtype=dtype, requires_grad=True)
    x_target = torch.randn(shape, device=dev, dtype=dtype)
    mode = args.worker
    loss: torch.nn.Module = (JTFSLoss if mode == "jtfs" else SCRAPLLoss)(**cfg).to(dev, dtype)
    jt = loss.jtfs
    x2d = x.detach().reshape(-1, args.shape).requires_grad_(True)

    def scrapl_step(p: int) -> None:
        x.grad = None
        loss(x, x_target, path_idx=p).backward()

    def first_order_step() -> None:
        x2d.grad = None
        # energy of every row's spectrum, in the batch chunks a path uses
        groups = [g for c in jt.batch_chunks(x2d) for g in jt.first_order(jt.pad(c), jt.n_psi1)]
        sum(torch.view_as_real(t).square().mean() for _, t in groups).backward()

    def jtfs_step() -> None:
        x.grad = None
        loss(x, x_target).backward()

    if mode == "scrapl":
        n = min(args.n_paths, jt.n_paths)
        paths = sorted({int(p) for p in np.linspace(0, jt.n_paths - 1, n).round()})
        runs = [(p, lambda p=p: scrapl_step(p), args.repeats, True) for p in paths]
    elif mode == "first_order":
        runs = [(None, first_order_step, args.repeats, True)]
    else:
        runs = [(None, jtfs_step, args.jtfs_repeats, not args.no_warmup)]

    if cuda:
        torch.cuda.synchronize()
        setup_mb = torch.cuda.memory_allocated() / MB
        torch.cuda.reset_peak_memory_stats()
    setup_rss = psutil.Process().memory_info().rss / MB
    setup_peak, hwm_reset = peak_rss_mb(), reset_peak_rss()

    times: list[float] = []
    cuda_times: list[float] = []
    per_path: dict[str, dict[str, Any]] = {}
    for p, step, repeats, warm in runs:
        if warm:
            step()
        ts = [timed(step, cuda) for _ in range(repeats)]
        times += [t for t, _ in ts]
        cuda_times += [c for _, c in ts if c is not None]
        if p is not None:
            path = jt.paths[p]
            med = statistics.median(t for t, _ in ts)
            per_path[str(p)] = dict(median_ms=med, n2=path.n2, n_fr=path.n_fr, n1_max=path.n1_max)

    res: dict[str, Any] = dict(mode=mode, n_paths=jt.n_paths, n_psi1=jt.n_psi1, times_ms=times)
    res.update(median_ms=statistics.median(times), min_ms=min(times), max_ms=max(times))
    res.update(per_path=per_path, gpu=torch.cuda.get_device_name() if cuda else None)
    if cuda:
        res["cuda_median_ms"] = statistics.median(cuda_times)
        res["peak_MB"] = torch.cuda.max_memory_allocated() / MB
        res["increase_MB"] = res["peak_MB"] - setup_mb
    else:
        run_peak = peak_rss_mb()  # since the reset, when it worked
        res["peak_MB"] = max(setup_peak, run_peak)
        res["increase_MB"] = max(0.0, run_peak - setup_rss)
        res["increase_exact"] = hwm_reset  # else an upper bound: the peak may be in setup
    return res


def run_mode(mode: str, argv: list[str]) -> dict[str, Any] | None:
    print(f"running {mode} ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, str(ENTRY), "step", *argv, "--worker", mode]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    print(f"[{mode}] worker failed (exit {proc.returncode}):\n{proc.stdout}", file=sys.stderr)
    return None


def report(args: argparse.Namespace, results: dict[str, Any], load_before: float | None) -> dict:
    import torch

    cuda = args.device == "cuda"
    gpu = next((r["gpu"] for r in results.values()), None)  # the parent leaves CUDA alone
    env = dict(torch=torch.__version__, python=platform.python_version(), cpu=cpu_model(), gpu=gpu)
    env["load"] = load_before  # other processes on the cores skew the times
    cfg = {k: getattr(args, k) for k in CONFIG_KEYS}
    any_res = next(iter(results.values()), {})
    print("=" * 88)
    print("JTFS config: " + " ".join(f"{k}={v}" for k, v in cfg.items()))
    print(
        f"n_paths={any_res.get('n_paths')} n_psi1={any_res.get('n_psi1')} batch={args.batch} "
        f"threads={args.threads} device={args.device} dtype={args.dtype} "
        f"repeats={args.repeats} jtfs_repeats={args.jtfs_repeats}"
    )
    print(f"torch {env['torch']}  python {env['python']}  CPU: {env['cpu']}  GPU: {gpu}")
    print(f"cores {os.cpu_count()}  1-min load average before/after: {env['load']} / {load1()}")
    print("=" * 88)
    mem = ("peak_alloc_MB", "peak_increase_MB") if cuda else ("peak_rss_MB", "peak_increase_MB")
    cols = ("median_ms", "min_ms", "max_ms") + (("cuda_median_ms",) if cuda else ())
    print(f"{'mode':<12}" + "".join(f" {c:>14}" for c in cols) + f" {mem[0]:>14} {mem[1]:>17}")
    for mode, r in results.items():
        row = "".join(f" {r[c]:>14.2f}" for c in cols)
        print(f"{mode:<12}{row} {r['peak_MB']:>14.1f} {r['increase_MB']:>17.1f}")
    if "scrapl" in results:
        pp = results["scrapl"]["per_path"]
        meds = [v["median_ms"] for v in pp.values()]
        span = f"median {statistics.median(meds):.2f}, min {min(meds):.2f}, max {max(meds):.2f}"
        print(f"\nscrapl per path ({len(pp)} paths; over paths: {span} ms):")
        for p, v in pp.items():
            where = f"n2={v['n2']}, n_fr={v['n_fr']}, n1_max={v['n1_max']}"
            print(f"  path {p:>5} ({where}): {v['median_ms']:.2f} ms")
    ratios = {}
    for num, den in (("scrapl", "first_order"), ("jtfs", "scrapl")):
        if num in results and den in results:
            ratios[f"{num}/{den}"] = results[num]["median_ms"] / results[den]["median_ms"]
            print(f"ratio {num}/{den} (median time): {ratios[f'{num}/{den}']:.2f}")
    run = {k: getattr(args, k) for k in ("batch", "threads", "device", "dtype", "repeats")}
    return dict(config=cfg, run=run, env=env, results=results, ratios=ratios)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker:
        print(MARKER + json.dumps(worker(args)), flush=True)
        return 0
    argv = [*argv, "--device", args.device]  # workers agree on the device
    load_before = load1()
    results = {m: r for m in args.modes if (r := run_mode(m, argv)) is not None}
    out = report(args, results, load_before)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0 if len(results) == len(args.modes) else 1
