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


def check_signals(x: object, x_target: object, n_samples: int, reference: Tensor) -> tuple:
    """Validate a pair of signal batches and fold channels into the batch.

    Accepts ``(batch, channels, N)`` or ``(batch, N)`` floating tensors of the same shape,
    dtype and device as each other and as ``reference`` (a buffer of the loss), with
    finite values. Returns both as ``(batch * channels, N)``.
    """
    for name, t in (("x", x), ("x_target", x_target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim not in (2, 3):
            raise ValueError(
                f"{name} must have shape (batch, channels, {n_samples}) or (batch, {n_samples}), "
                f"got {tuple(t.shape)}"
            )
        if t.shape[-1] != n_samples:
            raise ValueError(
                f"{name} must have {n_samples} samples in its last axis (the loss's shape), "
                f"got shape {tuple(t.shape)}"
            )
        check_matches_buffer(name, t, reference, "the loss's filters", "the loss")
        if t.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    if x.shape != x_target.shape:
        raise ValueError(
            f"x and x_target must have the same shape, got {tuple(x.shape)} and "
            f"{tuple(x_target.shape)}"
        )
    return x.reshape(-1, n_samples), x_target.reshape(-1, n_samples)


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
