"""Mixed precision of the sound-matching step: the encoder under the trainer's autocast, the
synth and the loss in full precision.

Lightning's ``trainer.precision=bf16-mixed`` / ``16-mixed`` runs the whole training step
under ``torch.autocast``. Only the encoder (CQT and CNN) gains from it: the synths' phase
sums reach ~1e4 rad (a bfloat16 rounding of the phase is a random phase), and the JTFS
distances and P-Adam/P-SAGA need float32 (the loss itself computes half inputs in float32,
but matrix products inside it would be autocast). :func:`full_precision` turns autocast off
for a block; :func:`as_full_precision` hands a half-precision θ̂ back as float32.

Under ``16-mixed`` a GradScaler scales the loss; a step whose scaled gradients overflow is
skipped by the scaler (no optimizer step), and must not reach P-Adam/P-SAGA either (their
moments and table would take the infinite values): :func:`scaler_found_inf` tells, after
Lightning has unscaled the gradients (before ``on_before_optimizer_step``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor

__all__ = ["HALF", "as_full_precision", "full_precision", "scaler_found_inf"]

HALF = (torch.float16, torch.bfloat16)


def full_precision(device_type: str) -> AbstractContextManager:
    """No autocast on ``device_type`` within the block (nothing to do when it is off)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return nullcontext()


def as_full_precision(t: Tensor) -> Tensor:
    """``t`` in float32 if it is half precision (autocast output), else unchanged."""
    return t.float() if t.dtype in HALF else t


def scaler_found_inf(trainer: object, optimizer: torch.optim.Optimizer) -> bool:
    """Whether the trainer's GradScaler (``16-mixed``) found non-finite gradients in this
    step of ``optimizer``; False without a scaler. Reads the scaler's per-device flags, which
    its own ``step`` reads right after (one host sync, that it makes anyway)."""
    scaler = getattr(getattr(trainer, "precision_plugin", None), "scaler", None)
    if scaler is None or not scaler.is_enabled():
        return False
    # GradScaler keeps, per optimizer, the flags that unscale_ wrote (torch's layout).
    state = getattr(scaler, "_per_optimizer_states", {}).get(id(optimizer), {})
    found = state.get("found_inf_per_device", {})
    return any(bool(v.item()) for v in found.values())
