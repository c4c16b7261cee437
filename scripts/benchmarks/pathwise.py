"""Memory, time and operator calls of P-Adam / P-SAGA on an encoder's gradients.

Uses the parameter shapes of the paper's CNN encoder (``experiments.models.cnn.CNNEncoder``,
604,106 weights in 28 tensors for 2 θ), visits every path once (the state is allocated lazily
per visited path, so this is the largest it gets), then times revisits (the common case once
every path was seen). Prints for each storage option the state's size per path and in total,
the median time of one revisit step, and the ATen operators of one step that compute
something (views excluded: what a GPU launches as kernels, counted with a dispatch mode).

    python scripts/benchmark.py pathwise --n-paths 315 --threads 1
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

# storage option -> (storage dtype name, offload to CPU)
OPTIONS = {
    "float32": (None, False),
    "bfloat16": ("bfloat16", False),
    "float32+offload": (None, True),
}


def count_calls_mode():
    """A dispatch mode counting the ATen operators called inside it, views (no kernel)
    excluded; built on demand so that ``--help`` does not import torch."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class CountCalls(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.calls: Counter[str] = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not func.is_view:
                self.calls[str(func.overloadpacket)] += 1
            return func(*args, **(kwargs or {}))

    return CountCalls()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-theta", type=int, default=2, help="θ dims of the encoder")
    ap.add_argument("--n-paths", type=int, default=315)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    args = ap.parse_args(argv)
    import numpy as np
    import torch

    from experiments.models.cnn import CNNEncoder
    from scrapl.pathwise.adam_saga import PathwiseGradientTransform

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(args.threads)
    shapes = [p.shape for p in CNNEncoder(args.n_theta).parameters()]
    gen = torch.Generator().manual_seed(0)
    grads = [(torch.randn(s, generator=gen) * 1e-9).to(args.device) for s in shapes]
    n_weights = sum(g.numel() for g in grads)
    print(
        f"{n_weights} weights in {len(grads)} tensors, {args.n_paths} paths, "
        f"device {args.device}, {args.threads} thread(s)"
    )
    print(f"{'storage':<18}{'MB/path':>10}{'total MB':>10}{'ms/step':>10}{'ops/step':>10}")
    for name, (dtype, offload) in OPTIONS.items():
        kwargs = dict(storage_dtype=dtype and getattr(torch, dtype), offload_to_cpu=offload)
        transform = PathwiseGradientTransform(args.n_paths, **kwargs)
        visits = torch.randperm(args.n_paths, generator=gen).tolist()
        for step, path in enumerate(visits, 1):  # every path once: all state allocated
            transform.apply_all(grads, path, step)
        times, counts = [], []
        for i, path in enumerate(visits[: min(60, args.n_paths)]):
            step = args.n_paths + 1 + i
            if i % 10 == 1:  # operators counted on every 10th revisit, the others timed
                with count_calls_mode() as mode:
                    transform.apply_all(grads, path, step)
                counts.append(sum(mode.calls.values()))
                continue
            start = time.perf_counter()
            transform.apply_all(grads, path, step)
            if args.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        total = transform.memory_bytes() / 2**20
        print(
            f"{name:<18}{total / args.n_paths:>10.2f}{total:>10.0f}"
            f"{1e3 * np.median(times):>10.2f}{int(np.median(counts)):>10d}"
        )
    return 0
