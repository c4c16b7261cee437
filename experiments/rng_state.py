"""The global random generators of every process, saved in and restored from checkpoints.

Dropout and random-resolution losses draw from the global generators: torch's CPU one,
numpy's legacy one (auraloss), Python's, and the generator of the process's own accelerator
(CUDA). A checkpoint keeps one entry per rank (``{"per_rank": [state_0, state_1, ...]}``),
each with the CUDA generator of *that rank's device* only, so that it restores on any number
and kind of devices:

* same number of processes: rank r restores entry r, and the run continues exactly;
* fewer processes (a 2-GPU checkpoint on 1 GPU): rank r still restores entry r, the other
  entries are unused;
* more processes, or a device type the entry lacks (a CPU checkpoint on CUDA): the ranks
  without an entry, and the CUDA generator without a saved state, keep the state that
  ``seed_everything`` gave them (a message says so); the data order and the SCRAPL state
  come from elsewhere in the checkpoint and stay exact, the dropout draws change.

Checkpoints written before this layout hold one flat entry whose ``"cuda"`` lists every
visible device's state (``torch.cuda.get_rng_state_all``): it is taken as rank 0's entry,
and a rank restores the state of its own device index when the list has one.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import torch

__all__ = ["gather_rng_states", "process_rng_state", "restore_rng_state"]

log = logging.getLogger(__name__)


def process_rng_state(device: torch.device | None = None) -> dict[str, Any]:
    """This process's generators; CUDA only for ``device`` (a CUDA device). Plain types and
    tensors only, so that checkpoints load with ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [
            str(kind),
            torch.from_numpy(keys.astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(gauss),
        ],
        "python": random.getstate(),
    }
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def gather_rng_states(device: torch.device | None = None) -> dict[str, Any]:
    """``{"per_rank": [...]}``: every rank's :func:`process_rng_state` (a collective under
    torch.distributed: call it on every rank)."""
    own = process_rng_state(device)
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return {"per_rank": [own]}
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, own)
    return {"per_rank": states}


def _entry(saved: dict[str, Any], rank: int) -> dict[str, Any] | None:
    if "per_rank" in saved:
        per_rank = saved["per_rank"]
        return per_rank[rank] if rank < len(per_rank) else None
    return saved if rank == 0 else None  # the older flat layout: the saving process's


def restore_rng_state(saved: dict[str, Any], rank: int, device: torch.device | None) -> None:
    """Restore rank ``rank``'s entry of ``saved`` (see the module docstring)."""
    entry = _entry(saved, rank)
    if entry is None:
        n = len(saved.get("per_rank", [saved]))
        log.info(
            f"rank {rank}: the checkpoint holds random-generator states for {n} process(es); "
            "this rank keeps its seeded generators (dropout draws differ from the saved run)"
        )
        return
    torch.set_rng_state(entry["torch"])
    kind, keys, pos, has_gauss, gauss = entry["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    random.setstate(entry["python"])
    if device is None or device.type != "cuda":
        return
    cuda = entry.get("cuda")
    if isinstance(cuda, (list, tuple)):  # older layout: one state per visible device
        index = 0 if device.index is None else device.index
        cuda = cuda[index] if index < len(cuda) else None
    if cuda is None:
        log.info(f"rank {rank}: no saved CUDA generator state for {device}; keeping the seeded one")
        return
    torch.cuda.set_rng_state(cuda, device)
