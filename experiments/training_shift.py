"""The TR-808 experiment's training shift: delay by padding on the left, keep the length.

In the "meso" set-up of Mitcheltree et al. (ICLR 2026, SCRAPL) the reconstruction is delayed
by ``delta + pad`` samples (``delta`` in ``[-pad, pad]``, one per example) and the target by
``pad``, so that they are misaligned by ``delta`` while neither loses its onset; "micro" and
all validation/test use ``delta = 0``. The metrics then drop the first ``pad`` samples.
"""

from __future__ import annotations

import torch
from torch import Tensor

from scrapl.validation import check_int

__all__ = ["pad_shift"]


def pad_shift(audio: Tensor, shift: int | Tensor, pad: int = 2048) -> Tensor:
    """Left-pad ``audio`` with ``shift + pad`` zeros and truncate it to its length.

    ``out[..., n] = audio[..., n - (shift + pad)]`` where that index is ``>= 0``, else 0.

    Args:
        audio: ``(batch, n_samples)`` or ``(batch, channels, n_samples)`` floating tensor.
        shift: an int, or a ``(batch,)`` integer tensor (one shift per example), with
            ``0 <= shift + pad <= n_samples``.
        pad: constant part of the delay in samples (>= 0).

    Returns:
        A tensor of the shape and dtype of ``audio``, differentiable in ``audio``.
    """
    if not isinstance(audio, Tensor) or not audio.is_floating_point():
        raise TypeError("audio must be a floating-point torch.Tensor")
    if audio.ndim not in (2, 3):
        raise ValueError(
            f"audio must have shape (batch, [channels,] n_samples), got {tuple(audio.shape)}"
        )
    pad = check_int("pad", pad, 0)
    batch, n_samples = audio.shape[0], audio.shape[-1]
    if isinstance(shift, Tensor):
        if shift.is_floating_point() or shift.is_complex() or shift.dtype == torch.bool:
            raise TypeError(f"shift must be an integer tensor, got dtype {shift.dtype}")
        if shift.shape != (batch,):
            raise ValueError(
                f"shift must have shape (batch,) = ({batch},), got {tuple(shift.shape)}"
            )
        delay = shift.to(dtype=torch.int64) + pad  # checked where it is (host: no sync)
    else:
        shift = check_int("shift", shift, -pad)
        delay = torch.full((batch,), shift + pad, dtype=torch.int64)
    if bool(((delay < 0) | (delay > n_samples)).any()):
        raise ValueError(
            f"shift + pad must lie in [0, n_samples] = [0, {n_samples}], got "
            f"[{int(delay.min())}, {int(delay.max())}] (pad = {pad})"
        )
    delay = delay.to(audio.device)
    index = torch.arange(n_samples, device=audio.device) - delay[:, None]  # (batch, N)
    if audio.ndim == 3:
        index = index[:, None, :].expand_as(audio)
    gathered = audio.gather(-1, index.clamp(min=0))
    return torch.where(index >= 0, gathered, torch.zeros_like(gathered))
