"""Argument checks shared by the package: each error names the argument and what it accepts."""

from __future__ import annotations

import math
import numbers
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import torch
from torch import Tensor


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` if it is an int ``>= minimum`` (bool excluded: it hides caller bugs)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = type(value).__name__
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} ({kind})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return value


def check_float(name: str, value: object, lo: float, hi: float, hi_open: bool = True) -> float:
    """Return ``value`` as a float if it is a finite real in ``[lo, hi)`` (or ``[lo, hi]``)."""
    interval = f"[{lo}, {hi}{')' if hi_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in {interval}, got {value!r}")
    value = float(value)
    ok = math.isfinite(value) and value >= lo and (value < hi if hi_open else value <= hi)
    if not ok:
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is finite and > 0 (in ``(0, inf)``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in (0, inf), got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be in (0, inf), got {value}")
    return value


def check_float_dtype(name: str, value: object) -> torch.dtype | None:
    """Return ``value`` if it is None or a floating-point ``torch.dtype``."""
    if value is not None and (not isinstance(value, torch.dtype) or not value.is_floating_point):
        raise TypeError(
            f"{name} must be None or a floating torch.dtype (e.g. torch.float32, "
            f"torch.bfloat16), got {value!r}"
        )
    return value


def check_matches_buffer(name: str, t: Tensor, buffer: Tensor, what: str, owner: str) -> None:
    """Check that ``t`` is floating point, with the dtype and device of a module's ``buffer``.

    ``what`` names the buffer in messages (e.g. "the loss's filters"), ``owner`` the module
    to call ``.to()`` on (e.g. "the loss").
    """
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dtype != buffer.dtype:
        raise TypeError(
            f"{name} has dtype {t.dtype} but {what} are {buffer.dtype}: "
            f"call .to({t.dtype}) on {owner} or cast the input"
        )
    if t.device != buffer.device:
        raise ValueError(
            f"{name} is on {t.device} but {what} are on {buffer.device}: "
            f"call .to('{t.device}') on {owner} or move the input"
        )


HALF_DTYPES = (torch.float16, torch.bfloat16)
SIGNAL_DTYPES = "float16, bfloat16, float32 or float64"


def check_signals(
    x: object,
    x_target: object,
    signal_shape: tuple[int, ...],
    reference: Tensor,
    check_finite: bool | None = None,
) -> tuple[Tensor, Tensor, int]:
    """Validate a pair of signal batches, cast them to the computation dtype, fold channels.

    Accepts ``(batch, channels, *signal_shape)`` or ``(batch, *signal_shape)`` real floating
    tensors of the same shape, on the device of ``reference`` (a buffer of the loss).
    Half-precision inputs (float16, bfloat16) are cast to ``reference``'s dtype (float32
    unless the loss was cast), so the gradient flows back in the input's dtype; float32 and
    float64 inputs must match it. ``check_finite`` (None: only on CPU, where reading the
    result costs no device synchronisation) refuses NaN and infinite values.

    Returns both as ``(batch * channels, *signal_shape)`` and ``batch``.
    """
    ndim = len(signal_shape)
    with_channels = f"(batch, channels, {', '.join(map(str, signal_shape))})"
    without = f"(batch, {', '.join(map(str, signal_shape))})"
    out = []
    for name, t in (("x", x), ("x_target", x_target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(
                f"{name} must be a real floating-point tensor ({SIGNAL_DTYPES}), got {t.dtype}"
            )
        if t.ndim not in (ndim + 1, ndim + 2) or tuple(t.shape[-ndim:]) != tuple(signal_shape):
            raise ValueError(
                f"{name} must have shape {with_channels} or {without} (the loss's shape), "
                f"got {tuple(t.shape)}"
            )
        if t.dtype in HALF_DTYPES:
            t = t.to(reference.dtype)
        check_matches_buffer(name, t, reference, "the loss's filters", "the loss")
        if t.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
        finite = t.device.type == "cpu" if check_finite is None else check_finite
        if finite and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        out.append(t)
    x, x_target = out
    if x.shape != x_target.shape:
        raise ValueError(
            f"x and x_target must have the same shape, got {tuple(x.shape)} and "
            f"{tuple(x_target.shape)}"
        )
    batch = x.shape[0]
    return x.reshape(-1, *signal_shape), x_target.reshape(-1, *signal_shape), batch


def load_torch_file(path: str | Path, what: str, mmap: bool = False) -> object:
    """Read a ``torch.save`` file of tensors and plain data (``weights_only=True``).

    A missing, truncated, corrupt or foreign file raises a ValueError that names the file,
    ``what`` was expected in it and why it was refused. Files holding other Python objects
    are refused, never loaded: unpickling them could run arbitrary code. ``mmap`` maps the
    tensors' storage instead of reading it (large checkpoints).
    """
    try:
        with warnings.catch_warnings():
            # Raised for pickles that torch.save did not write, which are refused anyway.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # torch.load raises many types for corrupt or foreign files
        reason = _unreadable_reason(path, e)
    # Not chained: torch's own message advises loading with weights_only=False.
    raise ValueError(f"cannot read {what} from {str(path)!r}: {reason}") from None


def _unreadable_reason(path: str | Path, error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a directory"
    if isinstance(error, OSError) and not os.path.isfile(path):
        return f"it cannot be opened ({error.strerror or error})"
    if os.path.getsize(path) == 0:
        return "the file is empty"
    if isinstance(error, pickle.UnpicklingError) and zipfile.is_zipfile(path):
        return (
            "it holds Python objects other than tensors and plain containers, which are not "
            "loaded (unpickling them could run arbitrary code)"
        )
    return "it is not a complete torch.save file (truncated, corrupt, or of another format)"
