"""Measuring helpers shared by the benchmarks: peak memory, one timed call, the machine."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

from experiments.benchmarks.memory import peak_rss_mb, reset_peak_rss

__all__ = ["MB", "cpu_model", "load1", "peak_rss_mb", "reset_peak_rss", "timed"]

MB = 2.0**20


def timed(fn: Callable[[], None], cuda: bool) -> tuple[float, float | None]:
    """Run ``fn`` once; return (wall ms, CUDA-event ms or None)."""
    if cuda:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
    t0 = time.perf_counter()
    fn()
    if cuda:
        end.record()
        torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) * 1e3
    return wall, (start.elapsed_time(end) if cuda else None)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def load1() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
