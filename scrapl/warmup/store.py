"""On-disk format of a θ-IS warmup directory (written by :func:`scrapl.warmup.warmup_lc_hvp`).

Holds the file names, the configuration record (``config.json``: what changes the values,
with SHA-256 fingerprints of the data and parameters), atomic writes, and the reading and
listing of the per-(path, θ) value files. Kept apart from the computation so that the format
that resumed and shared warmups rely on is defined in one place; see the module docstring of
:mod:`scrapl.warmup.theta_is` for what each file holds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from scrapl.validation import load_torch_file

if TYPE_CHECKING:
    from scrapl.losses.random_path import RandomPathLoss

FORMAT = "scrapl-warmup-lc-hvp/1"
CONFIG_NAME = "config.json"
PROBS_NAME = "probs.pt"
_VALS_RE = re.compile(r"^vals_(\d+)_(\d+)\.pt$")


def vals_name(path_idx: int, theta_idx: int) -> str:
    """File name of the value of path ``path_idx`` and θ dim ``theta_idx``."""
    return f"vals_{path_idx}_{theta_idx}.pt"


def _fingerprint(obj: object, h: Any) -> None:
    """Feed a structure of tensors, arrays, containers and primitives into hash ``h``."""
    if isinstance(obj, Tensor):
        t = obj.detach().to("cpu").contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.is_complex():
            t = torch.view_as_real(t)
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, np.ndarray):
        h.update(f"A{obj.dtype}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _fingerprint(obj[key], h)
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for item in obj:
            _fingerprint(item, h)
        h.update(b"]")
    elif obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        h.update(f"P{obj!r}".encode())
    else:  # functions, modules, …: their repr may hold memory addresses
        h.update(f"O{type(obj).__qualname__}".encode())


def sha256(obj: object) -> str:
    h = hashlib.sha256()
    _fingerprint(obj, h)
    return h.hexdigest()


def loss_record(loss: RandomPathLoss) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "loss_config": repr(loss.config),
        "p": float(loss.p),
        "use_rho_log1p": bool(loss.use_rho_log1p),
        "log1p_eps": float(loss.log1p_eps),
        "n_paths": int(loss.n_paths),
        "n_theta": int(loss.n_theta),
    }


def _atomic_write(path: FilePath, write: Callable[[Any], None], binary: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_torch_save(obj: object, path: FilePath) -> None:
    _atomic_write(path, lambda f: torch.save(obj, f), binary=True)


def read_config(save_dir: FilePath) -> dict | None:
    path = save_dir / CONFIG_NAME
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the warmup configuration {str(path)!r}: {e}") from e
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a SCRAPL θ-IS warmup configuration (expected format "
            f"{FORMAT!r}); use another save_dir"
        )
    return config


def check_or_write_config(save_dir: FilePath, record: dict[str, Any]) -> None:
    config = read_config(save_dir)
    if config is None:
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
        _atomic_write(save_dir / CONFIG_NAME, lambda f: f.write(text), binary=False)
        # Re-read: another process may have written its own configuration at the same time.
        config = read_config(save_dir)
    compare_config(save_dir, config, record)


def compare_config(save_dir: FilePath, config: dict, record: dict[str, Any]) -> None:
    diffs = [
        f"{key}: saved {config.get(key)!r}, now {value!r}"
        for key, value in record.items()
        if config.get(key) != value
    ]
    if diffs:
        raise ValueError(
            f"warmup configuration mismatch in {str(save_dir)!r} ({'; '.join(diffs)}): the "
            "saved values were computed with another configuration. Use the same loss, data, "
            "parameters, n_iter and target_key, or another save_dir."
        )


def save_val(
    save_dir: FilePath,
    path_idx: int,
    theta_idx: int,
    value: float,
    batch_eigs: list[float],
    n_iter: int,
) -> None:
    """Write the value file of path ``path_idx`` and θ dim ``theta_idx`` (atomically)."""
    obj = {
        "path_idx": path_idx,
        "theta_idx": theta_idx,
        "value": value,
        "batch_eigs": batch_eigs,
        "n_iter": n_iter,
    }
    atomic_torch_save(obj, save_dir / vals_name(path_idx, theta_idx))


def load_val(path: FilePath, path_idx: int, theta_idx: int) -> float:
    obj = load_torch_file(path, f"the θ-IS warmup value of path {path_idx}, θ dim {theta_idx}")
    keys = ("path_idx", "theta_idx", "value")
    value = obj.get("value") if isinstance(obj, dict) else None
    if (
        not isinstance(obj, dict)
        or any(k not in obj for k in keys)
        or obj["path_idx"] != path_idx
        or obj["theta_idx"] != theta_idx
        or isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"{str(path)!r} is not a θ-IS warmup value of path {path_idx} and θ dim "
            f"{theta_idx} (expected a dict with path_idx={path_idx}, theta_idx={theta_idx} and "
            "a finite value >= 0); delete it to recompute it"
        )
    return float(value)


def list_missing(save_dir: FilePath, n_paths: int, n_theta: int) -> list[tuple[int, int]]:
    present = set()
    for name in os.listdir(save_dir):
        m = _VALS_RE.match(name)
        if m:
            present.add((int(m.group(1)), int(m.group(2))))
    return [(p, u) for p in range(n_paths) for u in range(n_theta) if (p, u) not in present]
