"""The checkpoint a run resumes from: checked before training, and recorded in the run.

``ckpt_path`` must be a Lightning checkpoint written by this project's training
(:class:`experiments.module.SoundMatching`: encoder weights, the global RNG states). Anything
else (a truncated or corrupt file, another program's pickle, another model's checkpoint) is
refused before anything is built, with the file and what was expected named, and without
unpickling Python objects (``weights_only``). The record returned is what the new run's
``config.yaml`` keeps as ``resumed_from``, so that a training curve split over several run
folders can be followed back. :func:`trim_metrics_after` cuts a ``metrics.csv`` back to a
checkpoint, for a run continued in its own folder (:mod:`experiments.run_dirs`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from experiments.audio_io import atomic_output
from experiments.checkpoint_policy import has_omitted_pathwise
from scrapl.validation import load_torch_file

__all__ = ["EXPECTED", "read_resume_checkpoint", "trim_metrics_after"]

EXPECTED = (
    "a Lightning checkpoint of this project (checkpoints/last.ckpt or "
    "checkpoints/best-epoch<NNN>.ckpt of a run folder)"
)
# Lightning's own keys, and the one this project's module adds (on_save_checkpoint).
LIGHTNING_KEYS = ("state_dict", "epoch", "global_step", "pytorch-lightning_version")
PROJECT_KEYS = ("rng_state",)


def read_resume_checkpoint(path: str | Path) -> dict[str, Any]:
    """Check that ``path`` is a checkpoint to resume from; return where it comes from.

    Returns ``{"checkpoint", "run_dir", "epoch", "global_step"}``: the absolute checkpoint
    path, the run folder holding it (None outside a run's ``checkpoints/``), and the
    epoch and global step it was written at. Raises ValueError naming ``ckpt_path``.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"ckpt_path must be None or a file path, got {type(path).__name__}")
    path = Path(path).expanduser().resolve()
    try:
        # mmap: only the small entries are read, not the weights and P-Adam/P-SAGA state.
        ckpt = load_torch_file(path, EXPECTED, mmap=True)
    except ValueError as e:
        raise ValueError(f"ckpt_path: {e}") from None
    if not isinstance(ckpt, dict):
        problem = f"it holds a {type(ckpt).__name__}, not a checkpoint dict"
    elif missing := [k for k in LIGHTNING_KEYS if k not in ckpt]:
        problem = f"it is not a Lightning checkpoint (no {', '.join(missing)})"
    elif missing := [k for k in PROJECT_KEYS if k not in ckpt]:
        problem = f"it is a Lightning checkpoint of another program (no {', '.join(missing)})"
    elif not isinstance(ckpt["state_dict"], dict) or not any(
        isinstance(k, str) and k.startswith("encoder.") for k in ckpt["state_dict"]
    ):
        problem = "it is a Lightning checkpoint of another model (no encoder.* weights)"
    elif has_omitted_pathwise(ckpt):
        problem = (
            "it holds no P-Adam/P-SAGA state (a best-k checkpoint, written for evaluation): "
            "resume from the run's checkpoints/last.ckpt"
        )
    else:
        problem = None
    if problem is not None:
        raise ValueError(f"ckpt_path: cannot read {EXPECTED} from {str(path)!r}: {problem}")
    return {
        "checkpoint": str(path),
        "run_dir": str(path.parent.parent) if path.parent.name == "checkpoints" else None,
        "epoch": int(ckpt["epoch"]),
        "global_step": int(ckpt["global_step"]),
    }


def trim_metrics_after(path: str | Path, global_step: int) -> int:
    """Drop the rows of a Lightning CSV ``metrics.csv`` that describe training past
    ``global_step`` optimizer steps (a run resumed from a checkpoint at that step trains,
    validates and tests them again).

    Lightning logs a training row at the index of its step (``global_step - 1`` after it),
    a validation inside fit at the index of the step before it (``global_step - 1``: it
    validates the weights after ``step + 1`` steps), a validation before any training row
    (``validate_before_fit``) at the number of steps taken, and test rows after fit. Kept:
    training rows with ``step < global_step``, validations inside fit with
    ``step < global_step``, validations before training with ``step <= global_step``; test
    rows never. Written atomically; returns the number of rows dropped (0 when the file is
    missing).
    """
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)

    def has(row: dict[str, str], prefix: str) -> bool:
        return any(row.get(k) for k in fields if k.startswith(prefix))

    kept, trained = [], False
    for row in rows:
        if not row.get("step"):
            kept.append(row)
            continue
        step = int(float(row["step"]))
        if has(row, "test/"):
            continue
        if has(row, "val/"):
            keep = step < global_step if trained else step <= global_step
        else:
            trained = True
            keep = step < global_step
        if keep:
            kept.append(row)
    if len(kept) != len(rows):
        with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)
    return len(rows) - len(kept)
