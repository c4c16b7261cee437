"""Operator counts and self-time profile of one SCRAPL step (forward + backward of one path).

Counts, with ``torch.profiler``, the ATen operator calls of one step per path for
``--n-paths`` paths spread evenly over the index range (after one untimed step of each) and
prints the median over paths, plus a table of the operators with the most self CPU time
summed over all profiled steps. Three counts per step:

- kernels: ATen calls that touch tensor data (leaves of the call tree, less views and bare
  allocations), what a GPU pays a kernel launch for;
- top-level ATen calls: those made by Python or the autograd engine (a call made inside
  another ATen call is part of it), views included;
- backward nodes run by the autograd engine.

Usage::

    python scripts/benchmark.py ops                    # paper configuration, batch 4
    python scripts/benchmark.py ops --batch 32 --n-paths 4 --top 25
    python scripts/benchmark.py ops --shape 4096 --J 6 --Q1 4 --Q2 1 --J_fr 2 --Q_fr 1 \\
        --T none --F none --n-paths 3                  # smoke test, seconds
"""

from __future__ import annotations

import argparse
import collections
import statistics

from benchmarks import step as step_benchmark


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--top``, and the transform, ``--batch``, ``--threads`` and ``--n-paths`` options of
    ``benchmark.py step`` (its other options are accepted and ignored)."""
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Transform, --batch, --threads, --n-paths: as in scripts/benchmark.py step.",
    )
    ap.add_argument("--top", type=int, default=15, help="rows of the self-CPU-time table")
    own, rest = ap.parse_known_args(argv)
    if own.top < 1:
        ap.error("--top must be >= 1")
    args = step_benchmark.parse_args(rest)
    args.top = own.top
    return args


# Leaf ATen calls that only make views or allocate: no kernel on a GPU.
NO_KERNEL = {
    "aten::" + name
    for name in (
        "empty empty_like empty_strided view _unsafe_view as_strided _reshape_alias alias "
        "select slice narrow unsqueeze squeeze transpose t permute expand view_as_real "
        "view_as_complex split_with_sizes unfold detach lift_fresh _conj resolve_conj "
        "resolve_neg result_type"
    ).split()
}


def is_kernel(event) -> bool:
    """A leaf ATen call (no ATen call below it) that is not a view or an allocation."""
    if not event.name.startswith("aten::") or event.name in NO_KERNEL:
        return False
    return not any(c.name.startswith("aten::") for c in event.cpu_children)


def is_top_level(event) -> bool:
    """An ATen call that no other ATen call made (a Python or autograd-engine call)."""
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::"):
            return False
        parent = parent.cpu_parent
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    from scrapl import SCRAPLLoss

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = {k: getattr(args, k) for k in step_benchmark.CONFIG_KEYS}
    loss = SCRAPLLoss(**cfg, use_p_adam=False, use_p_saga=False)
    x = torch.randn(args.batch, 1, args.shape, requires_grad=True)
    x_target = torch.randn(args.batch, 1, args.shape)
    n = min(args.n_paths, loss.n_paths)
    paths = sorted({int(p) for p in np.linspace(0, loss.n_paths - 1, n).round()})

    def step(p: int) -> None:
        x.grad = None
        loss(x, x_target, path_idx=p).backward()

    counts, kernel_counts, node_counts = [], [], []
    self_us: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    total_us = 0.0
    for p in paths:
        step(p)  # untimed: first-call allocations, plan caches
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step(p)
        events = prof.events()
        top = [e for e in events if e.name.startswith("aten::") and is_top_level(e)]
        nodes = [e for e in events if e.name.startswith("autograd::engine::evaluate_function")]
        kernels = sum(1 for e in events if is_kernel(e))
        counts.append(len(top))
        kernel_counts.append(kernels)
        node_counts.append(len(nodes))
        for e in events:
            if e.name.startswith("aten::"):
                self_us[e.name] += e.self_cpu_time_total
                calls[e.name] += 1
        total_us += sum(e.self_cpu_time_total for e in events)
        print(
            f"path {p:>4}: {kernels:>5} kernels, {len(top):>5} top-level ATen calls, "
            f"{len(nodes):>4} backward nodes"
        )
    print(
        f"\nper step, median over {len(paths)} paths: {statistics.median(kernel_counts):.0f} "
        f"kernels, {statistics.median(counts):.0f} top-level ATen calls, "
        f"{statistics.median(node_counts):.0f} backward nodes (batch {args.batch})"
    )
    print(f"\nself CPU time over {len(paths)} profiled steps: {total_us / 1e3:.0f} ms")
    print(f"{'op':<36} {'share':>7} {'calls':>7}")
    for name, us in self_us.most_common(args.top):
        print(f"{name:<36} {100 * us / total_us:>6.1f}% {calls[name]:>7}")
    return 0
