"""Memory and time of P-Adam / P-SAGA state for an encoder-sized set of weights.

Visits every path once (the state is allocated lazily per visited path, so this is the
largest it gets) and prints the state's size per path and in total, and the time of one
transform step, for each storage option.

    python scripts/benchmark.py pathwise --n-params 604000 --n-paths 315
"""

from __future__ import annotations

import argparse
import time

# storage option -> (storage dtype name, offload to CPU)
OPTIONS = {
    "float32": (None, False),
    "bfloat16": ("bfloat16", False),
    "float32+offload": (None, True),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-params", type=int, default=604_000, help="number of weights")
    ap.add_argument("--n-tensors", type=int, default=20, help="number of parameter tensors")
    ap.add_argument("--n-paths", type=int, default=315)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    args = ap.parse_args(argv)
    import numpy as np
    import torch

    from scrapl.pathwise.adam_saga import PathwiseGradientTransform

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = np.full(args.n_tensors, args.n_params // args.n_tensors)
    sizes[0] += args.n_params - sizes.sum()
    grads = [torch.randn(int(n), device=args.device) * 1e-9 for n in sizes]
    print(
        f"{args.n_params} weights in {args.n_tensors} tensors, {args.n_paths} paths, "
        f"device {args.device}"
    )
    print(f"{'storage':<18}{'MB/path':>10}{'total MB':>10}{'ms/step':>10}")
    for name, (dtype, offload) in OPTIONS.items():
        kwargs = dict(storage_dtype=dtype and getattr(torch, dtype), offload_to_cpu=offload)
        transform = PathwiseGradientTransform(args.n_paths, **kwargs)
        times = []
        for step, path in enumerate(torch.randperm(args.n_paths).tolist(), start=1):
            start = time.perf_counter()
            transform.apply_all(grads, path, step)
            if args.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        total = transform.memory_bytes() / 2**20
        print(
            f"{name:<18}{total / args.n_paths:>10.2f}{total:>10.0f}{1e3 * np.median(times):>10.2f}"
        )
    return 0
