"""The checkpoint a run resumes from: checked before training, and recorded in the run.

``ckpt_path`` must be a Lightning checkpoint written by this project's training
(:class:`experiments.module.SoundMatching`: encoder weights, the global RNG states). Anything
else (a truncated or corrupt file, another program's pickle, another model's checkpoint) is
refused before anything is built, with the file and what was expected named, and without
unpickling Python objects (``weights_only``). The record returned is what the new run's
``config.yaml`` keeps as ``resumed_from``, so that a training curve split over several run
folders can be followed back.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from experiments.audio_io import atomic_output
from scrapl.validation import load_torch_file

__all__ = ["EXPECTED", "read_resume_checkpoint", "resume_in_place", "trim_metrics_after"]

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


def resume_in_place(run_dir: str | Path) -> dict[str, Any] | None:
    """The record of an in-place resume of ``run_dir`` (``auto_resume=true``), or None.

    A run that a scheduler restarts (a requeued SLURM job) keeps its folder; if that folder
    has ``checkpoints/last.ckpt``, the run continues from it (checked as by
    :func:`read_resume_checkpoint`), and the rows that the killed process logged after that
    checkpoint are removed from ``metrics.csv`` (they are trained again), so that the file
    reads as one uninterrupted history. Without a checkpoint the run starts from scratch and
    an older ``metrics.csv`` there is removed.
    """
    run_dir = Path(run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        # A start from scratch (first start, or killed before any checkpoint): older rows
        # are not part of this run's history.
        (run_dir / "metrics.csv").unlink(missing_ok=True)
        return None
    record = read_resume_checkpoint(last)
    trim_metrics_after(run_dir / "metrics.csv", record["global_step"])
    return record


def trim_metrics_after(path: str | Path, global_step: int) -> int:
    """Drop the rows of a Lightning CSV ``metrics.csv`` logged after ``global_step`` steps.

    Training rows carry the step they were logged at (``global_step - 1`` for the step that
    completed it); epoch rows (validation) the step count at the epoch's end. Kept: training
    rows with ``step < global_step`` and other rows with ``step <= global_step``. Written
    atomically; returns the number of rows dropped (0 when the file is missing).
    """
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)

    def keep(row: dict[str, str]) -> bool:
        if not row.get("step"):
            return True
        step = int(float(row["step"]))
        is_train = any(row.get(k) for k in fields if k.startswith("train/"))
        return step < global_step if is_train else step <= global_step

    kept = [r for r in rows if keep(r)]
    if len(kept) != len(rows):
        with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)
    return len(rows) - len(kept)
