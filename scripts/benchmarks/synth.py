"""Time of the TR-808 synth: forward and forward + backward of a batch, median over repeats.

The backward pass goes to ``theta`` (as in training, where theta comes from the encoder),
through the oscillators, envelopes and the frequency-domain biquad.

    python scripts/benchmark.py synth --batch 8 --n-samples 44100 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time


def _median_ms(fn, repeats: int, device: str) -> float:
    import torch

    fn()  # warm-up (allocations, FFT plans)
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--n-samples", type=int, default=44100)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    args = ap.parse_args(argv)
    import torch

    from experiments.synths.tr808 import TR808Synth

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    synth = TR808Synth(n_samples=args.n_samples).to(device=args.device, dtype=dtype)
    gen = torch.Generator().manual_seed(0)
    theta = torch.rand(args.batch, synth.n_theta, generator=gen).to(args.device, dtype)

    def forward() -> None:
        with torch.no_grad():
            synth(theta)

    def forward_backward() -> None:
        leaf = theta.clone().requires_grad_(True)
        synth(leaf).square().mean().backward()

    fwd = _median_ms(forward, args.repeats, args.device)
    fwd_bwd = _median_ms(forward_backward, args.repeats, args.device)
    print(
        f"TR808Synth batch {args.batch}, N {args.n_samples}, {args.dtype}, {args.device}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"forward            {fwd:8.1f} ms")
    print(f"forward + backward {fwd_bwd:8.1f} ms")
    return 0
