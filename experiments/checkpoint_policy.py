"""What a checkpoint holds of the SCRAPL loss's path-wise state (P-Adam moments, P-SAGA
table), and how often the full state is written.

At the paper's set-up (604 K encoder weights, 315 paths, all visited) the path-wise state is
~2.3 GB in ~26 K tensors; everything else in a checkpoint is a few MB. Hence:

* **Best-k checkpoints** (``best-epoch<NNN>.ckpt``) serve evaluation: they are written
  without the path-wise state (:func:`omit_pathwise`; the key stays, marked
  :data:`OMITTED`). Loading one for testing or ``scripts/evaluate.py`` works; resuming
  training from one is refused (the P-Adam/P-SAGA state would restart from zero).
* **last.ckpt** holds the full state, at a cadence the run sets (``checkpoint.*`` in
  ``configs/train.yaml``); :func:`cadence_steps` gives the smallest cadence whose writing
  costs at most a fraction of training time. Its path-wise tensors may be stored in a lower
  precision (:func:`store_pathwise_as`, ``checkpoint.pathwise_dtype=bfloat16``: half the
  size; a resumed run then continues from rounded moments, no longer bit-identical).

The functions work on the checkpoint dict (``state_dict["loss._extra_state"]["pathwise"]``,
whatever the library's layout inside it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = [
    "EXTRA_KEY",
    "OMITTED",
    "STORAGE_DTYPES",
    "cadence_steps",
    "has_omitted_pathwise",
    "omit_pathwise",
    "pathwise_state_omitted",
    "store_pathwise_as",
]

EXTRA_KEY = "loss._extra_state"
OMITTED = "omitted: a best-k checkpoint, for evaluation (resume from last.ckpt)"
STORAGE_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def _extra(checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    extra = checkpoint.get("state_dict", {}).get(EXTRA_KEY)
    return extra if isinstance(extra, dict) and "pathwise" in extra else None


def omit_pathwise(checkpoint: dict[str, Any]) -> bool:
    """Drop the path-wise state from ``checkpoint`` (in place); False if it has none."""
    extra = _extra(checkpoint)
    if extra is None:
        return False
    extra["pathwise"] = OMITTED
    return True


@contextmanager
def pathwise_state_omitted(loss: object) -> Iterator[None]:
    """Within the block, ``loss``'s state_dict holds :data:`OMITTED` instead of its path-wise
    state: the state is never copied out (at the paper's set-up copying it takes seconds and
    GBs of memory). Nothing happens for a loss without path-wise state."""
    pathwise = getattr(loss, "pathwise", None)
    if pathwise is None or not callable(getattr(pathwise, "state_dict", None)):
        yield
        return
    pathwise.state_dict = lambda: OMITTED  # an instance attribute shadows the method
    try:
        yield
    finally:
        del pathwise.state_dict


def has_omitted_pathwise(checkpoint: dict[str, Any]) -> bool:
    extra = _extra(checkpoint)
    return extra is not None and extra["pathwise"] == OMITTED


def _cast(obj: Any, dtype: torch.dtype) -> Any:
    if isinstance(obj, torch.Tensor):
        wider = obj.is_floating_point() and torch.finfo(obj.dtype).bits > torch.finfo(dtype).bits
        return obj.to(dtype) if wider else obj
    if isinstance(obj, dict):
        return {k: _cast(v, dtype) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cast(v, dtype) for v in obj)
    return obj


def store_pathwise_as(checkpoint: dict[str, Any], dtype: str | None) -> None:
    """Store the path-wise state's floating tensors wider than ``dtype`` in ``dtype``
    (``"bfloat16"``, ``"float16"``; None: as they are). In place."""
    if dtype is None:
        return
    if dtype not in STORAGE_DTYPES:
        raise ValueError(
            f"checkpoint.pathwise_dtype must be one of {sorted(STORAGE_DTYPES)} or null, "
            f"got {dtype!r}"
        )
    extra = _extra(checkpoint)
    if extra is not None and extra["pathwise"] != OMITTED:
        extra["pathwise"] = _cast(extra["pathwise"], STORAGE_DTYPES[dtype])


def cadence_steps(save_s: float, step_s: float, max_fraction: float) -> int:
    """The fewest training steps between two writes such that writing (``save_s`` seconds
    each) takes at most ``max_fraction`` of the time: ``save_s / (n step_s) <= max_fraction``."""
    for name, value in (("save_s", save_s), ("step_s", step_s), ("max_fraction", max_fraction)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return max(1, math.ceil(save_s / (max_fraction * step_s) - 1e-9))
