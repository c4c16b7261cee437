"""Pieces shared by the synths: ``expm1(x) / x``, per-example seeding and the ``theta`` check.
How a synth is called (with or without a seed) is experiments/synth_protocol.py."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from scrapl.validation import check_int

__all__ = [
    "SeedLike",
    "check_theta",
    "example_generators",
    "expm1_over_x",
]

SeedLike = int | Tensor | Sequence[int]

# Below this |x| the series of expm1(x) / x is used (error ~ x^3 / 24 < 1e-13).
_SMALL_X = 1e-4
_SEED_MAX = 2**63  # seeds live in int64 tensors


def expm1_over_x(x: Tensor) -> Tensor:
    """``expm1(x) / x`` with the limit 1 at ``x = 0``, NaN-free values and gradients.

    Near 0 the series ``1 + x/2 + x^2/6`` is used; elsewhere ``x`` is replaced by 1 in the
    unused branch so that neither branch produces ``0/0`` in the forward or backward pass.
    """
    small = x.abs() < _SMALL_X
    safe_x = torch.where(small, torch.ones_like(x), x)
    series = 1.0 + x / 2.0 + x * x / 6.0
    return torch.where(small, series, torch.expm1(safe_x) / safe_x)


def _seed_value(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed must be an int (or ints), got {value!r} ({type(value).__name__})")
    if not 0 <= int(value) < _SEED_MAX:
        raise ValueError(f"seed must be in [0, 2**63), got {value}")
    return int(value)


def example_generators(seed: SeedLike, batch: int) -> list[torch.Generator]:
    """One CPU ``torch.Generator`` per example, seeded from ``seed`` (never the global RNG).

    An int ``s`` gives example ``i`` the seed ``s + i``, so example ``i`` of a batch rendered
    with ``seed=s`` equals a single-example render with ``seed=s + i``. A ``(batch,)`` integer
    tensor or a sequence of ``batch`` ints gives example ``i`` the seed ``seed[i]``. Seeds must
    lie in ``[0, 2**63)``.
    """
    batch = check_int("batch", batch, 1)
    if isinstance(seed, Tensor):
        if seed.is_floating_point() or seed.is_complex() or seed.dtype == torch.bool:
            raise TypeError(f"seed must be an integer tensor (int64), got dtype {seed.dtype}")
        if seed.shape != (batch,):
            raise ValueError(
                f"seed tensor must have shape ({batch},) (one per example), got {tuple(seed.shape)}"
            )
        seeds = [_seed_value(int(s)) for s in seed.tolist()]
    elif isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)):
        if len(seed) != batch:
            raise ValueError(f"seed sequence must have length batch = {batch}, got {len(seed)}")
        seeds = [_seed_value(s) for s in seed]
    else:
        start = _seed_value(seed)
        if start + batch > _SEED_MAX:
            raise ValueError(f"seed + batch must be <= 2**63, got seed={start}, batch={batch}")
        seeds = [start + i for i in range(batch)]
    return [torch.Generator().manual_seed(s) for s in seeds]


def check_theta(theta: object, n_dims: int) -> None:
    """Check that ``theta`` is a finite floating tensor of shape ``(batch, n_dims)`` in [0, 1]."""
    if not isinstance(theta, Tensor):
        raise TypeError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
    if not theta.is_floating_point():
        raise TypeError(f"theta must be a floating-point tensor, got dtype {theta.dtype}")
    if theta.ndim != 2 or theta.shape[1] != n_dims or theta.shape[0] < 1:
        raise ValueError(
            f"theta must have shape (batch, {n_dims}) with batch >= 1, got {tuple(theta.shape)}"
        )
    with torch.no_grad():
        # One read of the device per call (a host sync on a GPU); the details only on error.
        if bool((~((theta >= 0) & (theta <= 1))).any()):  # NaN fails both comparisons
            if not bool(torch.isfinite(theta).all()):
                raise ValueError("theta must be finite")
            raise ValueError(
                f"theta must lie in [0, 1], got min {theta.min().item():.4g}, "
                f"max {theta.max().item():.4g}"
            )
