"""Reconstruction seeds of the synthetic sound-matching experiments (the paper's set-up).

The target of an example is always rendered with the same seed (its index in the grid), but
the reconstruction ``x̂ = synth(θ̂, seed_hat)`` gets a fresh seed at every step, in training,
validation and test alike: the model can never learn one particular grain layout (granular)
or time shift (chirplet) of the reconstruction. To keep runs reproducible and resumable, the
seeds are not drawn from a global RNG but derived from ``(run seed, split, epoch, target
seed)`` with numpy's ``SeedSequence``: the same example at the same epoch of the same run gets
the same reconstruction seed, whatever the batch it lands in, the batch size or the number of
devices.

The seeds lie in ``[RECON_SEED_OFFSET, RECON_SEED_OFFSET + 2**31)``, disjoint from the target
seeds (``[0, n_examples)`` for any grid of fewer than ``2**40`` examples).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import torch
from torch import Tensor

from scrapl.validation import check_int

__all__ = ["RECON_SEED_OFFSET", "reconstruction_seeds"]

RECON_SEED_OFFSET: Final[int] = 2**40
_SPLIT_CODES: Final[dict[str, int]] = {"train": 0, "val": 1, "test": 2}


def reconstruction_seeds(run_seed: int, split: str, epoch: int, target_seeds: Tensor) -> Tensor:
    """Seeds of the reconstructions of a batch, ``(batch,)`` int64 on ``target_seeds``' device.

    Args:
        run_seed: the run's seed (>= 0).
        split: ``"train"``, ``"val"`` or ``"test"``.
        epoch: the current epoch (>= 0).
        target_seeds: ``(batch,)`` integer seeds of the batch's targets (>= 0).
    """
    run_seed = check_int("run_seed", run_seed, 0)
    epoch = check_int("epoch", epoch, 0)
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(_SPLIT_CODES)}, got {split!r}")
    if not isinstance(target_seeds, Tensor) or target_seeds.dim() != 1:
        raise TypeError("target_seeds must be a 1-D integer tensor (one seed per example)")
    if target_seeds.is_floating_point() or target_seeds.is_complex():
        raise TypeError(f"target_seeds must be an integer tensor, got {target_seeds.dtype}")
    code = _SPLIT_CODES[split]
    values = [
        int(np.random.SeedSequence([run_seed, code, epoch, s]).generate_state(1, np.uint32)[0])
        for s in target_seeds.tolist()
    ]
    seeds = torch.tensor(values, dtype=torch.int64) % 2**31 + RECON_SEED_OFFSET
    return seeds.to(target_seeds.device)
