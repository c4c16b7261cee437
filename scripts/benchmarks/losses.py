"""Table 5: time and memory of forward + backward of every loss of the menu (configs/loss/).

``python scripts/benchmark.py losses all`` (or a comma list of names). Each
loss is built by ``hydra.utils.instantiate`` from its Hydra config, composed with
``experiment=<--experiment>`` (default granular: N = 32768, the paper's JTFS) and
``preset=<--preset>`` (default paper), and timed in a fresh process of its own on a batch
of ``--batch`` random signals (θ vectors for a loss that compares θ). Losses that sample a
path (``transform_grads`` and ``n_paths``: SCRAPL) are timed on every path individually
(``--loss-paths``), then summarised by the median and interquartile range over paths and
the largest peak memory; the others by the median and IQR over ``--repeats`` runs. Losses
whose resolved config is the same as an earlier one's (``scrapl_no_theta_is`` differs from
``scrapl`` by its callbacks only) are not run twice. No weights are attached: P-Adam /
P-SAGA work on the encoder's gradients, outside the loss's forward and backward. The table,
with ratios to ``mss_linear``, goes to ``docs/results/benchmark_<device>.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import MB, cpu_model, load1, peak_rss_mb, reset_peak_rss, timed

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "scripts" / "benchmark.py"
MARKER = "@@LOSS_BENCHMARK@@ "
REFERENCE = "mss_linear"


def menu() -> list[str]:
    return sorted(p.stem for p in (ROOT / "configs" / "loss").glob("*.yaml"))


def compose_loss(name: str, experiment: str, preset: str = "paper") -> tuple[Any, Any]:
    """The composed train config for ``loss=<name>`` and its resolved ``loss`` node."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    overrides = [f"experiment={experiment}", f"loss={name}", f"preset={preset}"]
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    return cfg, OmegaConf.to_container(cfg.loss, resolve=True)


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    import numpy as np

    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return float(q50), float(q25), float(q75)


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import hydra
    import numpy as np
    import psutil
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002  (auraloss's random resolutions draw from it)
    cfg, loss_cfg = compose_loss(args.worker, args.experiment, args.preset)
    dev, dtype, cuda = torch.device(args.device), getattr(torch, args.dtype), args.device == "cuda"
    loss = hydra.utils.instantiate(cfg.loss).to(dev, dtype)
    if getattr(loss, "compares", "audio") == "theta":
        shape: tuple[int, ...] = (args.batch, int(cfg.n_theta))
    else:
        shape = (args.batch, 1, int(cfg.synth.n_samples))
    x = torch.rand(shape, device=dev, dtype=dtype, requires_grad=True)
    target = torch.rand(shape, device=dev, dtype=dtype)

    def step(path: int | None) -> None:
        x.grad = None
        value = loss(x, target) if path is None else loss(x, target, path_idx=path)
        value.backward()

    per_path = callable(getattr(loss, "transform_grads", None)) and hasattr(loss, "n_paths")
    if per_path:
        n = loss.n_paths if args.loss_paths == "all" else min(int(args.loss_paths), loss.n_paths)
        paths: list[int | None] = sorted({int(p) for p in np.linspace(0, loss.n_paths - 1, n)})
    else:
        paths = [None]
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        setup = torch.cuda.memory_allocated() / MB
    else:
        setup = psutil.Process().memory_info().rss / MB
        reset_peak_rss()
    medians, peaks = [], []
    for p in paths:
        step(p)  # warm-up
        times = [timed(lambda p=p: step(p), cuda) for _ in range(args.repeats)]
        ms = [c if c is not None else w for w, c in times]
        medians.append(statistics.median(ms) if per_path else ms)
        if cuda:
            peaks.append(torch.cuda.max_memory_allocated() / MB - setup)
            torch.cuda.reset_peak_memory_stats()
        else:
            peaks.append(peak_rss_mb() - setup)
            reset_peak_rss()
    values = medians if per_path else medians[0]
    median, q25, q75 = _quartiles(values)
    return dict(loss=args.worker, target=loss_cfg["_target_"], config=loss_cfg,
                per_path=per_path, n_timed=len(values), median_ms=median, q25_ms=q25,
                q75_ms=q75, peak_MB=max(0.0, max(peaks)), input_shape=list(shape))  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("losses", help="'all' or a comma list of configs/loss/ names")
    ap.add_argument("--experiment", default="granular", help="experiment config")
    ap.add_argument("--preset", default="paper", help="preset config")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per loss or path")
    ap.add_argument("--loss-paths", default="all", help="paths timed per SCRAPL loss")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--md", default=None, help="the Markdown table's path")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if min(args.batch, args.threads, args.repeats) < 1:
        ap.error("--batch, --threads and --repeats must be >= 1")
    if args.loss_paths != "all" and not (args.loss_paths.isdigit() and int(args.loss_paths) > 0):
        ap.error(f"--loss-paths must be 'all' or a positive int, got {args.loss_paths!r}")
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


def _run_worker(name: str, args: argparse.Namespace) -> dict[str, Any] | None:
    print(f"running {name} ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, str(ENTRY), "losses", name, "--worker", name,
           "--experiment", args.experiment,
           "--preset", args.preset,
           "--batch", str(args.batch), "--threads", str(args.threads), "--device", args.device,
           "--dtype", args.dtype, "--repeats", str(args.repeats),
           "--loss-paths", str(args.loss_paths)]  # fmt: skip
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    print(f"[{name}] worker failed (exit {proc.returncode})", file=sys.stderr)
    return None


def markdown(results: list[dict[str, Any]], same: dict[str, str], env: dict[str, Any]) -> str:
    ref = next((r for r in results if r["loss"] == REFERENCE), None)
    lines = [f"# Loss benchmark ({env['device']})", "", "Produced by `" + env["command"] + "`.", ""]
    lines += [f"- {k}: {v}" for k, v in env["facts"].items()]
    lines += ["", "| loss | built from | timed | median ms | IQR ms | peak MB | × mss_linear |"]
    lines.append("|---|---|---|---|---|---|---|")
    for r in results:
        timed_what = f"{r['n_timed']} paths" if r["per_path"] else f"{r['n_timed']} runs"
        ratio = f"{r['median_ms'] / ref['median_ms']:.3g}" if ref else "–"
        iqr = f"{r['q25_ms']:.1f}–{r['q75_ms']:.1f}"
        cells = [r["loss"], f"`{r['target']}`", timed_what, f"{r['median_ms']:.1f}", iqr]
        lines.append("| " + " | ".join([*cells, f"{r['peak_MB']:.0f}", ratio]) + " |")
    for name, earlier in same.items():
        lines.append(f"| {name} | same loss config as {earlier} | – | – | – | – | – |")
    lines += ["", "Per-path losses: median and IQR over the paths of each path's median over "
              "the repeats; peak: the largest over paths. Peak memory: increase over the memory "
              "after set-up (CPU: peak RSS, CUDA: max allocated)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(MARKER + json.dumps(worker(args)), flush=True)
        return 0
    import torch

    names = menu() if args.losses == "all" else [n.strip() for n in args.losses.split(",")]
    unknown = sorted(set(names) - set(menu()))
    if unknown:
        print(f"error: losses: unknown {unknown}; choose 'all' or from {menu()}", file=sys.stderr)
        return 2
    load_before = load1()
    seen: dict[str, str] = {}
    same: dict[str, str] = {}
    results = []
    for name in names:
        key = json.dumps(compose_loss(name, args.experiment, args.preset)[1], sort_keys=True)
        if key in seen:
            same[name] = seen[key]
            continue
        seen[key] = name
        if (res := _run_worker(name, args)) is not None:
            results.append(res)
    cuda = args.device == "cuda"
    env = dict(device=torch.cuda.get_device_name() if cuda else "cpu", command=" ".join(
        ["python scripts/benchmark.py losses", *(argv or sys.argv[1:])]))  # fmt: skip
    env["facts"] = {
        "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores" + ("" if not cuda else ", CUDA"),
        "software": f"torch {torch.__version__}, python {platform.python_version()}",
        "set-up": f"experiment={args.experiment} preset={args.preset}, batch {args.batch}, "
        f"{args.dtype}, torch threads {args.threads}, {args.repeats} timed runs (+1 warm-up) "
        "per loss or path",
        "1-min load average before / after": f"{load_before} / {load1()}",
    }
    if not cuda:
        env["facts"]["note"] = (
            "a shared CPU that other work uses at the same time: times are noisy, compare "
            "ratios within one table"
        )
    text = markdown(results, same, env)
    out = Path(args.md) if args.md else ROOT / "docs" / "results" / f"benchmark_{args.device}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"wrote {out}")
    return 0 if len(results) == len(names) - len(same) else 1
