"""The measurements of ``scripts/gpu_check.py``, on any device (a CPU for a dry run).

* :func:`loss_parity`: a loss on the CPU and on ``device``, the same inputs: relative
  differences of the value and of the input gradient, per path for SCRAPL.
* :func:`render_determinism`: a synth rendered twice on ``device`` (bit-identical?) and its
  relative difference from the CPU render.
* :func:`time_fn`: median time (CUDA events on a GPU) and peak memory of a function.
* :func:`profile_steps`: kernels per step, device busy fraction and host reads per step of
  a few training steps (torch.profiler and :class:`~experiments.benchmarks.host_reads.HostReads`).

Relative differences are ``‖a − b‖ / ‖b‖`` over all elements, ``b`` the CPU's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from experiments.benchmarks.host_reads import HostReads

__all__ = [
    "Parity",
    "device_name",
    "loss_parity",
    "profile_steps",
    "relative_difference",
    "render_determinism",
    "time_fn",
]


def device_name(device: torch.device | str) -> str:
    """A readable name: the GPU's model, or the CPU and its torch threads."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({device})"
    return f"CPU, {torch.get_num_threads()} torch thread(s)"


def relative_difference(a: Tensor, b: Tensor) -> float:
    """``‖a − b‖ / ‖b‖`` in float64 on the CPU (``‖a‖`` when ``b`` is zero)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    norm = float(b.norm())
    return float((a - b).norm()) / (norm if norm > 0 else max(float(a.norm()), 1e-300))


@dataclass(frozen=True)
class Parity:
    """One comparison: what (e.g. ``"SCRAPL path 17"``), relative differences of the value
    and of the gradient with respect to the input."""

    what: str
    value: float
    grad: float


def _value_and_grad(loss: nn.Module, x: Tensor, y: Tensor, **kw: Any) -> tuple[Tensor, Tensor]:
    x = x.detach().requires_grad_(True)
    value = loss(x, y, **kw)
    (grad,) = torch.autograd.grad(value, x)
    return value.detach(), grad


def loss_parity(
    make_loss: Callable[[], nn.Module],
    x: Tensor,
    y: Tensor,
    device: torch.device | str,
    paths: Sequence[int] | None = None,
    label: str = "loss",
) -> list[Parity]:
    """The loss built by ``make_loss`` on the CPU and on ``device``, on the same ``x``, ``y``
    (CPU tensors): one :class:`Parity` per path of ``paths`` (``path_idx=p``), or one for
    the loss itself when ``paths`` is None."""
    cpu, other = make_loss(), make_loss().to(device)
    rows = []
    for p in [None] if paths is None else list(paths):
        kw = {} if p is None else {"path_idx": int(p)}
        v_cpu, g_cpu = _value_and_grad(cpu, x, y, **kw)
        v_dev, g_dev = _value_and_grad(other, x.to(device), y.to(device), **kw)
        what = label if p is None else f"{label} path {p}"
        rows.append(
            Parity(what, relative_difference(v_dev, v_cpu), relative_difference(g_dev, g_cpu))
        )
    return rows


def render_determinism(
    synth: nn.Module, theta: Tensor, seed: Tensor | None, device: torch.device | str
) -> tuple[bool, float]:
    """``(two renders on device bit-identical, relative difference from the CPU render)``;
    ``seed`` None for a synth without seed. ``synth`` is moved to ``device`` and back."""

    def render(dev: torch.device | str) -> Tensor:
        args = (theta.to(dev),) if seed is None else (theta.to(dev), seed)
        with torch.no_grad():
            return synth.to(dev)(*args)

    on_cpu = render("cpu")
    first, second = render(device), render(device)
    synth.to("cpu")
    return bool(torch.equal(first, second)), relative_difference(first, on_cpu)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(
    fn: Callable[[], object], device: torch.device | str, repeats: int = 5, warmup: int = 1
) -> tuple[float, float | None]:
    """``(median milliseconds, peak bytes or None)`` of ``fn()``: CUDA events and
    ``max_memory_allocated`` (reset after the warm-up calls) on a GPU, the wall clock and no
    memory figure elsewhere."""
    device = torch.device(device)
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times), float(torch.cuda.max_memory_allocated(device))
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times), None


def profile_steps(
    step: Callable[[], object],
    device: torch.device | str,
    n_steps: int,
    device_tensors: Callable[[], Iterable[object]] = list,
) -> dict[str, float | None]:
    """Profile ``n_steps`` calls of ``step`` (after one untimed call): ``kernels_per_step``
    (device kernels on a GPU, operators on a CPU), ``busy_fraction`` (device kernel time
    over wall time; None on a CPU), ``host_reads_per_step`` (reads of the tensors given by
    ``device_tensors()`` and of everything computed from them, see HostReads) and
    ``ms_per_step`` (wall)."""
    from torch.profiler import ProfilerActivity, profile

    device = torch.device(device)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    step()
    _sync(device)
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    reads = 0
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        for _ in range(n_steps):
            counter = HostReads()
            counter.track(device_tensors())
            with counter:
                step()
            reads += len(counter.reads)
        _sync(device)
    wall_us = 1e6 * (time.perf_counter() - t0)
    events = prof.events()
    if cuda:
        kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
        busy = sum(e.device_time for e in kernels) / wall_us if wall_us > 0 else None
    else:
        kernels = [e for e in events if e.name.startswith("aten::")]
        busy = None
    return {
        "kernels_per_step": len(kernels) / n_steps,
        "busy_fraction": busy,
        "host_reads_per_step": reads / n_steps,
        "ms_per_step": wall_us / 1e3 / n_steps,
    }
