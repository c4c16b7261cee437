"""Callbacks for the tests that run scripts/train.py in subprocesses (this folder on the
path): a signal in the middle of a training step, and each rank's sampled paths."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning.pytorch as pl


class SignalAtStep(pl.Callback):
    """Send ``signum`` to this process during step ``step`` (1-based, before the optimizer
    step), as a scheduler would; with ``marker``, first install a handler for it that writes
    that file (what a launcher's own handler, e.g. submitit's requeue, would do)."""

    def __init__(self, step: int, signum: int, marker: str | None = None) -> None:
        self.step, self.signum, self.sent = step, signum, False
        if marker is not None:

            def previous(signum: int, frame: object) -> None:
                Path(marker).write_text(f"{signum}\n")

            signal.signal(signum, previous)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if not self.sent and trainer.global_step + 1 == self.step:
            self.sent = True
            os.kill(os.getpid(), self.signum)


class RecordPaths(pl.Callback):
    """Append each training step's SCRAPL path index to ``<folder>/paths_rank<r>.txt``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"paths_rank{trainer.global_rank}.txt", "a") as f:
            f.write(f"{trainer.global_step} {pl_module.loss.curr_path_idx}\n")
