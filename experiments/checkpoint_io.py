"""Checkpoint files written atomically: a kill during the write never leaves a torn file.

Lightning's default writer fills the destination file in place, so a job killed while
writing (a SLURM preemption, ``kill -TERM`` followed by ``kill -KILL``) can leave a truncated
``last.ckpt`` behind, and the run then has nothing to resume from. This plugin writes to a
temporary file in the same folder, syncs it and renames it over the destination
(:func:`experiments.audio_io.atomic_output`): readers see the old file or the new one.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from experiments.audio_io import atomic_output

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` whose ``save_checkpoint`` replaces the file atomically
    (``trainer.plugins: [{_target_: experiments.checkpoint_io.AtomicCheckpointIO}]``)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(
                f"{type(self).__name__}.save_checkpoint takes no storage_options, got "
                f"{type(storage_options).__name__}"
            )
        with atomic_output(path) as tmp:
            torch.save(checkpoint, tmp)
