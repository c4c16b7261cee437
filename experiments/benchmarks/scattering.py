"""Time and memory of a SCRAPL step on time and image scattering, against the full transform.

Three modes, each in a fresh subprocess so that its peak memory is its own:

- ``scrapl``: forward + backward of ``Scattering{1,2}DSCRAPLLoss(x, x_target, path_idx=p)`` for
  paths spread evenly over the index range (1 warm-up + ``repeats`` runs each);
- ``full``: the project's full loss, ``Scattering{1,2}DLoss`` (all paths, work shared);
- ``kymatio``: kymatio 0.3's torch transform of both inputs and the same distance (mean over
  the order-1 and order-2 rows of the 2-norm of the difference), forward + backward.

Times: ``time.perf_counter``, median over the runs (over paths: the median of each path's
median). Memory: the peak RSS over the RSS after setup (loss and inputs built), the kernel's
high-water mark being reset after setup where Linux allows it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import psutil
import torch

from experiments.benchmarks.memory import peak_rss_mb, reset_peak_rss

MODES = ("scrapl", "full", "kymatio")
MARKER = "@@SCATTERING_BENCHMARK@@ "
MB = 2.0**20


@dataclass(frozen=True)
class Setting:
    """One benchmark: a transform (``kind`` "1d" or "2d" and its arguments) and the run."""

    kind: str
    transform: dict
    batch: int = 4
    threads: int = 1
    repeats: int = 3
    n_paths: int = 16


def import_kymatio_torch() -> Any:
    """kymatio.torch, importable on scipy >= 1.17 (which removed ``sph_harm``, used only by
    kymatio's 3-D transform: defined here through ``sph_harm_y``)."""
    import scipy.special

    if not hasattr(scipy.special, "sph_harm"):
        scipy.special.sph_harm = lambda m, n, theta, phi: scipy.special.sph_harm_y(n, m, phi, theta)
    import kymatio.torch

    return kymatio.torch


def build(setting: Setting, mode: str) -> tuple[Callable, Callable | None, int, tuple]:
    """``(loss(x, x_target, path_idx=None), None, n_paths, signal shape)`` of a mode."""
    from scrapl import (
        Scattering1DLoss,
        Scattering1DSCRAPLLoss,
        Scattering2DLoss,
        Scattering2DSCRAPLLoss,
    )

    t = setting.transform
    one_d = setting.kind == "1d"
    shape = (t["shape"],) if one_d else tuple(t["shape"])
    if mode == "scrapl":
        cls = Scattering1DSCRAPLLoss if one_d else Scattering2DSCRAPLLoss
        loss = cls(**t, use_p_adam=False, use_p_saga=False)
        return (lambda x, y, p: loss(x, y, path_idx=p)), loss.n_paths, shape
    if mode == "full":
        loss = (Scattering1DLoss if one_d else Scattering2DLoss)(**t)
        return (lambda x, y, p: loss(x, y)), loss.n_paths, shape
    kymatio = import_kymatio_torch()
    if one_d:
        scat = kymatio.Scattering1D(t["J"], t["shape"], Q=(t["Q1"], t["Q2"]), T=t.get("T"))
    else:
        scat = kymatio.Scattering2D(t["J"], tuple(t["shape"]), L=t.get("L", 8))

    def kymatio_loss(x: torch.Tensor, y: torch.Tensor, p: int | None) -> torch.Tensor:
        with torch.no_grad():
            s_y = scat(y)[:, :, 1:]  # (batch, channels, paths, ...)
        diff = (scat(x)[:, :, 1:] - s_y).flatten(3)
        return torch.linalg.vector_norm(diff, dim=-1).mean()

    n_paths = scat.meta()["order"].__ne__(0).sum() if one_d else None
    return kymatio_loss, (int(n_paths) if n_paths is not None else None), shape


def worker(setting: Setting, mode: str) -> dict[str, Any]:
    """Run one mode in this process; the result as a JSON-ready dict."""
    torch.set_num_threads(setting.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    loss, n_paths, shape = build(setting, mode)
    build_s = time.perf_counter() - t0
    x = torch.randn(setting.batch, 1, *shape, requires_grad=True)
    y = torch.randn(setting.batch, 1, *shape)

    def step(p: int | None) -> float:
        x.grad = None
        start = time.perf_counter()
        value = loss(x, y, p)
        value.backward()
        return (time.perf_counter() - start) * 1e3

    paths: list[int | None] = [None]
    if mode == "scrapl":
        count = min(setting.n_paths, n_paths)
        paths = sorted({int(p) for p in np.linspace(0, n_paths - 1, count).round()})
    setup_rss = psutil.Process().memory_info().rss / MB
    exact = reset_peak_rss()
    per_path = {}
    for p in paths:
        step(p)  # warm-up
        per_path[str(p)] = statistics.median(step(p) for _ in range(setting.repeats))
    with torch.no_grad():
        value = float(loss(x, y, paths[0]))
    return dict(
        mode=mode,
        n_paths=n_paths,
        build_s=build_s,
        median_ms=statistics.median(per_path.values()),
        min_ms=min(per_path.values()),
        max_ms=max(per_path.values()),
        per_path_ms=per_path,
        increase_MB=max(0.0, peak_rss_mb() - setup_rss),
        increase_exact=exact,
        value=value,
    )


def run(setting: Setting, modes: tuple[str, ...] = MODES) -> dict[str, dict[str, Any]]:
    """Every mode in a fresh subprocess (``python -m experiments.benchmarks.scattering``)."""
    results = {}
    for mode in modes:
        print(f"[{setting.kind}] running {mode} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", __name__, json.dumps(asdict(setting)), mode]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"{mode} worker failed (exit {proc.returncode}):\n{proc.stdout}")
        results[mode] = json.loads(lines[-1][len(MARKER) :])
    return results


def report(setting: Setting, results: dict[str, dict[str, Any]]) -> str:
    """The results as a plain-text table."""
    n_paths = results.get("scrapl", results.get("full", {})).get("n_paths")
    lines = [
        f"{setting.kind}: {setting.transform}, batch {setting.batch}, {setting.threads} "
        f"thread(s), {setting.repeats} runs, {n_paths} paths (order 1 and 2), float32",
        f"{'mode':<9} {'median ms':>11} {'min ms':>9} {'max ms':>9} {'peak +MB':>9} "
        f"{'build s':>8}  loss",
    ]
    for mode, r in results.items():
        lines.append(
            f"{mode:<9} {r['median_ms']:>11.1f} {r['min_ms']:>9.1f} {r['max_ms']:>9.1f} "
            f"{r['increase_MB']:>9.1f} {r['build_s']:>8.2f}  {r['value']:.6g}"
        )
    if "scrapl" in results:
        lines.append(f"scrapl: median over {len(results['scrapl']['per_path_ms'])} paths")
        for other in ("full", "kymatio"):
            if other in results:
                ratio = results[other]["median_ms"] / results["scrapl"]["median_ms"]
                lines.append(f"{other} / scrapl step time: {ratio:.0f}x")
    if "full" in results and "kymatio" in results:
        a, b = results["full"]["value"], results["kymatio"]["value"]
        lines.append(f"full loss vs kymatio's: relative difference {abs(a - b) / abs(b):.1e}")
    return "\n".join(lines)


if __name__ == "__main__":
    setting = Setting(**json.loads(sys.argv[1]))
    print(MARKER + json.dumps(worker(setting, sys.argv[2])), flush=True)
