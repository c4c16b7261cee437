"""The θ-IS warmup cache: folders keyed by the set-up, holding the warmup batches they used.

A warmup folder's name is ``f"{label}_{key}"``, ``key`` a SHA-256 digest of what determines
the warmup's result *before anything is rendered*: the loss (transform, distance, n_paths,
n_theta), n_iter, the batch size, the run seed (the reconstruction seeds derive from it),
every warmup example's inputs as the dataset holds them (θ or the recording, target seed,
training shift; in training order), the encoder's weights, their dtype and the encoder's
and synth's configurations (``repr``), and the pad. Never the rendered audio: its last bits
change with the device (CPU and CUDA kernels round differently), the thread count and, for
some kernels, from process to process, so a digest of it would send a GPU run, a run on
another machine or another DDP rank to another folder (and, under DDP, to another π).

The rendered batches are part of the folder instead (:data:`BATCHES_NAME`): the first
process to reach a new folder writes the batches it rendered (created once: a hard link of
a complete temporary file, which fails if another process got there first), and every
process, itself included, then computes on the batches read back from that file. All
values of one folder thus come from the same audio, bit for bit, and the library's own
record of the data (``config.json``) agrees for every process that shares the folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from scrapl.validation import load_torch_file
from scrapl.warmup.store import loss_record, sha256

__all__ = ["BATCHES_NAME", "KEY_CHARS", "read_or_write_batches", "warmup_key"]

BATCHES_NAME = "warmup_batches.pt"
KEY_CHARS = 16
_FORMAT = "scrapl-experiments-warmup-batches/1"


def warmup_key(
    loss: Any,
    encoder: nn.Module,
    synth: nn.Module,
    items: list[dict[str, Tensor]],
    params: list[Tensor],
    run_seed: int,
    batch_size: int,
    n_iter: int,
    pad: int | None,
) -> str:
    """The folder key (see the module docstring); ``items`` are the warmup examples' inputs
    (the dataset's items restricted to the keys the warmup reads), in training order."""
    record = {
        "loss": loss_record(loss),
        "n_iter": int(n_iter),
        "batch_size": int(batch_size),
        "run_seed": int(run_seed),
        "items": items,
        "params": [(tuple(p.shape), str(p.dtype)) for p in params] + list(params),
        "encoder": repr(encoder),
        "synth": repr(synth),
        "pad": pad,
    }
    return sha256(record)[:KEY_CHARS]


def _create_once(path: Path, obj: object) -> None:
    """Write ``obj`` to ``path`` unless it exists: a complete temporary file, hard-linked to
    ``path`` (atomic, and refused when another process created it first)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process's batches: every process reads that file
        except OSError:  # a file system without hard links: rename if still absent
            if not path.exists():
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def _to_cpu(batches: list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
    return [{k: v.detach().to("cpu") for k, v in batch.items()} for batch in batches]


def read_or_write_batches(
    save_dir: Path,
    theta_kwargs: list[dict[str, Tensor]],
    synth_kwargs: list[dict[str, Tensor]],
    device: torch.device | str | None,
) -> tuple[list[dict[str, Tensor]], list[dict[str, Tensor]]]:
    """The folder's warmup batches on ``device``: written from the given ones if the folder
    has none yet, then read back (see the module docstring)."""
    path = Path(save_dir) / BATCHES_NAME
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        obj = {
            "format": _FORMAT,
            "theta_kwargs": _to_cpu(theta_kwargs),
            "synth_kwargs": _to_cpu(synth_kwargs),
        }
        _create_once(path, obj)
    obj = load_torch_file(path, "θ-IS warmup batches")
    shapes = [{k: tuple(v.shape) for k, v in b.items()} for b in theta_kwargs]
    ok = (
        isinstance(obj, dict)
        and obj.get("format") == _FORMAT
        and isinstance(obj.get("theta_kwargs"), list)
        and isinstance(obj.get("synth_kwargs"), list)
        and [{k: tuple(v.shape) for k, v in b.items()} for b in obj["theta_kwargs"]] == shapes
        and len(obj["synth_kwargs"]) == len(synth_kwargs)
    )
    if not ok:
        raise ValueError(
            f"{str(path)!r} does not hold the warmup batches of this set-up ({_FORMAT!r}: "
            f"{len(theta_kwargs)} batches of shapes {shapes}); delete the folder to recompute it"
        )

    def moved(batches: list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
        return [{k: v.to(device) for k, v in b.items()} for b in batches]

    return moved(obj["theta_kwargs"]), moved(obj["synth_kwargs"])
